"""Alternates and branches in the store: the migration, saving through the recorder (and its
journal), reopening the same branch, search hits on another branch, exports."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.store.conftest import reply, user
from tests.store.faults import held_lock, wait_for
from tui_chat.core.conversation import Conversation, Message, Outcome
from tui_chat.store import Store
from tui_chat.store.export import to_json, to_markdown
from tui_chat.store.journal import JOURNAL_SUFFIX, read_journal
from tui_chat.store.recorder import ConversationRecorder
from tui_chat.store.schema import migrate

FAST = {"retry_first_s": 0.05, "retry_most_s": 0.2}


def _answered(conversation: Conversation, reply_message: Message, text: str) -> Message:
    reply_message.content = text
    reply_message.served_endpoint = reply_message.requested_endpoint
    reply_message.cost = 0.01
    reply_message.outcome = Outcome.COMPLETE
    return reply_message


class _Saving:
    """What the app's saving side does: each new message with its parent and rank."""

    def __init__(self, recorder: ConversationRecorder, conversation: Conversation) -> None:
        self.recorder, self.conversation = recorder, conversation

    def added(self, message: Message) -> Message:
        self.recorder.message_added(
            message,
            parent=self.conversation.parent_of(message),
            shown_rank=self.conversation.shown_rank(message),
        )
        return message

    def turn(self, question: str, answer: str, endpoint: str = "m@p") -> Message:
        self.added(self.conversation.add_user(question))
        answered = _answered(self.conversation, self.conversation.start_reply(endpoint), answer)
        return self.added(answered)

    def shown(self) -> None:
        branch = self.conversation.messages
        self.recorder.branch_shown([(m, self.conversation.shown_rank(m)) for m in branch])


def _branching(saving: _Saving) -> dict[str, Message]:
    """hi → (hello | hey on other@q) ; then an edited second question, and back."""
    conversation = saving.conversation
    hello = saving.turn("hi", "hello")
    hey = conversation.start_alternate(hello, "other@q")
    saving.added(_answered(conversation, hey, "hey"))
    later = saving.turn("tell me about walruses", "they nap")
    edited = Message(role="user", content="tell me about otters")
    conversation.add_alternate(later_question := conversation.messages[2], edited)
    saving.added(edited)
    saving.added(_answered(conversation, conversation.start_reply("m@p"), "they float"))
    conversation.show_alternate(later_question)
    saving.shown()
    return {"hello": hello, "hey": hey, "later": later, "edited": edited}


def test_a_version_6_database_migrates_to_one_line_and_takes_alternates(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    assert migrate(conn, target=6) == 6
    conn.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (5, 't', 1, 2)"
    )
    for message_id, position, role, content in (
        (10, 0, "user", "first question"),
        (11, 1, "assistant", "first answer"),
        (13, 3, "user", "second question"),  # a gap: a failed reply was retried
        (14, 4, "assistant", "second answer"),
    ):
        conn.execute(
            "INSERT INTO messages (id, conversation_id, position, role, content, created_at,"
            " outcome) VALUES (?, 5, ?, ?, ?, 1.0, ?)",
            (message_id, position, role, content, "complete" if role == "assistant" else None),
        )
    conn.close()

    with Store.open(db_path) as store:
        parents = dict(
            store._conn.execute("SELECT id, parent_id FROM messages ORDER BY id").fetchall()
        )
        assert parents == {10: None, 11: 10, 13: 11, 14: 13}
        loaded = store.load(5)
        conversation = loaded.conversation
        assert [m.content for m in conversation.messages] == [
            "first question",
            "first answer",
            "second question",
            "second answer",
        ]
        assert loaded.message_ids == (10, 11, 13, 14)
        assert not conversation.has_alternates
        # An alternate of the last reply, saved with its parent, comes back as one.
        again = reply("second answer, again")
        conversation.add_alternate(conversation.messages[-1], again)
        store.append_message(5, again, parent_id=13, shown_rank=conversation.shown_rank(again))
        reloaded = store.load(5).conversation
        assert reloaded.messages[-1].content == "second answer, again"
        assert [m.content for m in reloaded.alternates(reloaded.messages[-1])] == [
            "second answer",
            "second answer, again",
        ]
        assert store.integrity_check() == []


def test_append_without_a_parent_follows_the_last_message(store: Store) -> None:
    record = store.create_conversation()
    store.append_message(record.id, user("a"))
    store.append_message(record.id, reply("b"))
    assert [m.content for m in store.load(record.id).conversation.messages] == ["a", "b"]


def test_alternates_and_branch_switches_reopen_as_they_were(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.db")
    recorder = ConversationRecorder(store, journal=False)
    conversation = Conversation()
    saving = _Saving(recorder, conversation)
    made = _branching(saving)
    assert recorder.flush()
    assert recorder.conversation_id is not None
    loaded = store.load(recorder.conversation_id)
    again = loaded.conversation
    assert [m.content for m in again.messages] == [m.content for m in conversation.messages]
    assert [m.content for m in again.messages] == [
        "hi",
        "hey",
        "tell me about walruses",
        "they nap",
    ]
    assert [m.served_endpoint for m in again.alternates(again.messages[1])] == ["m@p", "other@q"]
    assert len(loaded.tree) == 7
    assert again.spend.amount == pytest.approx(0.04)  # every reply of every branch
    # Flipping the reopened one goes where the live one goes.
    again.show_alternate(again.alternates(again.messages[2])[1])
    conversation.show_alternate(made["edited"])
    assert [m.content for m in again.messages] == [m.content for m in conversation.messages]
    # A switch saved after reopening (attached by every message) lands too.
    recorder.attach(
        recorder.conversation_id,
        [m for m, _ in loaded.every_message()],
        tuple(i for _, i in loaded.every_message()),
    )
    recorder.branch_shown([(m, again.shown_rank(m)) for m in again.messages])
    assert recorder.flush()
    third = store.load(recorder.conversation_id).conversation
    assert [m.content for m in third.messages] == [
        "hi",
        "hey",
        "tell me about otters",
        "they float",
    ]
    recorder.close()
    store.close()


def test_alternates_wait_in_the_journal_and_land_in_order(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = Store.open(path, busy_timeout_s=0.2)
    recorder = ConversationRecorder(store, **FAST)
    conversation = Conversation()
    saving = _Saving(recorder, conversation)
    saving.turn("hi", "hello")
    assert recorder.flush()
    conversation_id = recorder.conversation_id
    with held_lock(path):
        hey = conversation.start_alternate(conversation.messages[-1], "other@q")
        saving.added(_answered(conversation, hey, "hey"))
        conversation.show_alternate(conversation.alternates(hey)[0])
        saving.shown()
        wait_for(lambda: recorder.waiting_reason is not None)
        recorder.close()  # quit while locked: kept for the next start
        store.close()
    journal = path.with_name(path.name + JOURNAL_SUFFIX)
    found = read_journal(journal)
    assert found is not None and found[1] == 0
    kinds = [type(op).__name__ for op in found[0]]
    assert "Shown" in kinds and "Append" in kinds

    store = Store.open(path, busy_timeout_s=0.2)
    recorder = ConversationRecorder(store, **FAST)
    assert recorder.flush(timeout=20)
    loaded = store.load(conversation_id)  # type: ignore[arg-type]
    branch = loaded.conversation.messages
    assert [m.content for m in branch] == ["hi", "hello"]  # the switch back landed too
    assert [m.content for m in loaded.conversation.alternates(branch[1])] == ["hello", "hey"]
    assert not journal.exists()
    recorder.close()
    store.close()


def test_a_search_hit_on_another_branch_names_a_message_that_opens_it(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.db")
    recorder = ConversationRecorder(store, journal=False)
    saving = _Saving(recorder, Conversation())
    _branching(saving)
    assert recorder.flush()
    (hit,) = store.search("otters")
    loaded = store.load(hit.conversation_id)
    found = loaded.message_with_id(hit.message_id)
    assert found is not None and found.content == "tell me about otters"
    assert found not in loaded.conversation.messages
    loaded.conversation.show_alternate(found)
    assert loaded.conversation.messages[-1].content == "they float"
    recorder.close()
    store.close()


def test_export_is_the_branch_on_screen_or_every_alternate_with_provenance() -> None:
    conversation = Conversation()
    hello = _answered(conversation, conversation.start_reply("m@p"), "hello")
    conversation.messages.insert(0, Message(role="user", content="hi"))
    hey = _answered(conversation, conversation.start_alternate(hello, "other@q"), "hey")
    assert hey is conversation.messages[-1]

    plain = to_markdown(conversation, "t", exported_at=0)
    assert "hey" in plain and "hello" not in plain
    every = to_markdown(conversation, "t", exported_at=0, alternates=True)
    assert "hello" in every and "hey" in every
    assert "alternate 1/2 at message 2 (not on screen)" in every
    assert "alternate 2/2 at message 2 (on screen)" in every
    assert "`other@q`" in every and "`m@p`" in every

    document = json.loads(to_json(conversation, "t", exported_at=0))
    assert [m["content"] for m in document["messages"]] == ["hi", "hey"]
    assert "tree" not in document
    document = json.loads(to_json(conversation, "t", exported_at=0, alternates=True))
    tree = document["tree"]
    assert [(m["content"], m["parent"], m["alternate"], m["on_screen"]) for m in tree] == [
        ("hi", None, 1, True),
        ("hello", 0, 1, False),
        ("hey", 0, 2, True),
    ]
    assert tree[1]["served_endpoint"] == "m@p" and tree[2]["served_endpoint"] == "other@q"
    assert document["total_cost"] == pytest.approx(0.02)  # both replies were paid for


def test_alternates_kept_for_a_database_that_never_opened_come_back(tmp_path: Path) -> None:
    from tui_chat.store.journal import keep_unsaved

    path = tmp_path / "c.db"
    conversation = Conversation()
    conversation.add_user("hi")
    hello = _answered(conversation, conversation.start_reply("m@p"), "hello")
    _answered(conversation, conversation.start_alternate(hello, "other@q"), "hey")
    conversation.show_alternate(hello)
    every = conversation.all_messages()
    index = {id(m): n for n, m in enumerate(every)}
    tree: list[tuple[int | None, int]] = []
    for message in every:
        parent = conversation.parent_of(message)
        tree.append(
            (None if parent is None else index[id(parent)], conversation.shown_rank(message))
        )
    keep_unsaved(path, every, "m@p", tree)

    store = Store.open(path)
    recorder = ConversationRecorder(store, **FAST)
    assert recorder.flush(timeout=20)
    (summary,) = store.list_conversations()
    loaded = store.load(summary.id).conversation
    assert [m.content for m in loaded.messages] == ["hi", "hello"]
    assert [m.content for m in loaded.alternates(loaded.messages[1])] == ["hello", "hey"]
    recorder.close()
    store.close()
