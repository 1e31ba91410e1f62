"""Schema 6 and the figures it keeps beside each reply: the gateway it came through (a column
since schema 5, written from now on), the billed cost a balance change showed, and why a
routing preset chose the provider. Saved, updated, journalled and read back as they were."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.store.conftest import reply
from tui_chat.store import SCHEMA_VERSION, Store
from tui_chat.store.journal import Append, op_document, op_from_document
from tui_chat.store.schema import migrate, schema_version


def test_version_5_database_gets_the_billed_cost_and_routing_note(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    assert migrate(conn, target=5) == 5
    conn.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (3, 't', 1, 2)"
    )
    conn.execute(
        "INSERT INTO messages (id, conversation_id, position, role, content, created_at, cost,"
        " served_endpoint, outcome, gateway) VALUES (30, 3, 0, 'assistant', 'old', 1.0, 0.5,"
        " 'gpt-4o@openai', 'complete', 'unify')"
    )
    conn.close()

    with Store.open(db_path) as store:
        (message,) = store.load_conversation(3).messages
        assert (message.content, message.cost, message.gateway) == ("old", 0.5, "unify")
        assert message.billed_cost is None and message.routing_note is None
    conn = sqlite3.connect(db_path)
    try:
        assert schema_version(conn) == SCHEMA_VERSION >= 6
        assert conn.execute(
            "SELECT billed_cost, routing_note FROM messages WHERE id = 30"
        ).fetchone() == (None, None)
    finally:
        conn.close()


def test_gateway_billed_cost_and_routing_note_are_saved_and_updated(store: Store) -> None:
    conversation_id = store.create_conversation("t").id
    message = reply("hi", served="llama-3.1-8b-chat@groq", cost=0.001)
    message.gateway = "demo"
    message_id = store.append_message(conversation_id, message)
    (loaded,) = store.load_conversation(conversation_id).messages
    assert (loaded.gateway, loaded.billed_cost, loaded.routing_note) == ("demo", None, None)

    message.billed_cost = 0.00105
    message.routing_note = "my-fastest → groq, 312 tok/s median of 8"
    store.update_message(message_id, message)
    (loaded,) = store.load_conversation(conversation_id).messages
    assert loaded.gateway == "demo"
    assert loaded.billed_cost == 0.00105
    assert loaded.routing_note == "my-fastest → groq, 312 tok/s median of 8"


def test_the_journal_keeps_the_new_figures() -> None:
    message = reply("hi")
    message.gateway, message.billed_cost, message.routing_note = "openrouter", 0.002, "why"
    op = op_from_document(op_document(Append(ref=1, message=message, model=None)))
    assert isinstance(op, Append)
    kept = op.message
    assert (kept.gateway, kept.billed_cost, kept.routing_note) == ("openrouter", 0.002, "why")
