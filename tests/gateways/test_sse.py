from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tui_chat.gateways.sse import SSEParser


def test_events_end_at_a_blank_line() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"a": 1}\n\ndata: {"b": 2}\n') == ['{"a": 1}']
    assert parser.feed(b"\n") == ['{"b": 2}']
    assert parser.finish() == []


def test_comments_and_other_fields_are_skipped() -> None:
    parser = SSEParser()
    events = parser.feed(b": OPENROUTER PROCESSING\n\nevent: x\nid: 3\ndata: hi\n\n")
    assert events == ["hi"]


def test_crlf_and_cr_line_endings_split_across_reads() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n\r") == []  # a lone CR may still be the start of CRLF
    assert parser.feed(b"\ndata: b\r\r") == ["a"]
    assert parser.finish() == ["b"]


def test_multibyte_character_split_across_reads() -> None:
    encoded = "data: José\n\n".encode()
    parser = SSEParser()
    assert parser.feed(encoded[:10]) == []
    assert parser.feed(encoded[10:]) == ["José"]


def test_open_event_at_end_of_stream_is_handed_back() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"half": ') == []
    assert parser.finish() == ['{"half": ']


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert SSEParser().feed(b"data: a\ndata: b\n\n") == ["a\nb"]


@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20),
        max_size=8,
    ),
    st.data(),
)
def test_any_split_of_the_bytes_gives_the_same_events(
    payloads: list[str], data: st.DataObject
) -> None:
    stream = "".join(f"data: {p}\n\n" for p in payloads).encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    parser = SSEParser()
    events: list[str] = []
    last = 0
    for cut in [*cuts, len(stream)]:
        events += parser.feed(stream[last:cut])
        last = cut
    events += parser.finish()
    assert events == payloads
