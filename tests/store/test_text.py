"""Text is stored exactly as given: controls, RTL, emoji, NUL, huge messages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.store.conftest import reply, user
from tui_chat.core.conversation import Message
from tui_chat.store import Store

AWKWARD_TEXTS = [
    "\x1b]52;c;aGVsbG8=\x07 clipboard escape",
    "carriage\rreturn and \x00 NUL and \x7f DEL and \x9b CSI",
    "مرحبا بالعالم \u202eRTL override\u202c שלום",
    "emoji 👩‍👩‍👧‍👦 🇮🇸 \U0001f600 and combining e\u0301",
    "zero\u200bwidth and BOM \ufeff",
    "",
    "line\nbreaks\r\nkept\n\n",
]


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = Store.open(tmp_path_factory.mktemp("text") / "conversations.db")
    yield opened
    opened.close()


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
def test_awkward_text_round_trips_unchanged(store: Store, text: str) -> None:
    record = store.create_conversation(text, system_prompt=text, model=text)
    sent = reply(text, requested=text, served=text)
    sent.error = text
    store.append_message(record.id, sent)
    saved = store.load(record.id)
    assert saved.conversation.messages == [sent]
    assert saved.conversation.system_prompt == text
    assert (saved.record.title, saved.record.model) == (text, text)


def test_one_megabyte_message_round_trips_and_is_searchable(store: Store) -> None:
    big = ("lorem ipsum dolor sit amet " * 40_000)[:1_000_000] + " needle"
    record = store.create_conversation()
    store.append_message(record.id, user(big))
    assert store.load_conversation(record.id).messages[0].content == big
    assert len(store.search("needle")) == 1


def test_lone_surrogates_are_replaced_instead_of_failing_the_write(store: Store) -> None:
    # json.loads('"\\ud800"') yields a lone surrogate, which UTF-8 cannot encode.
    record = store.create_conversation("title \ud800")
    message_id = store.append_message(record.id, user("broken \udc00 pair"))
    store.update_message(message_id, user("still \ud800 broken"))
    assert store.load_conversation(record.id).messages[0].content == "still \ufffd broken"
    assert store.conversation(record.id).title == "title \ufffd"


@settings(max_examples=150, deadline=None)
@given(content=st.text(), title=st.text(max_size=50))
def test_any_text_round_trips(shared_store: Store, content: str, title: str) -> None:
    record = shared_store.create_conversation(title)
    message = Message(role="user", content=content, created_at=1.5)
    message_id = shared_store.append_message(record.id, message)
    saved = shared_store.load(record.id)
    assert saved.conversation.messages == [message]
    assert saved.record.title == title
    updated = Message(role="user", content=content[::-1], created_at=1.5)
    shared_store.update_message(message_id, updated)
    assert shared_store.load_conversation(record.id).messages == [updated]
