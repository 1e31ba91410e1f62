"""Property-based tests for stream handling: random chunk splits and shapes, only typed results.

The bytes of an event stream are cut at random places and fed through the SSE parser and the
Unify reply reader exactly as ``UnifyGateway.stream_chat`` does; chunk objects of random shape
(missing fields, wrong types, nulls, empty ``choices``, ``tool_calls``, error objects, huge
strings) are mixed in. Every run must end in typed events or one ``GatewayError``, never another
exception, and how the bytes were split must not change the outcome.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_chat.core.events import Done, StreamError, StreamEvent, TextDelta
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import GatewayError, detail_from_body, from_error_object
from tui_chat.gateways.sse import SSEParser
from tui_chat.gateways.streaming import _ReplyReader, parse_usage
from tui_chat.gateways.unify import UnifyGateway

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
TEXT = st.text(max_size=30) | st.sampled_from(
    ["[bold red]x[/]", "\x1b]52;c;aGk=\x07", "🙂宽\u202e"]
)
DELTA = st.fixed_dictionaries(
    {},
    optional={
        "content": st.one_of(st.none(), TEXT, JSON),
        "role": st.sampled_from(["assistant", None, 3]),
        "tool_calls": st.one_of(
            st.none(),
            st.just(
                [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    }
                ]
            ),
            JSON,
        ),
    },
)
CHOICE = st.fixed_dictionaries(
    {},
    optional={
        "index": st.one_of(st.just(0), JSON),
        "delta": st.one_of(DELTA, JSON),
        "finish_reason": st.one_of(st.none(), st.sampled_from(["stop", "length"]), JSON),
    },
)
CHUNK = st.fixed_dictionaries(
    {},
    optional={
        "model": st.one_of(st.just("llama-3.1-8b-chat@groq"), TEXT, JSON),
        "provider": st.one_of(TEXT, JSON),
        "choices": st.one_of(st.lists(CHOICE, max_size=3), st.just([]), JSON),
        "usage": st.one_of(
            st.just({}),
            st.fixed_dictionaries(
                {},
                optional={"prompt_tokens": JSON, "completion_tokens": JSON, "cost": JSON},
            ),
            JSON,
        ),
        "error": st.one_of(st.none(), st.just({"message": "provider died", "code": 502}), JSON),
    },
)
EVENT_DATA = st.one_of(
    CHUNK.map(json.dumps),
    JSON.map(lambda value: json.dumps(value)),
    st.just("[DONE]"),
    st.text(max_size=40),  # not JSON at all
    st.just('{"choices": [{"delta": {"content": "cut'),
)
LINE_END = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def stream_bytes(draw: st.DrawFn) -> bytes:
    parts: list[str] = []
    for data in draw(st.lists(EVENT_DATA, max_size=8)):
        end = draw(LINE_END)
        if draw(st.booleans()):
            parts.append(f": keep-alive{end}")
        parts.append(f"data: {data}{end}{end}")
    body = "".join(parts).encode()
    if draw(st.booleans()) and body:
        body = body[: draw(st.integers(0, len(body)))]  # cut anywhere, even inside a character
    return body


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(body[start:point])
        start = point
    pieces.append(body[start:])
    return pieces


class FakeResponse:
    """Just what _ReplyReader.read uses of an httpx response."""

    def __init__(self, pieces: list[bytes], content_type: str = "text/event-stream") -> None:
        self.headers = {"content-type": content_type}
        self._pieces = pieces

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece

    async def aread(self) -> bytes:
        return b"".join(self._pieces)


GATEWAY = UnifyGateway(GatewaySettings(base_url="http://127.0.0.1:9/v0", api_key="k"))


def outcome(pieces: list[bytes], content_type: str = "text/event-stream") -> list[StreamEvent]:
    """Read a response as stream_chat does, mapping a failure to a StreamError the same way."""
    reader = _ReplyReader(0.0, lambda: 0.0)

    async def run() -> list[StreamEvent]:
        events: list[StreamEvent] = []
        try:
            async for event in reader.read(FakeResponse(pieces, content_type)):  # type: ignore[arg-type]
                events.append(event)
        except Exception as exc:  # what stream_chat catches; it must map to a typed error
            error = GATEWAY._error_mid_reply(exc, reader)
            assert "unexpected error" not in error.detail, repr(exc)
            events.append(StreamError(error))
        return events

    return asyncio.run(run())


def check_well_formed(events: list[StreamEvent]) -> None:
    assert events, "a stream always ends in Done or StreamError"
    assert isinstance(events[-1], Done | StreamError)
    assert not any(isinstance(e, Done | StreamError) for e in events[:-1])
    for event in events:
        if isinstance(event, TextDelta):
            assert isinstance(event.text, str) and event.text
        if isinstance(event, StreamError):
            assert isinstance(event.error, GatewayError)
            assert str(event.error)


@FAST
@given(stream_bytes(), st.lists(st.integers(min_value=0), max_size=12))
def test_random_streams_and_splits_end_in_typed_events(body: bytes, cuts: list[int]) -> None:
    whole = outcome([body])
    check_well_formed(whole)
    pieces = outcome(split(body, cuts))
    check_well_formed(pieces)
    # Where the network cut the bytes changes nothing.
    assert [type(e) for e in pieces] == [type(e) for e in whole]
    assert "".join(e.text for e in pieces if isinstance(e, TextDelta)) == "".join(
        e.text for e in whole if isinstance(e, TextDelta)
    )
    if isinstance(whole[-1], StreamError):
        assert isinstance(pieces[-1], StreamError)
        assert type(pieces[-1].error) is type(whole[-1].error)


@FAST
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=6))
def test_arbitrary_bytes_end_in_typed_events(body: bytes, cuts: list[int]) -> None:
    check_well_formed(outcome(split(body, cuts)))


@FAST
@given(st.binary(max_size=300), st.sampled_from(["application/json", "text/html", "text/plain"]))
def test_whole_bodies_of_any_type_end_in_typed_events(body: bytes, content_type: str) -> None:
    check_well_formed(outcome([body], content_type))


@FAST
@given(CHUNK)
def test_any_chunk_shape_gives_events_or_a_gateway_error(chunk: dict[str, Any]) -> None:
    reader = _ReplyReader(0.0, lambda: 0.0)
    try:
        events = reader.feed(chunk)
    except GatewayError:
        return
    assert all(isinstance(e, StreamEvent) for e in events)  # type: ignore[arg-type]


@FAST
@given(st.lists(st.binary(max_size=40), max_size=10))
def test_sse_parser_never_raises(pieces: list[bytes]) -> None:
    parser = SSEParser()
    for piece in pieces:
        assert all(isinstance(d, str) for d in parser.feed(piece))
    assert all(isinstance(d, str) for d in parser.finish())


@FAST
@given(JSON, st.text(max_size=200))
def test_error_bodies_of_any_shape_give_a_short_sentence(value: Any, text: str) -> None:
    for body in (json.dumps(value), text):
        detail = detail_from_body(body)
        assert isinstance(detail, str) and len(detail) <= 300 and "\n" not in detail
    error = from_error_object(value)
    assert isinstance(error, GatewayError) and str(error)
    assert parse_usage(value) is None or parse_usage(value) is not None


def test_the_harness_reads_a_plain_stream() -> None:
    body = (
        b'data: {"model": "m@p", "choices": '
        b'[{"delta": {"content": "hi"}, "finish_reason": "stop"}]}\r\n\r\n'
    )
    events = outcome(split(body, [7, 30, 31]))
    assert [type(e).__name__ for e in events] == ["ServedEndpoint", "TextDelta", "Done"]
    assert isinstance(outcome([body[:-10]])[-1], StreamError)
