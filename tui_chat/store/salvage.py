"""Reading what can still be read out of a damaged database, row by row, in plain Python.

SQLite's ``.recover`` lives in its command-line shell, not in the ``sqlite3`` module, and the app
must not need a shell installed. So: each table is read in rowid order, a batch at a time, through
the table's own b-tree (never an index, which may be the damaged part). A damaged page raises in
the middle of a read; the reader then jumps ahead (rowid + 1, + 2, + 4, ...) until a seek lands on
a readable page again, and steps back by halving to the first rowid readable there, so only the
rows on unreadable pages are lost. Each row is checked (types, roles) before it is copied with its
id into the fresh database, whose triggers index it for search again. Messages whose conversation
row was lost come back under a conversation made for them ("Recovered conversation").
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_chat.store.pages import scan_pages

log = logging.getLogger(__name__)

_BATCH = 200
_LARGEST_ROWID = 2**63 - 1
_ROLES = frozenset({"system", "user", "assistant"})
_OUTCOMES = frozenset({"complete", "stopped", "cut", "length", "filtered", "error"})


@dataclass(frozen=True)
class Salvaged:
    """How many rows came back into the fresh database."""

    conversations: int
    messages: int


def open_damaged(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to the damaged file (its ``-wal`` beside it is read too), or None
    if SQLite cannot read it at all (its first page is gone)."""
    for query in ("mode=ro", "immutable=1"):
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True)
            conn.row_factory = sqlite3.Row
            conn.execute("SELECT name FROM sqlite_master").fetchall()
            return conn
        except sqlite3.Error as error:
            log.warning("cannot read %s (%s): %s", path, query, error)
    return None


def readable_rows(
    conn: sqlite3.Connection, table: str, damage: list[str] | None = None
) -> Iterator[sqlite3.Row]:
    """Every row of ``table`` that can still be read, in rowid order, skipping damaged pages;
    each error met is added to ``damage``."""
    after = 0  # the last rowid read or passed over (ids here start at 1)
    while True:
        try:
            rows = conn.execute(
                f"SELECT rowid AS _rowid_, * FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, _BATCH),
            ).fetchall()
        except sqlite3.DatabaseError as error:
            if damage is not None:
                damage.append(str(error))
            resumed = yield from _one_by_one(conn, table, after)
            if resumed is None:
                return
            after = resumed
            continue
        if not rows:
            return
        for row in rows:
            if not isinstance(row["_rowid_"], int) or row["_rowid_"] <= after:
                break  # out of order: a damaged page read as if sound; step through it instead
            yield row
            after = row["_rowid_"]
        else:
            continue
        resumed = yield from _one_by_one(conn, table, after)
        if resumed is None:
            return
        after = resumed


def _one_by_one(
    conn: sqlite3.Connection, table: str, after: int
) -> Generator[sqlite3.Row, None, int | None]:
    """Through a damaged stretch a row at a time: the rows readable, then the rowid to go on
    after (None: nothing readable is left)."""
    for _ in range(_BATCH):
        try:
            key = conn.execute(
                f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 1", (after,)
            ).fetchone()
        except sqlite3.DatabaseError:  # the page holding the next row is unreadable: jump
            resumed = _next_readable(conn, table, after)
            return None if resumed is None else max(resumed - 1, after + 1)
        if key is None:
            return None
        if int(key[0]) <= after:  # out of order: this page cannot be trusted
            resumed = _next_readable(conn, table, after)
            return None if resumed is None else max(resumed - 1, after + 1)
        after = int(key[0])
        try:
            row = conn.execute(
                f"SELECT rowid AS _rowid_, * FROM {table} WHERE rowid = ?", (after,)
            ).fetchone()
        except sqlite3.DatabaseError:
            continue  # this row's own text (an overflow page) is unreadable: only it is lost
        if row is not None:
            yield row
    return after


def _readable_from(conn: sqlite3.Connection, table: str, start: int) -> bool | None:
    """Whether a read from rowid ``start`` on works: True, False (damaged), None (no rows)."""
    try:
        row = conn.execute(
            f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1", (start,)
        ).fetchone()
    except sqlite3.DatabaseError:
        return False
    return None if row is None else True


def _next_readable(conn: sqlite3.Connection, table: str, after: int) -> int | None:
    """The first rowid past ``after`` from which reading works again, or None if none does."""
    step = 1
    failed = after
    while True:
        probe = min(failed + step, _LARGEST_ROWID)
        state = _readable_from(conn, table, probe)
        if state is None:
            return None  # nothing readable beyond
        if state:
            break
        if probe >= _LARGEST_ROWID:
            return None
        failed = probe
        step *= 2
    # Reading from ``probe`` works, from ``failed`` it does not: the first rowid between them
    # that works, by halving (rows on the damaged page before it are lost).
    low, high = failed, probe
    while high - low > 1:
        middle = (low + high) // 2
        if _readable_from(conn, table, middle):
            high = middle
        else:
            low = middle
    return high


def salvage_into(damaged: Path, fresh: sqlite3.Connection) -> Salvaged:
    """Copy every readable conversation and message of ``damaged`` into ``fresh`` (migrated,
    empty), ids kept, in one transaction. Never raises for damage: what cannot be read is left.

    A table SQLite cannot read at all (its root page or page 1 damaged) is read off the pages
    instead (``pages.scan_pages``).
    """
    conversation_columns = _columns(fresh, "conversations")
    message_columns = _columns(fresh, "messages")
    conversations: dict[int, dict[str, Any]] = {}
    messages: dict[int, dict[str, Any]] = {}
    unreachable: set[str] = set()
    source = open_damaged(damaged)
    if source is None:
        unreachable = {"conversations", "messages"}
    else:
        try:
            tables = _tables(source)
            for table, rows in (("conversations", conversations), ("messages", messages)):
                if table not in tables:
                    unreachable.add(table)
                    continue
                damage: list[str] = []
                for row in readable_rows(source, table, damage):
                    rows[row["_rowid_"]] = dict(zip(row.keys(), row, strict=True))
                if damage and not rows:
                    unreachable.add(table)  # not one row through SQLite: read the pages
        finally:
            source.close()
    if unreachable:
        found = scan_pages(
            damaged,
            message_columns=tuple(message_columns),
            conversation_columns=tuple(conversation_columns),
        )
        if "conversations" in unreachable:
            conversations = found.conversations
        if "messages" in unreachable:
            messages = found.messages
        log.warning(
            "read %s off the pages of %s: %d conversations, %d messages",
            " and ".join(sorted(unreachable)),
            damaged,
            len(found.conversations),
            len(found.messages),
        )
    return _copy(
        [conversations[key] for key in sorted(conversations)],
        [messages[key] for key in sorted(messages)],
        fresh,
        set(conversation_columns),
        set(message_columns),
    )


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    try:
        return [str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")]
    except sqlite3.DatabaseError:
        return []


def _copy(
    conversation_rows: list[dict[str, Any]],
    message_rows: list[dict[str, Any]],
    fresh: sqlite3.Connection,
    conversation_columns: set[str],
    message_columns: set[str],
) -> Salvaged:
    conversations = messages = 0
    known: set[int] = set()
    fresh.execute("BEGIN IMMEDIATE")
    try:
        for row in conversation_rows:
            values = _conversation_values(row, conversation_columns)
            if values is None or _insert(fresh, "conversations", values) is False:
                continue
            known.add(values["id"])
            conversations += 1
        for row in message_rows:
            values = _message_values(row, message_columns)
            if values is None:
                continue
            owner = values["conversation_id"]
            if owner not in known:
                made = _insert(
                    fresh,
                    "conversations",
                    {
                        "id": owner,
                        "title": "Recovered conversation",
                        "created_at": values["created_at"],
                        "updated_at": values["created_at"],
                    },
                )
                if made is False:
                    continue
                known.add(owner)
                conversations += 1
            if _insert(fresh, "messages", values):
                messages += 1
        fresh.execute("COMMIT")
    except BaseException:
        if fresh.in_transaction:
            fresh.execute("ROLLBACK")
        raise
    return Salvaged(conversations, messages)


def _tables(conn: sqlite3.Connection) -> set[str]:
    try:
        return {
            str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    except sqlite3.DatabaseError:
        return {"conversations", "messages"}  # try them anyway


def _insert(conn: sqlite3.Connection, table: str, values: dict[str, Any]) -> bool:
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    try:
        conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", values)
    except sqlite3.IntegrityError as error:  # a duplicate position or id from garbage
        log.warning("not recovered: a %s row (%s)", table, error)
        return False
    return True


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _conversation_values(row: dict[str, Any], columns: set[str]) -> dict[str, Any] | None:
    data = {name: value for name, value in row.items() if name in columns}
    if not isinstance(data.get("id"), int):
        return None
    created = _number(data.get("created_at"))
    if created is None:
        return None
    data["created_at"] = created
    data["updated_at"] = _number(data.get("updated_at")) or created
    data["title"] = _text(data.get("title")) or "Recovered conversation"
    if data.get("archived") not in (0, 1):
        data["archived"] = 0
    for name in ("model", "system_prompt"):
        if name in data:
            data[name] = _text(data[name])
    return data


def _message_values(row: dict[str, Any], columns: set[str]) -> dict[str, Any] | None:
    data = {name: value for name, value in row.items() if name in columns}
    if not isinstance(data.get("id"), int) or not isinstance(data.get("conversation_id"), int):
        return None
    if not isinstance(data.get("position"), int) or data.get("role") not in _ROLES:
        return None
    content = _text(data.get("content"))
    created = _number(data.get("created_at"))
    if content is None or created is None:
        return None
    data["content"], data["created_at"] = content, created
    if data.get("outcome") not in _OUTCOMES:
        data["outcome"] = None
    for flag in ("cost_estimated", "tokens_estimated"):
        if flag in columns and data.get(flag) not in (0, 1):
            data[flag] = 0
    return data
