"""The recorder saves a live conversation in order, off the caller's thread."""

from __future__ import annotations

from pathlib import Path

from tui_chat.core.conversation import Conversation, Outcome
from tui_chat.store import Store
from tui_chat.store.recorder import ConversationRecorder, title_from_prompt


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_messages_are_saved_in_order_with_a_title(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.db")
    recorder = ConversationRecorder(store)
    conversation = Conversation()
    recorder.message_added(conversation.add_user("What is the capital of Spain?\nThanks"))
    reply = conversation.start_reply("gpt-4o-mini@openai")
    recorder.message_added(reply, model="gpt-4o-mini@openai")
    reply.content = "Madrid."
    reply.outcome = Outcome.COMPLETE
    recorder.message_changed(reply, final=True)
    assert recorder.flush()
    saved = store.load(store.last_opened_conversation().id)  # type: ignore[union-attr]
    assert saved.record.title == "What is the capital of Spain?"
    assert [(m.role, m.content) for m in saved.conversation.messages] == [
        ("user", "What is the capital of Spain?\nThanks"),
        ("assistant", "Madrid."),
    ]
    assert saved.conversation.messages[1].outcome is Outcome.COMPLETE


def test_streaming_reply_is_flushed_at_most_once_per_interval(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.db")
    clock = ManualClock()
    recorder = ConversationRecorder(store, flush_interval_s=1.0, clock=clock)
    conversation = Conversation()
    recorder.message_added(conversation.add_user("hi"))
    reply = conversation.start_reply("m@p")
    recorder.message_added(reply)
    reply.content = "Hel"
    clock.now = 0.5
    recorder.message_changed(reply)  # within the interval: not written
    assert recorder.flush()
    conversation_id = recorder.conversation_id
    assert conversation_id is not None
    assert store.load_conversation(conversation_id).messages[1].content == ""
    reply.content = "Hello"
    clock.now = 1.2
    recorder.message_changed(reply)  # past the interval: written
    assert recorder.flush()
    assert store.load_conversation(conversation_id).messages[1].content == "Hello"


def test_removed_message_is_deleted_from_the_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.db")
    recorder = ConversationRecorder(store)
    conversation = Conversation()
    recorder.message_added(conversation.add_user("hi"))
    failed = conversation.start_reply("m@p")
    recorder.message_added(failed)
    recorder.message_removed(failed)
    assert recorder.flush()
    assert recorder.conversation_id is not None
    roles = [m.role for m in store.load_conversation(recorder.conversation_id).messages]
    assert roles == ["user"]


def test_store_failure_is_reported_not_raised(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.db")
    problems: list[str] = []
    recorder = ConversationRecorder(store, on_error=problems.append)
    recorder.attach(99999, [], ())  # a conversation that does not exist
    conversation = Conversation()
    recorder.message_added(conversation.add_user("hi"))
    assert recorder.flush()
    assert problems and "99999" in problems[0]
    recorder.close()


def test_title_from_prompt() -> None:
    assert title_from_prompt("  hello   world \nmore") == "hello world"
    assert title_from_prompt("") == "New conversation"
    long = title_from_prompt("x" * 200)
    assert len(long) == 60 and long.endswith("…")


def test_settings_given_before_the_first_message_are_saved_with_the_conversation(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "c.db")
    recorder = ConversationRecorder(store)
    recorder.settings_changed(system_prompt="Be brief.", temperature=0.2, archived=False)
    recorder.settings_changed(model="old@p")
    conversation = Conversation()
    recorder.message_added(conversation.add_user("hello"), model="new@p")
    assert recorder.flush()
    assert recorder.conversation_id is not None
    record = store.conversation(recorder.conversation_id)
    assert (record.system_prompt, record.temperature, record.model) == ("Be brief.", 0.2, "new@p")
    recorder.detach()
    recorder.settings_changed(max_tokens=5)
    recorder.message_added(conversation.add_user("second conversation"))
    assert recorder.flush()
    second = store.conversation(recorder.conversation_id)
    assert (second.system_prompt, second.max_tokens) == (None, 5)
    recorder.close()
