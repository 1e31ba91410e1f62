"""Conversations and messages: create, list, load, change, delete, reopen."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.store.conftest import FakeClock, reply, user
from tui_chat.core.conversation import Message, Outcome
from tui_chat.store import RecordNotFound, Store, StoreUnavailable, default_database_path


def test_default_path_is_in_the_users_data_directory(tmp_path: Path) -> None:
    path = default_database_path()
    assert path.name == "conversations.db"
    assert "unify-tui" in path.parts
    # conftest points XDG_DATA_HOME at a temporary home, so opening it touches nothing real.
    with Store.open() as opened:
        assert opened.path == path
    assert path.exists()


def test_new_conversation_has_the_given_settings(store: Store) -> None:
    record = store.create_conversation(
        "Trip plans",
        model="gpt-4o@openai",
        system_prompt="Be brief.",
        temperature=0.3,
        max_tokens=500,
        spend_cap=2.5,
    )
    assert record.title == "Trip plans"
    assert (record.model, record.system_prompt) == ("gpt-4o@openai", "Be brief.")
    assert (record.temperature, record.max_tokens, record.spend_cap) == (0.3, 500, 2.5)
    assert record.archived is False
    assert record.created_at == record.updated_at
    assert store.conversation(record.id) == record


def test_messages_load_back_in_order_with_their_provenance(store: Store) -> None:
    record = store.create_conversation(system_prompt="You are terse.")
    sent = [
        user("hello"),
        reply("hi", requested="router@cost", served="llama-3-8b@together", cost=0.0001),
        user("and again"),
        reply("partial", outcome=Outcome.STOPPED),
        user("boom"),
        Message(
            role="assistant",
            content="",
            created_at=5.0,
            requested_endpoint="gpt-4o@openai",
            outcome=Outcome.ERROR,
            error="The gateway refused the request (429): slow down.",
        ),
    ]
    sent[1].cost_estimated = True
    for message in sent:
        store.append_message(record.id, message)

    conversation = store.load_conversation(record.id)

    assert conversation.messages == sent
    assert conversation.system_prompt == "You are terse."
    assert conversation.total_cost == pytest.approx(0.0001 + 0.0012)


def test_load_gives_message_ids_that_update_the_right_message(store: Store) -> None:
    record = store.create_conversation()
    store.append_message(record.id, user("one"))
    second = store.append_message(record.id, reply("two"))
    saved = store.load(record.id)
    assert saved.message_ids[1] == second
    assert saved.record == store.conversation(record.id)

    edited = saved.conversation.messages[1]
    edited.content = "two, edited"
    store.update_message(saved.message_ids[1], edited)
    assert store.load_conversation(record.id).messages[1].content == "two, edited"


def test_streaming_reply_is_saved_by_updates_and_reloads_complete(store: Store) -> None:
    record = store.create_conversation()
    store.append_message(record.id, user("count to three"))
    streaming = Message(role="assistant", content="", requested_endpoint="gpt-4o@openai")
    message_id = store.append_message(record.id, streaming)
    for text in ("one", "one two", "one two three"):
        streaming.content = text
        store.update_message(message_id, streaming)
    streaming.served_endpoint = "gpt-4o@azure"
    streaming.prompt_tokens, streaming.completion_tokens, streaming.cost = 10, 3, 0.004
    streaming.outcome = Outcome.COMPLETE
    store.update_message(message_id, streaming)

    loaded = store.load_conversation(record.id).messages[-1]
    assert loaded == streaming


def test_reply_cut_off_mid_stream_reloads_as_stopped_with_its_text(store: Store) -> None:
    record = store.create_conversation()
    store.append_message(record.id, user("tell me a story"))
    cut_off = Message(role="assistant", content="Once upon", requested_endpoint="m@p")
    store.append_message(record.id, cut_off)  # outcome None: the app died while streaming

    loaded = store.load_conversation(record.id)
    assert loaded.messages[-1].outcome is Outcome.STOPPED
    assert loaded.messages[-1].content == "Once upon"
    assert loaded.messages[0].outcome is None  # user messages have no outcome


def test_list_is_newest_first_with_spend_models_and_count(store: Store) -> None:
    older = store.create_conversation("older")
    newer = store.create_conversation("newer")
    store.append_message(older.id, user("q"))
    store.append_message(older.id, reply("a", served="gpt-4o@openai", cost=0.5))
    store.append_message(older.id, user("q2"))
    store.append_message(older.id, reply("b", requested="router@cost", served=None, cost=0.25))
    store.append_message(older.id, reply("c", served="gpt-4o@openai", cost=None))

    summaries = store.list_conversations()

    assert [s.title for s in summaries] == ["older", "newer"]  # older was updated last
    first = summaries[0]
    assert first.total_cost == pytest.approx(0.75)
    assert first.models_used == ("gpt-4o@openai", "router@cost")
    assert first.message_count == 5
    assert summaries[1].id == newer.id
    assert (summaries[1].total_cost, summaries[1].models_used) == (0.0, ())
    assert summaries[1].message_count == 0


def test_reply_records_its_requested_endpoint_as_the_conversation_model(store: Store) -> None:
    record = store.create_conversation(model="first@p")
    store.append_message(record.id, user("hi"))
    assert store.conversation(record.id).model == "first@p"
    store.append_message(record.id, reply("yo", requested="second@q"))
    assert store.conversation(record.id).model == "second@q"


def test_rename_changes_title_and_moves_it_to_the_top(store: Store) -> None:
    first = store.create_conversation("a")
    store.create_conversation("b")
    store.rename(first.id, "renamed")
    assert [s.title for s in store.list_conversations()] == ["renamed", "b"]


def test_settings_change_only_what_is_given_and_none_clears(store: Store) -> None:
    record = store.create_conversation(temperature=0.7, max_tokens=100, spend_cap=1.0)
    store.set_conversation_settings(record.id, temperature=0.2, spend_cap=None)
    changed = store.conversation(record.id)
    assert (changed.temperature, changed.max_tokens, changed.spend_cap) == (0.2, 100, None)
    store.set_conversation_settings(record.id, system_prompt="New rules.", model="m@p")
    changed = store.conversation(record.id)
    assert (changed.system_prompt, changed.model) == ("New rules.", "m@p")
    assert store.load_conversation(record.id).system_prompt == "New rules."


def test_archived_conversations_are_hidden_unless_asked_for(store: Store) -> None:
    kept = store.create_conversation("kept")
    hidden = store.create_conversation("hidden")
    store.set_conversation_settings(hidden.id, archived=True)
    assert [s.id for s in store.list_conversations()] == [kept.id]
    everything = store.list_conversations(include_archived=True)
    assert [(s.id, s.archived) for s in everything] == [(hidden.id, True), (kept.id, False)]


def test_delete_removes_the_conversation_and_its_messages(store: Store, db_path: Path) -> None:
    doomed = store.create_conversation("doomed")
    kept = store.create_conversation("kept")
    store.append_message(doomed.id, user("secret plans"))
    store.append_message(kept.id, user("other plans"))

    store.delete(doomed.id)

    assert [s.id for s in store.list_conversations()] == [kept.id]
    with pytest.raises(RecordNotFound):
        store.load_conversation(doomed.id)
    assert [hit.conversation_id for hit in store.search("plans")] == [kept.id]
    assert store.integrity_check() == []


def test_last_opened_conversation_is_the_one_marked_last(store: Store) -> None:
    assert store.last_opened_conversation() is None
    first = store.create_conversation("first")
    second = store.create_conversation("second")
    store.mark_opened(second.id)
    store.mark_opened(first.id)
    last = store.last_opened_conversation()
    assert last is not None and last.id == first.id


def test_last_opened_survives_reopening_and_forgets_deleted(db_path: Path) -> None:
    clock = FakeClock()
    with Store.open(db_path, clock=clock) as first_run:
        a = first_run.create_conversation("a")
        b = first_run.create_conversation("b")
        first_run.mark_opened(a.id)
        first_run.mark_opened(b.id)
    with Store.open(db_path, clock=clock) as second_run:
        last = second_run.last_opened_conversation()
        assert last is not None and last.id == b.id
        second_run.delete(b.id)
        last = second_run.last_opened_conversation()
        assert last is not None and last.id == a.id


def test_missing_ids_raise_record_not_found(store: Store) -> None:
    with pytest.raises(RecordNotFound):
        store.append_message(404, user("hi"))
    with pytest.raises(RecordNotFound):
        store.update_message(404, user("hi"))
    for action in (
        lambda: store.conversation(404),
        lambda: store.rename(404, "x"),
        lambda: store.delete(404),
        lambda: store.mark_opened(404),
        lambda: store.set_conversation_settings(404, temperature=1.0),
    ):
        with pytest.raises(RecordNotFound):
            action()


def test_failed_write_leaves_nothing_half_done(store: Store) -> None:
    record = store.create_conversation()
    before = store.conversation(record.id)
    with pytest.raises(RecordNotFound):
        store.append_message(record.id + 1, user("lost"))
    assert store.conversation(record.id) == before
    assert store.list_conversations()[0].message_count == 0


def test_closed_store_refuses_calls_with_a_typed_error(db_path: Path) -> None:
    opened = Store.open(db_path)
    opened.close()
    opened.close()  # twice is fine
    with pytest.raises(StoreUnavailable, match="closed"):
        opened.list_conversations()


def test_data_survives_closing_and_reopening(db_path: Path) -> None:
    with Store.open(db_path) as first_run:
        record = first_run.create_conversation("kept")
        first_run.append_message(record.id, user("remember me"))
    with Store.open(db_path) as second_run:
        assert second_run.load_conversation(record.id).messages[0].content == "remember me"


def test_a_new_database_and_its_wal_are_private_to_the_user(tmp_path: Path) -> None:
    path = tmp_path / "new-folder" / "conversations.db"
    with Store.open(path) as store:
        store.create_conversation("private")
        wal = path.with_name(path.name + "-wal")
        assert wal.exists()
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
