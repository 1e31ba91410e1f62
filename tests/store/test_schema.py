"""Schema versions: a new file gets the latest, older files migrate, newer files are refused."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tests.store.conftest import reply, user
from tui_chat.core.conversation import Outcome
from tui_chat.store import SCHEMA_VERSION, Store, StoreTooNew, StoreUnavailable
from tui_chat.store.schema import MIGRATIONS, migrate, schema_version


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_migration_versions_count_up_from_one() -> None:
    assert [step.version for step in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert len(MIGRATIONS) == SCHEMA_VERSION


def test_new_database_is_at_the_latest_version_in_wal_mode(db_path: Path) -> None:
    Store.open(db_path).close()
    conn = _raw(db_path)
    try:
        assert schema_version(conn) == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"conversations", "messages", "messages_fts"} <= tables
    finally:
        conn.close()


def test_version_1_database_migrates_to_latest_keeping_its_data(db_path: Path) -> None:
    conn = _raw(db_path)
    assert migrate(conn, target=1) == 1
    # Rows as version 1 of unify-tui wrote them.
    conn.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at, model, temperature)"
        " VALUES (7, 'From v1', 100.0, 200.0, 'gpt-4o@openai', 0.5)"
    )
    conn.execute(
        "INSERT INTO messages (conversation_id, position, role, content, created_at)"
        " VALUES (7, 0, 'user', 'a question about penguins', 100.0)"
    )
    conn.execute(
        "INSERT INTO messages (conversation_id, position, role, content, created_at,"
        " requested_endpoint, served_endpoint, cost, outcome)"
        " VALUES (7, 1, 'assistant', 'penguins live in the south', 101.0,"
        " 'gpt-4o@openai', 'gpt-4o@openai', 0.01, 'complete')"
    )
    conn.close()

    with Store.open(db_path) as store:
        loaded = store.load(7)
        assert [m.content for m in loaded.conversation.messages] == [
            "a question about penguins",
            "penguins live in the south",
        ]
        assert loaded.conversation.messages[1].cost_estimated is False
        assert (loaded.record.title, loaded.record.temperature) == ("From v1", 0.5)
        # Version 2 built the search index over the messages version 1 had stored.
        assert {hit.message_id for hit in store.search("penguins")} == set(loaded.message_ids)
        assert store.integrity_check() == []
    conn = _raw(db_path)
    assert schema_version(conn) == SCHEMA_VERSION
    conn.close()


def test_version_3_database_migrates_to_the_new_reply_endings_keeping_ids_and_search(
    db_path: Path,
) -> None:
    conn = _raw(db_path)
    assert migrate(conn, target=3) == 3
    conn.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (3, 't', 1, 2)"
    )
    conn.execute(
        "INSERT INTO messages (id, conversation_id, position, role, content, created_at, cost,"
        " outcome, cost_estimated) VALUES (41, 3, 0, 'assistant', 'walruses nap', 1.0, 0.5,"
        " 'stopped', 1)"
    )
    with pytest.raises(sqlite3.IntegrityError):  # version 3 knew three endings only
        conn.execute(
            "INSERT INTO messages (conversation_id, position, role, content, created_at, outcome)"
            " VALUES (3, 1, 'assistant', 'x', 1.0, 'cut')"
        )
    conn.close()

    with Store.open(db_path) as store:
        loaded = store.load(3)
        (message,) = loaded.conversation.messages
        assert (message.content, message.outcome, message.cost, message.cost_estimated) == (
            "walruses nap",
            Outcome.STOPPED,
            0.5,
            True,
        )
        assert list(loaded.message_ids) == [41]
        assert [hit.message_id for hit in store.search("walruses")] == [41]
        assert message.tokens_estimated is False  # version 3 never said; its counts were reported
        for ending in (Outcome.CUT, Outcome.LENGTH, Outcome.FILTERED):
            store.append_message(3, reply(f"{ending.value} reply", outcome=ending))
        counted = reply("counted from the text")
        counted.tokens_estimated = True
        store.append_message(3, counted)
        messages = store.load(3).conversation.messages
        outcomes = [m.outcome for m in messages[:4]]
        assert outcomes == [Outcome.STOPPED, Outcome.CUT, Outcome.LENGTH, Outcome.FILTERED]
        # regression: a reopened conversation showed counted tokens as reported ones
        assert [m.tokens_estimated for m in messages] == [False, False, False, False, True]
        assert [hit.message_id for hit in store.search("filtered")]  # the triggers work again
        assert store.integrity_check() == []


def test_every_intermediate_version_migrates_to_latest(tmp_path: Path) -> None:
    for start in range(SCHEMA_VERSION + 1):
        path = tmp_path / f"v{start}.db"
        conn = _raw(path)
        migrate(conn, target=start)
        conn.close()
        with Store.open(path) as store:
            record = store.create_conversation()
            store.append_message(record.id, reply("works"))
            assert [hit.message_id for hit in store.search("works")]


def test_database_from_a_newer_version_is_refused_untouched(db_path: Path) -> None:
    conn = _raw(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreTooNew, match="newer"):
        Store.open(db_path)
    assert isinstance(StoreTooNew("x"), StoreUnavailable)  # the app chats without saving
    conn = _raw(db_path)
    assert schema_version(conn) == SCHEMA_VERSION + 1
    conn.close()


def test_two_stores_opening_a_new_file_at_once_migrate_it_once(db_path: Path) -> None:
    stores: list[Store] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        start.wait()
        try:
            stores.append(Store.open(db_path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    record = stores[0].create_conversation()
    stores[1].append_message(record.id, user("seen by all"))
    for store in stores:
        assert store.load_conversation(record.id).messages[0].content == "seen by all"
        store.close()
