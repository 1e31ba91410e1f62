"""The schema, as an append-only list of migration steps versioned by ``PRAGMA user_version``.

A shipped step is never edited: a change to the schema is a new step at the end. Version 0 is an
empty file; ``MIGRATIONS[n - 1]`` takes a database from version ``n - 1`` to ``n``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from tui_chat.store.errors import StoreTooNew


@dataclass(frozen=True)
class Migration:
    version: int  # the user_version after this step
    description: str
    statements: tuple[str, ...]  # run in order inside one transaction


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="conversations and messages",
        statements=(
            """
            CREATE TABLE conversations (
                id            INTEGER PRIMARY KEY,
                title         TEXT    NOT NULL,
                created_at    REAL    NOT NULL,
                updated_at    REAL    NOT NULL,
                model         TEXT,
                system_prompt TEXT,
                temperature   REAL,
                max_tokens    INTEGER,
                spend_cap     REAL,
                archived      INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
                opened_at     REAL
            )
            """,
            """
            CREATE TABLE messages (
                id                 INTEGER PRIMARY KEY,
                conversation_id    INTEGER NOT NULL
                                   REFERENCES conversations (id) ON DELETE CASCADE,
                position           INTEGER NOT NULL,
                role               TEXT    NOT NULL
                                   CHECK (role IN ('system', 'user', 'assistant')),
                content            TEXT    NOT NULL,
                created_at         REAL    NOT NULL,
                requested_endpoint TEXT,
                served_endpoint    TEXT,
                prompt_tokens      INTEGER,
                completion_tokens  INTEGER,
                cost               REAL,
                ttft_ms            REAL,
                duration_ms        REAL,
                outcome            TEXT CHECK (outcome IN ('complete', 'stopped', 'error')),
                error              TEXT,
                UNIQUE (conversation_id, position)
            )
            """,
            "CREATE INDEX conversations_by_updated ON conversations (updated_at DESC, id DESC)",
            "CREATE INDEX conversations_by_opened ON conversations (opened_at)",
        ),
    ),
    Migration(
        version=2,
        description="full-text search over message content",
        statements=(
            # External content: the index stores only tokens; text lives once, in messages.
            """
            CREATE VIRTUAL TABLE messages_fts USING fts5 (
                content,
                content = 'messages',
                content_rowid = 'id',
                tokenize = 'unicode61 remove_diacritics 2'
            )
            """,
            """
            CREATE TRIGGER messages_fts_after_insert AFTER INSERT ON messages BEGIN
                INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
            END
            """,
            """
            CREATE TRIGGER messages_fts_after_delete AFTER DELETE ON messages BEGIN
                INSERT INTO messages_fts (messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
            END
            """,
            # Only when the text changes, so a reply's final token counts cost no re-indexing.
            """
            CREATE TRIGGER messages_fts_after_update AFTER UPDATE OF content ON messages BEGIN
                INSERT INTO messages_fts (messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
                INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
            END
            """,
            # Index the messages a version-1 database already holds.
            "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
        ),
    ),
    Migration(
        version=3,
        description="whether a reply's cost is an estimate",
        statements=(
            # Older rows were costs reported by the gateway, never estimates: 0 is true for them.
            """
            ALTER TABLE messages
            ADD COLUMN cost_estimated INTEGER NOT NULL DEFAULT 0 CHECK (cost_estimated IN (0, 1))
            """,
        ),
    ),
    Migration(
        version=4,
        description="more ways a reply ends (cut, token limit, filtered); estimated tokens",
        statements=(
            # SQLite cannot change a CHECK constraint in place: the table is made again with the
            # wider one and its rows copied, ids and all (the full-text index is keyed by id, so
            # it stays valid). Its triggers go first and are made again after.
            "DROP TRIGGER messages_fts_after_insert",
            "DROP TRIGGER messages_fts_after_delete",
            "DROP TRIGGER messages_fts_after_update",
            """
            CREATE TABLE messages_v4 (
                id                 INTEGER PRIMARY KEY,
                conversation_id    INTEGER NOT NULL
                                   REFERENCES conversations (id) ON DELETE CASCADE,
                position           INTEGER NOT NULL,
                role               TEXT    NOT NULL
                                   CHECK (role IN ('system', 'user', 'assistant')),
                content            TEXT    NOT NULL,
                created_at         REAL    NOT NULL,
                requested_endpoint TEXT,
                served_endpoint    TEXT,
                prompt_tokens      INTEGER,
                completion_tokens  INTEGER,
                cost               REAL,
                ttft_ms            REAL,
                duration_ms        REAL,
                outcome            TEXT CHECK (outcome IN
                                   ('complete', 'stopped', 'cut', 'length', 'filtered', 'error')),
                error              TEXT,
                cost_estimated     INTEGER NOT NULL DEFAULT 0 CHECK (cost_estimated IN (0, 1)),
                tokens_estimated   INTEGER NOT NULL DEFAULT 0 CHECK (tokens_estimated IN (0, 1)),
                UNIQUE (conversation_id, position)
            )
            """,
            """
            INSERT INTO messages_v4 (id, conversation_id, position, role, content, created_at,
                requested_endpoint, served_endpoint, prompt_tokens, completion_tokens, cost,
                ttft_ms, duration_ms, outcome, error, cost_estimated)
            SELECT id, conversation_id, position, role, content, created_at,
                requested_endpoint, served_endpoint, prompt_tokens, completion_tokens, cost,
                ttft_ms, duration_ms, outcome, error, cost_estimated
            FROM messages
            """,
            "DROP TABLE messages",
            "ALTER TABLE messages_v4 RENAME TO messages",
            """
            CREATE TRIGGER messages_fts_after_insert AFTER INSERT ON messages BEGIN
                INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
            END
            """,
            """
            CREATE TRIGGER messages_fts_after_delete AFTER DELETE ON messages BEGIN
                INSERT INTO messages_fts (messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
            END
            """,
            """
            CREATE TRIGGER messages_fts_after_update AFTER UPDATE OF content ON messages BEGIN
                INSERT INTO messages_fts (messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
                INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
            END
            """,
        ),
    ),
    Migration(
        version=5,
        description="the gateway a reply came through; an index for the spend screen",
        statements=(
            # The gateway profile's name ("unify", "openrouter", a [gateways.NAME]); older rows,
            # and rows written by a version that does not record it, are NULL: not known.
            "ALTER TABLE messages ADD COLUMN gateway TEXT",
            # Every column the spend figures read, for replies only: the spend queries scan
            # this index instead of the table, whose rows carry the message text.
            """
            CREATE INDEX messages_reply_figures ON messages (
                created_at, conversation_id, served_endpoint, requested_endpoint, gateway, cost,
                cost_estimated, prompt_tokens, completion_tokens, tokens_estimated, ttft_ms,
                duration_ms, outcome
            ) WHERE role = 'assistant'
            """,
        ),
    ),
    Migration(
        version=6,
        description="the billed cost a balance change showed; why a routing preset chose",
        statements=(
            # Credits the balance fell by over one reply (NULL: not measured, or not
            # attributable to one reply), beside the cost the reply reported.
            "ALTER TABLE messages ADD COLUMN billed_cost REAL",
            # "my-fastest → groq, 312 tok/s median of 8": why @my-... picked the provider.
            "ALTER TABLE messages ADD COLUMN routing_note TEXT",
            # The few measured replies, for the reconciliation (no scan of the whole table).
            """
            CREATE INDEX messages_billed ON messages (billed_cost, cost, created_at)
            WHERE role = 'assistant' AND billed_cost IS NOT NULL
            """,
        ),
    ),
    Migration(
        version=7,
        description="alternates and branches: each message's parent and when it was shown",
        statements=(
            # The message this one follows (NULL: a first message). Siblings (the same parent)
            # are alternates: regenerated replies, edited user messages, compared replies;
            # their order is ``position`` (creation order in the conversation, as before).
            "ALTER TABLE messages ADD COLUMN parent_id INTEGER",
            # The conversation's rank when the message was last on the branch on screen: under
            # each parent the child of the highest rank (ties: the newest) is the one shown.
            "ALTER TABLE messages ADD COLUMN shown_rank INTEGER NOT NULL DEFAULT 0",
            # Conversations saved before branches are one line: each message follows the one
            # before it (positions may have gaps where a failed reply was retried).
            """
            UPDATE messages SET parent_id = (
                SELECT earlier.id FROM messages AS earlier
                WHERE earlier.conversation_id = messages.conversation_id
                  AND earlier.position < messages.position
                ORDER BY earlier.position DESC LIMIT 1
            )
            """,
        ),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's ``PRAGMA user_version`` (0 for a new, empty file)."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the database up to ``target``, one transaction per step; return the final version.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each step re-reads the version
    under the write lock, so two processes opening a new file at once migrate it exactly once.
    Raises ``StoreTooNew`` if the file is newer than this program's schema.
    """
    found = schema_version(conn)
    if found > SCHEMA_VERSION:
        raise StoreTooNew(
            f"The conversation database has schema version {found}, newer than this version "
            f"of unify-tui understands ({SCHEMA_VERSION}); update unify-tui to use it."
        )
    for step in MIGRATIONS:
        if step.version > target:
            break
        if step.version <= found:
            continue  # done already: no write lock, so a file another process writes still opens
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) < step.version:
                for statement in step.statements:
                    conn.execute(statement)
                # PRAGMA takes no parameters; the value is our own integer.
                conn.execute(f"PRAGMA user_version = {step.version:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return schema_version(conn)
