"""Full-text search: what a user types finds messages, ranked, and never breaks the query."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.store.conftest import reply, user
from tui_chat.store import MATCH_END, MATCH_START, SearchHit, Store
from tui_chat.store.search import build_match_query, excerpt


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store for the property tests (hypothesis runs many examples per test)."""
    opened = Store.open(tmp_path_factory.mktemp("search") / "conversations.db")
    record = opened.create_conversation("corpus")
    for text in ('say "hi" AND NEAR(x) OR col:y*', "plain words here", "ümlaut café naïve"):
        opened.append_message(record.id, user(text))
    yield opened
    opened.close()


def test_hits_name_the_conversation_and_message_with_marked_snippet(store: Store) -> None:
    trip = store.create_conversation("Trip")
    store.append_message(trip.id, user("what should I pack for Iceland in winter?"))
    message_id = store.append_message(trip.id, reply("Pack wool layers for Iceland."))
    store.append_message(store.create_conversation("Other").id, user("nothing relevant"))

    hits = store.search("wool")

    assert len(hits) == 1
    hit = hits[0]
    assert (hit.conversation_id, hit.message_id, hit.conversation_title) == (
        trip.id,
        message_id,
        "Trip",
    )
    assert hit.role == "assistant"
    assert hit.snippet == f"Pack {MATCH_START}wool{MATCH_END} layers for Iceland."
    assert hit.snippet_parts() == [
        ("Pack ", False),
        ("wool", True),
        (" layers for Iceland.", False),
    ]


def test_better_matches_rank_first(store: Store) -> None:
    record = store.create_conversation()
    once = store.append_message(record.id, user("a long message that mentions rust once " * 5))
    often = store.append_message(record.id, user("rust rust rust"))
    assert [hit.message_id for hit in store.search("rust")] == [often, once]
    assert [hit.rank for hit in store.search("rust")] == sorted(
        hit.rank for hit in store.search("rust")
    )


def test_every_word_must_match_and_the_last_is_a_prefix(store: Store) -> None:
    record = store.create_conversation()
    both = store.append_message(record.id, user("python packaging guide"))
    store.append_message(record.id, user("python only"))
    assert [hit.message_id for hit in store.search("python pack")] == [both]
    assert store.search("pack python") == []  # only the last word is a prefix


def test_search_ignores_case_and_accents(store: Store) -> None:
    record = store.create_conversation()
    message_id = store.append_message(record.id, user("Crème Brûlée recipe"))
    assert [hit.message_id for hit in store.search("creme brulee")] == [message_id]


def test_edited_reply_is_found_by_its_new_text_only(store: Store) -> None:
    record = store.create_conversation()
    streaming = reply("first draft", outcome=None)
    message_id = store.append_message(record.id, streaming)
    streaming.content = "final answer"
    store.update_message(message_id, streaming)
    assert store.search("draft") == []
    assert [hit.message_id for hit in store.search("final")] == [message_id]


def test_limit_caps_the_hits(store: Store) -> None:
    record = store.create_conversation()
    for number in range(10):
        store.append_message(record.id, user(f"note {number}"))
    assert len(store.search("note", limit=3)) == 3
    assert store.search("note", limit=0) == []


@pytest.mark.parametrize("text", ["", "   ", "\x00", "\n\t"])
def test_empty_search_finds_nothing(store: Store, text: str) -> None:
    assert store.search(text) == []


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '"hi"',
        "AND",
        "OR NOT",
        "NEAR(x",
        "col:y",
        "*",
        "a*b",
        "(",
        ")",
        "^start",
        "-",
        "+",
        "'",
    ],
)
def test_query_syntax_typed_by_a_user_is_searched_as_text(shared_store: Store, text: str) -> None:
    shared_store.search(text)  # no FTS5 syntax error


def test_quoted_words_find_the_literal_text(shared_store: Store) -> None:
    assert len(shared_store.search('"hi" AND')) == 1
    assert shared_store.search("NEAR") != []


def test_query_builder_quotes_every_word() -> None:
    assert build_match_query('say "hi" now') == '"say" """hi""" "now"*'
    assert build_match_query(" \x00 ") is None


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_searches_without_error(shared_store: Store, text: str) -> None:
    hits = shared_store.search(text)
    assert all(isinstance(hit, SearchHit) for hit in hits)


def test_search_after_reopen_uses_the_stored_index(db_path: Path) -> None:
    with Store.open(db_path) as first:
        record = first.create_conversation()
        first.append_message(record.id, user("persistent index"))
    with Store.open(db_path) as second:
        assert len(second.search("persistent")) == 1


@pytest.mark.serial  # a wall-clock limit
def test_word_throughout_a_huge_message_is_found_fast(store: Store) -> None:
    # Regression: FTS5's snippet() is quadratic in message length; a word repeated through a
    # 1 MB message took 4.9 s to show. Long messages now get a plain excerpt (milliseconds).
    record = store.create_conversation()
    huge = ("lorem ipsum dolor sit amet " * 40_000)[:1_000_000]
    message_id = store.append_message(record.id, user(huge))
    started = time.perf_counter()
    hits = store.search("lorem ipsum")
    elapsed = time.perf_counter() - started
    assert [hit.message_id for hit in hits] == [message_id]
    assert hits[0].snippet.startswith(f"{MATCH_START}lorem{MATCH_END} ipsum dolor")
    assert hits[0].snippet.endswith("…")
    assert elapsed < 1.0


def test_long_message_excerpt_marks_the_first_match_in_context(store: Store) -> None:
    record = store.create_conversation()
    long_text = "filler " * 5000 + "the Packaging guide is here " + "filler " * 5000
    store.append_message(record.id, user(long_text))
    (hit,) = store.search("guide pack")
    assert hit.snippet.startswith("…filler ")
    assert f"the {MATCH_START}Packaging{MATCH_END} guide is here filler" in hit.snippet
    assert hit.snippet.endswith("filler…")
    assert [text for text, matched in hit.snippet_parts() if matched] == ["Packaging"]


def test_long_message_found_through_an_accent_shows_its_opening() -> None:
    text = "Crème " + "x " * 20_000
    snippet = excerpt(text, "creme")
    assert snippet.startswith("Crème x x") and snippet.endswith("…")
    assert MATCH_START not in snippet


@settings(max_examples=200, deadline=None)
@given(content=st.text(), text=st.text())
def test_excerpt_of_any_text_is_a_marked_piece_of_it(content: str, text: str) -> None:
    assume(MATCH_START not in content and MATCH_END not in content)
    snippet = excerpt(content, text)
    assert snippet.count(MATCH_START) == snippet.count(MATCH_END) <= 1
    unmarked = snippet.replace(MATCH_START, "").replace(MATCH_END, "")
    assert unmarked.removeprefix("…").removesuffix("…") in content
