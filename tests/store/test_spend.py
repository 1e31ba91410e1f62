"""The spend figures (tui_chat/store/spend.py), each checked against a store of known replies."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.store.conftest import reply
from tui_chat.store import Store
from tui_chat.store.schema import migrate, schema_version


def test_version_4_database_gets_the_gateway_column_and_the_reply_index(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    assert migrate(conn, target=4) == 4
    conn.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (7, 't', 1, 2)"
    )
    conn.execute(
        "INSERT INTO messages (id, conversation_id, position, role, content, created_at, cost,"
        " served_endpoint, outcome) VALUES (70, 7, 0, 'assistant', 'kept', 1.0, 0.25,"
        " 'gpt-4o@openai', 'complete')"
    )
    conn.close()

    with Store.open(db_path) as store:
        (message,) = store.load_conversation(7).messages
        assert (message.content, message.cost, message.served_endpoint) == (
            "kept",
            0.25,
            "gpt-4o@openai",
        )
        store.append_message(7, reply("after the migration"))
    conn = sqlite3.connect(db_path)
    try:
        assert schema_version(conn) == 5
        assert conn.execute("SELECT gateway FROM messages WHERE id = 70").fetchone() == (None,)
        (index_sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'messages_reply_figures'"
        ).fetchone()
        assert "WHERE role = 'assistant'" in index_sql
    finally:
        conn.close()
