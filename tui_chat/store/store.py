"""The conversation store: one SQLite file holding conversations, messages and a search index.

Concurrency: a ``Store`` owns one connection opened with ``check_same_thread=False`` and guarded by
a lock. Textual runs thread workers on pool threads that come and go; per-thread connections would
be opened over and over and could not be closed by ``close()`` (sqlite3 only lets the creating
thread close one). SQLite admits one writer at a time anyway and every call here is a short
transaction, so serialising the calls of one process costs nothing measurable, and the lock keeps
one call's transaction from interleaving with another's on the shared connection. Between
processes (two app instances on one file), WAL mode lets readers run beside the writer, writes start
with ``BEGIN IMMEDIATE`` (no deadlock upgrading a read lock), and the busy timeout makes a writer
wait its turn instead of failing.

Durability: every write is one transaction, committed before the method returns, with
``synchronous=FULL``: a committed write survives the process being killed, and a power cut too
on a disk that honours fsync.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Any, Final, Self

import platformdirs

from tui_chat.core.conversation import Conversation, Message, Outcome
from tui_chat.store.errors import (
    RecordNotFound,
    StoreCorrupt,
    StoreError,
    StoreRetryable,
    StoreUnavailable,
    translated,
)
from tui_chat.store.records import (
    ELLIPSIS,
    MATCH_END,
    MATCH_START,
    ConversationRecord,
    ConversationSummary,
    Recovery,
    SavedConversation,
    SearchHit,
)
from tui_chat.store.salvage import Salvaged, salvage_into
from tui_chat.store.schema import migrate
from tui_chat.store.search import SNIPPET_MAX_CHARS, build_match_query, excerpt
from tui_chat.store.text import encodable
from tui_chat.store.wal import log_damage

log = logging.getLogger(__name__)

APP_NAME = "unify-tui"
DATABASE_NAME = "conversations.db"
DEFAULT_BUSY_TIMEOUT_S = 5.0
SNIPPET_TOKENS = 12  # words of context in a search snippet

Clock = Callable[[], float]

_SQLITE_HEADER = b"SQLite format 3\x00"


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""Default of ``set_conversation_settings`` arguments: leave that setting as it is."""


def default_database_path() -> Path:
    """Where the database lives unless the caller says otherwise: the user's data directory."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / DATABASE_NAME


def _optional_text(text: str | None) -> str | None:
    return None if text is None else encodable(text)


def _message_values(message: Message) -> dict[str, Any]:
    """The columns a message writes, by name (everything but identity and position)."""
    return {
        "content": encodable(message.content),
        "requested_endpoint": _optional_text(message.requested_endpoint),
        "served_endpoint": _optional_text(message.served_endpoint),
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "cost": message.cost,
        "cost_estimated": int(message.cost_estimated),
        "tokens_estimated": int(message.tokens_estimated),
        "ttft_ms": message.ttft_ms,
        "duration_ms": message.duration_ms,
        "outcome": None if message.outcome is None else Outcome(message.outcome).value,
        "error": _optional_text(message.error),
        "gateway": _optional_text(message.gateway),
        "billed_cost": message.billed_cost,
        "routing_note": _optional_text(message.routing_note),
    }


def _message_from_row(row: sqlite3.Row) -> Message:
    outcome = row["outcome"]
    return Message(
        role=row["role"],
        content=row["content"],
        created_at=row["created_at"],
        requested_endpoint=row["requested_endpoint"],
        served_endpoint=row["served_endpoint"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        cost=row["cost"],
        cost_estimated=bool(row["cost_estimated"]),
        ttft_ms=row["ttft_ms"],
        duration_ms=row["duration_ms"],
        outcome=None if outcome is None else Outcome(outcome),
        error=row["error"],
        tokens_estimated=bool(row["tokens_estimated"]),
        gateway=row["gateway"],
        billed_cost=row["billed_cost"],
        routing_note=row["routing_note"],
    )


def _record_from_row(row: sqlite3.Row) -> ConversationRecord:
    return ConversationRecord(
        id=row["id"],
        title=row["title"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        model=row["model"],
        system_prompt=row["system_prompt"],
        temperature=row["temperature"],
        max_tokens=row["max_tokens"],
        spend_cap=row["spend_cap"],
        archived=bool(row["archived"]),
        opened_at=row["opened_at"],
    )


def _check_header(path: Path) -> None:
    """Raise ``StoreCorrupt`` if ``path`` exists but does not start like an SQLite database.

    Checked before SQLite touches the file: closing a connection to a bad file can delete its
    ``-wal`` file, which may hold the last writes a recovery tool could still save.
    """
    try:
        with path.open("rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreUnavailable(
            f"Could not read the conversation database ({path}): {exc.strerror or exc}."
        ) from exc
    if header and header != _SQLITE_HEADER:
        raise StoreCorrupt(
            f"The conversation database ({path}) is damaged: file is not a database.", path
        )


def _create_private(path: Path) -> None:
    """Create a new database file readable by its owner only (conversations are private).

    SQLite gives the ``-wal`` and ``-shm`` files the database file's permissions, and treats an
    empty file as a new database. An existing file is left as it is.
    """
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreUnavailable(
            f"Could not create the conversation database ({path}): {exc.strerror or exc}."
        ) from exc
    os.close(descriptor)


def _connect(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    """Open and configure a connection, migrated to the current schema."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StoreUnavailable(
            f"Could not create the folder for the conversation database ({path.parent}): "
            f"{exc.strerror or exc}."
        ) from exc
    if path.is_dir():
        raise StoreUnavailable(f"The conversation database path {path} is a folder, not a file.")
    _check_header(path)
    if path.exists() and not os.access(path, os.W_OK):
        # SQLite would open it and fail only at the first write, mid-chat.
        raise StoreUnavailable(f"The conversation database ({path}) is read-only.")
    _create_private(path)
    with translated("open the conversation database", path):
        # isolation_level=None: autocommit; every transaction here is explicit.
        conn = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
    # Switching a new file to WAL takes an exclusive lock that SQLite does not always wait for
    # (busy_timeout is not consulted there), so two app instances starting at once on a new file
    # can see "database is locked": retry until the busy timeout runs out.
    deadline = time.monotonic() + busy_timeout_s
    try:
        while True:
            try:
                with translated("open the conversation database", path):
                    conn.row_factory = sqlite3.Row
                    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000):d}")
                    conn.execute("PRAGMA foreign_keys = ON")
                    # A deleted conversation's text is zeroed on disk, not left on a free page
                    # where a page-by-page recovery (store.pages) could bring it back.
                    conn.execute("PRAGMA secure_delete = ON")
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute("PRAGMA synchronous = FULL")
                    migrate(conn)
                return conn
            except StoreUnavailable as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)
    except BaseException:
        conn.close()
        raise


class Store:
    """Saved conversations in one SQLite file. Thread-safe; every write is durable on return.

    Open with ``Store.open(path)`` (or ``Store.open_or_recover(path)``); close with ``close()`` or
    use it as a context manager. Errors are ``StoreError`` subclasses (see ``store.errors``).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        clock: Clock,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> None:
        """Use ``Store.open``; this takes an already configured and migrated connection."""
        self._conn = conn
        self._lock = threading.RLock()
        self._closed = False
        self.path = path
        self._clock = clock
        self._busy_timeout_s = busy_timeout_s
        self.close_note: str | None = None  # set by close() when the user should hear of it

    # -- opening and closing -------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str | None = None,
        *,
        clock: Clock = time.time,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> Self:
        """Open (creating and migrating if needed) the database at ``path``.

        ``path`` None means ``default_database_path()``. ``clock`` gives Unix seconds for the
        times the store stamps itself (conversation created/updated/opened). Raises
        ``StoreCorrupt`` if the file is not a sound database, ``StoreUnavailable`` if it cannot be
        opened or written (``StoreTooNew`` if a newer unify-tui wrote it).
        """
        resolved = Path(path).expanduser() if path is not None else default_database_path()
        return cls(_connect(resolved, busy_timeout_s), resolved, clock, busy_timeout_s)

    @classmethod
    def open_or_recover(
        cls,
        path: Path | str | None = None,
        *,
        clock: Clock = time.time,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> tuple[Self, Recovery | None]:
        """Open the database; if it is damaged, move it aside and start a fresh one.

        Unlike ``open`` this also runs ``PRAGMA quick_check``, which reads the whole file (0.18 s
        for a 90 MB database here; see docs/storage.md), so damage deep in the file is found now
        rather than in the middle of a chat. Returns the store and, if a file was moved, a
        ``Recovery`` saying where (``<name>.corrupt-<timestamp>``, with its ``-wal``/``-shm``
        files beside it). Raises ``StoreUnavailable`` as ``open`` does; nothing is moved then.
        """
        resolved = Path(path).expanduser() if path is not None else default_database_path()
        try:
            store = cls.open(resolved, clock=clock, busy_timeout_s=busy_timeout_s)
            try:
                problems = store._startup_check()
            except BaseException:
                store.close()
                raise
            if not problems:
                return store, None
            store.close()
            reason = "; ".join(problems[:3])
        except StoreCorrupt as exc:
            reason = str(exc)
        recovery = _move_aside(resolved, reason, clock())
        fresh = cls.open(resolved, clock=clock, busy_timeout_s=busy_timeout_s)
        try:
            salvaged = fresh._salvage(recovery.moved_to)
        except BaseException:
            fresh.close()
            raise
        return fresh, replace(
            recovery, conversations=salvaged.conversations, messages=salvaged.messages
        )

    def _startup_check(self) -> list[str]:
        """``quick_check``, then the search index, which needs the write lock: skipped (left for
        the next start) while another process holds it, rather than waiting for it."""
        problems = self.integrity_check(quick=True, search_index=False)
        if problems:
            return problems
        with self._lock:
            self._conn.execute("PRAGMA busy_timeout = 0")
            try:
                return self.integrity_check(quick=True)
            except StoreRetryable:
                return []
            finally:
                self._conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000):d}")

    def _salvage(self, damaged: Path) -> Salvaged:
        """Read what can still be read out of ``damaged`` into this (fresh) database."""
        with self._lock:
            conn = self._open_connection()
            try:
                return salvage_into(damaged, conn)
            except sqlite3.Error as error:  # writing here failed: keep the fresh file usable
                log.warning("recovery from %s stopped: %s", damaged, error)
                return Salvaged(0, 0)

    def close(self) -> None:
        """Close the connection; later calls raise ``StoreUnavailable``. Safe to call twice.

        If another program changed the live write-ahead log (``wal.log_damage``), the log is not
        copied into the database file (no checkpoint): the next start keeps everything committed
        before the change. ``close_note`` then says so, for the user.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            damage = log_damage(self.path)
            if damage is not None:
                self.close_note = (
                    f"The conversation database's log ({self.path.name}-wal) was changed by "
                    f"another program: {damage}. It was left as it is; the next start keeps "
                    "what was saved before the change."
                )
                log.info("%s", self.close_note)
                self._close_without_checkpoint()
                return
            try:
                self._conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass  # only a planner hint; closing matters more
            self._conn.close()

    def _close_without_checkpoint(self) -> None:
        """Close so that the damaged log stays for SQLite's recovery at the next open.

        The last connection to close copies the log into the file; a read-only connection cannot,
        and while it is open this one is not the last. (``SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`` says
        the same, but Python's sqlite3 exposes it only from 3.12.)
        """
        keeper: sqlite3.Connection | None = None
        try:
            keeper = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as error:
            log.warning("could not keep the damaged log: %s", error)
        self._conn.close()
        if keeper is not None:
            keeper.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One short write transaction, committed (durably) when the block ends."""
        with self._lock, translated(action, self.path):
            conn = self._open_connection()
            # IMMEDIATE takes the write lock now, so another process's writer makes us wait
            # (busy timeout) instead of failing when a read would later upgrade to a write.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self, action: str) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query in the block sees the same snapshot."""
        with self._lock, translated(action, self.path):
            conn = self._open_connection()
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def _open_connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable("The conversation store is closed.")
        return self._conn

    # -- conversations --------------------------------------------------------------------------

    def create_conversation(
        self,
        title: str = "New conversation",
        *,
        model: str | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        spend_cap: float | None = None,
        opened: bool = False,
    ) -> ConversationRecord:
        """Create an empty conversation; ``spend_cap`` in credits (USD), None for no cap.

        ``opened`` also marks it as the one on screen (``mark_opened``) in the same transaction.
        """
        now = self._clock()
        with self._write("create a conversation") as conn:
            # No RETURNING: it needs SQLite 3.35, newer than some Python 3.11 builds link.
            cursor = conn.execute(
                """
                INSERT INTO conversations (title, created_at, updated_at, model, system_prompt,
                                           temperature, max_tokens, spend_cap, opened_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    encodable(title),
                    now,
                    now,
                    _optional_text(model),
                    _optional_text(system_prompt),
                    temperature,
                    max_tokens,
                    spend_cap,
                    now if opened else None,
                ),
            )
            conversation_id = cursor.lastrowid
            assert conversation_id is not None  # an INSERT always sets it
            return self._conversation_row(conn, conversation_id)

    def conversation(self, conversation_id: int) -> ConversationRecord:
        """The conversation's own row (title, model, settings); raises ``RecordNotFound``."""
        with self._read("read a conversation") as conn:
            return self._conversation_row(conn, conversation_id)

    def list_conversations(self, *, include_archived: bool = False) -> list[ConversationSummary]:
        """Every conversation, most recently updated first, with its spend and models."""
        with self._read("list conversations") as conn:
            rows = conn.execute(
                """
                SELECT c.id, c.title, c.created_at, c.updated_at, c.archived,
                       COUNT(m.id) AS message_count,
                       COALESCE(SUM(m.cost), 0.0) AS total_cost
                FROM conversations AS c
                LEFT JOIN messages AS m ON m.conversation_id = c.id
                WHERE ? OR c.archived = 0
                GROUP BY c.id
                ORDER BY c.updated_at DESC, c.id DESC
                """,
                (include_archived,),
            ).fetchall()
            models: dict[int, list[str]] = {}
            for conversation_id, endpoint in conn.execute(
                """
                SELECT conversation_id, COALESCE(served_endpoint, requested_endpoint) AS endpoint
                FROM messages
                WHERE role = 'assistant'
                  AND COALESCE(served_endpoint, requested_endpoint) IS NOT NULL
                GROUP BY conversation_id, endpoint
                ORDER BY conversation_id, MIN(position)
                """
            ):
                models.setdefault(conversation_id, []).append(endpoint)
        return [
            ConversationSummary(
                id=row["id"],
                title=row["title"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                total_cost=float(row["total_cost"]),
                models_used=tuple(models.get(row["id"], ())),
                message_count=row["message_count"],
                archived=bool(row["archived"]),
            )
            for row in rows
        ]

    def load_conversation(self, conversation_id: int) -> Conversation:
        """The conversation's messages in order and its system prompt; spend is their costs.

        The model and other settings are not fields of ``Conversation``: ``load`` returns them
        too, with the message ids. Raises ``RecordNotFound``.
        """
        return self.load(conversation_id).conversation

    def load(self, conversation_id: int) -> SavedConversation:
        """The conversation, its row (title, model, settings) and message ids, one snapshot.

        A reply saved while streaming (outcome None) was cut off by a crash or a quit: it comes
        back as ``STOPPED`` with the text saved so far. Raises ``RecordNotFound``.
        """
        with self._read("load a conversation") as conn:
            record = self._conversation_row(conn, conversation_id)
            rows = conn.execute(
                "SELECT * FROM messages WHERE conversation_id = ? ORDER BY position",
                (conversation_id,),
            ).fetchall()
        conversation = Conversation(system_prompt=record.system_prompt)
        by_id: dict[int, Message] = {}
        tree: list[tuple[Message, int]] = []
        previous: Message | None = None
        for row in rows:
            message = _message_from_row(row)
            if message.role == "assistant" and message.outcome is None:
                message.outcome = Outcome.STOPPED
            parent_id = row["parent_id"]
            # A parent that is gone (a salvaged file): after the message saved before.
            parent = None if parent_id is None else by_id.get(parent_id, previous)
            conversation.attach(message, parent, row["shown_rank"])
            by_id[row["id"]] = message
            tree.append((message, row["id"]))
            previous = message
        conversation.show_saved_branch()
        ids = {id(message): message_id for message, message_id in tree}
        return SavedConversation(
            record=record,
            conversation=conversation,
            message_ids=tuple(ids[id(message)] for message in conversation.messages),
            tree=tuple(tree),
        )

    def rename(self, conversation_id: int, title: str) -> None:
        """Give the conversation a new title; raises ``RecordNotFound``."""
        with self._write("rename a conversation") as conn:
            self._update_conversation(conn, conversation_id, {"title": encodable(title)})

    def set_conversation_settings(
        self,
        conversation_id: int,
        *,
        model: str | _Unset | None = UNSET,
        system_prompt: str | _Unset | None = UNSET,
        temperature: float | _Unset | None = UNSET,
        max_tokens: int | _Unset | None = UNSET,
        spend_cap: float | _Unset | None = UNSET,
        archived: bool | _Unset = UNSET,
    ) -> None:
        """Change the given settings (None clears one; omitted ones stay). ``RecordNotFound``."""
        changes: dict[str, Any] = {}
        if not isinstance(model, _Unset):
            changes["model"] = _optional_text(model)
        if not isinstance(system_prompt, _Unset):
            changes["system_prompt"] = _optional_text(system_prompt)
        if not isinstance(temperature, _Unset):
            changes["temperature"] = temperature
        if not isinstance(max_tokens, _Unset):
            changes["max_tokens"] = max_tokens
        if not isinstance(spend_cap, _Unset):
            changes["spend_cap"] = spend_cap
        if not isinstance(archived, _Unset):
            changes["archived"] = int(archived)
        with self._write("change conversation settings") as conn:
            self._update_conversation(conn, conversation_id, changes)

    def delete(self, conversation_id: int) -> None:
        """Delete the conversation and all its messages; raises ``RecordNotFound``."""
        with self._write("delete a conversation") as conn:
            cursor = conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            if cursor.rowcount == 0:
                raise RecordNotFound(f"No conversation with id {conversation_id}.")

    def mark_opened(self, conversation_id: int) -> None:
        """Remember that the app is showing this conversation (reopened on the next start)."""
        with self._write("remember the open conversation") as conn:
            cursor = conn.execute(
                "UPDATE conversations SET opened_at = ? WHERE id = ?",
                (self._clock(), conversation_id),
            )
            if cursor.rowcount == 0:
                raise RecordNotFound(f"No conversation with id {conversation_id}.")

    def last_opened_conversation(self) -> ConversationRecord | None:
        """The conversation most recently passed to ``mark_opened``, if it still exists."""
        with self._read("find the last conversation") as conn:
            row = conn.execute(
                """
                SELECT * FROM conversations WHERE opened_at IS NOT NULL
                ORDER BY opened_at DESC, id DESC LIMIT 1
                """
            ).fetchone()
        return None if row is None else _record_from_row(row)

    # -- messages -------------------------------------------------------------------------------

    def append_message(
        self,
        conversation_id: int,
        message: Message,
        *,
        parent_id: int | _Unset | None = UNSET,
        shown_rank: int = 0,
    ) -> int:
        """Add ``message`` to the conversation; return its message id.

        ``parent_id`` is the message it follows (None: a first message, or an alternate of
        one); left out, it follows the conversation's last saved message, as in a conversation
        without branches. ``shown_rank`` is ``Conversation.shown_rank(message)``. Also stamps
        the conversation as updated and, for a reply, records its requested endpoint as the
        conversation's model. Raises ``RecordNotFound``.
        """
        values = _message_values(message)
        with self._write("save a message") as conn:
            # Position is read and used inside the write lock: two writers cannot take the same.
            exists = conn.execute(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if exists is None:
                raise RecordNotFound(f"No conversation with id {conversation_id}.")
            if isinstance(parent_id, _Unset):
                last = conn.execute(
                    "SELECT id FROM messages WHERE conversation_id = ? "
                    "ORDER BY position DESC LIMIT 1",
                    (conversation_id,),
                ).fetchone()
                parent_id = None if last is None else int(last[0])
            cursor = conn.execute(
                """
                INSERT INTO messages (conversation_id, position, role, created_at, content,
                    requested_endpoint, served_endpoint, prompt_tokens, completion_tokens, cost,
                    cost_estimated, tokens_estimated, ttft_ms, duration_ms, outcome, error,
                    gateway, billed_cost, routing_note, parent_id, shown_rank)
                VALUES (:conversation_id,
                    (SELECT COALESCE(MAX(position) + 1, 0) FROM messages
                     WHERE conversation_id = :conversation_id),
                    :role, :created_at, :content, :requested_endpoint, :served_endpoint,
                    :prompt_tokens, :completion_tokens, :cost, :cost_estimated, :tokens_estimated,
                    :ttft_ms, :duration_ms, :outcome, :error,
                    :gateway, :billed_cost, :routing_note, :parent_id, :shown_rank)
                """,
                {
                    **values,
                    "conversation_id": conversation_id,
                    "role": message.role,
                    "created_at": message.created_at,
                    "parent_id": parent_id,
                    "shown_rank": shown_rank,
                },
            )
            message_id = cursor.lastrowid
            assert message_id is not None  # an INSERT always sets it
            conn.execute(
                """
                UPDATE conversations SET updated_at = ?, model = COALESCE(?, model)
                WHERE id = ?
                """,
                (self._clock(), values["requested_endpoint"], conversation_id),
            )
            return message_id

    def update_message(self, message_id: int, message: Message) -> None:
        """Overwrite a saved message's content and figures (a streaming reply's progress).

        One UPDATE in one short transaction, cheap enough to call every second while a reply
        streams. Role, position and creation time stay as first saved. Raises ``RecordNotFound``.
        """
        values = _message_values(message)
        with self._write("save a reply") as conn:
            cursor = conn.execute(
                """
                UPDATE messages SET content = :content,
                    requested_endpoint = :requested_endpoint, served_endpoint = :served_endpoint,
                    prompt_tokens = :prompt_tokens, completion_tokens = :completion_tokens,
                    cost = :cost, cost_estimated = :cost_estimated,
                    tokens_estimated = :tokens_estimated,
                    ttft_ms = :ttft_ms, duration_ms = :duration_ms,
                    outcome = :outcome, error = :error, gateway = :gateway,
                    billed_cost = :billed_cost, routing_note = :routing_note
                WHERE id = :message_id
                """,
                {**values, "message_id": message_id},
            )
            if cursor.rowcount == 0:
                raise RecordNotFound(f"No message with id {message_id}.")

    def set_shown_ranks(self, ranks: dict[int, int]) -> None:
        """A change of branch: each message id's new ``shown_rank`` (the branch now on screen).

        Ids that are gone are skipped (a message deleted since)."""
        if not ranks:
            return
        with self._write("save the branch shown") as conn:
            conn.executemany(
                "UPDATE messages SET shown_rank = ? WHERE id = ?",
                [(rank, message_id) for message_id, rank in ranks.items()],
            )

    def delete_message(self, message_id: int) -> None:
        """Remove one message (a failed reply the user retried); raises ``RecordNotFound``.

        Positions of the others are kept: order stays stable and the gap is harmless.
        """
        with self._write("delete a message") as conn:
            cursor = conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            if cursor.rowcount == 0:
                raise RecordNotFound(f"No message with id {message_id}.")

    # -- search and health ----------------------------------------------------------------------

    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        """Messages containing every word of ``text`` (the last as a prefix), best match first.

        Any text is safe: it is never read as query syntax. Empty text finds nothing.
        """
        query = build_match_query(text)
        if query is None or limit <= 0:
            return []
        with self._read("search conversations") as conn:
            # Rank and cut inside the FTS query (it sorts by rank itself), so snippets are built
            # for the hits shown only, and only for messages short enough for snippet().
            rows = conn.execute(
                """
                SELECT m.conversation_id, m.id AS message_id, c.title, m.role, m.created_at,
                       hit.snippet, hit.rank,
                       CASE WHEN hit.snippet IS NULL THEN m.content END AS long_content
                FROM (
                    SELECT rowid, rank,
                           CASE WHEN length(content) <= ?
                                THEN snippet(messages_fts, 0, ?, ?, ?, ?) END AS snippet
                    FROM messages_fts
                    WHERE messages_fts MATCH ?
                    ORDER BY rank
                    LIMIT ?
                ) AS hit
                JOIN messages AS m ON m.id = hit.rowid
                JOIN conversations AS c ON c.id = m.conversation_id
                ORDER BY hit.rank, m.id DESC
                """,
                (
                    SNIPPET_MAX_CHARS,
                    MATCH_START,
                    MATCH_END,
                    ELLIPSIS,
                    SNIPPET_TOKENS,
                    query,
                    limit,
                ),
            ).fetchall()
        return [
            SearchHit(
                conversation_id=row["conversation_id"],
                message_id=row["message_id"],
                conversation_title=row["title"],
                role=row["role"],
                created_at=row["created_at"],
                snippet=(
                    row["snippet"]
                    if row["snippet"] is not None
                    else excerpt(row["long_content"], text)
                ),
                rank=row["rank"],
            )
            for row in rows
        ]

    def integrity_check(self, *, quick: bool = False, search_index: bool = True) -> list[str]:
        """Problems SQLite finds in the file (``PRAGMA integrity_check``); empty when sound.

        ``quick`` runs ``quick_check`` (skips index-content cross-checks; faster).
        ``search_index`` also checks the search index against the messages (it needs the write
        lock, so it waits while another process writes). Raises ``StoreUnavailable`` if the file
        cannot be read now.
        """
        pragma = "quick_check" if quick else "integrity_check"
        try:
            with self._read("check the conversation database") as conn:
                problems = [str(row[0]) for row in conn.execute(f"PRAGMA {pragma}")]
            if problems == ["ok"] and not search_index:
                return []
            if problems == ["ok"]:
                # The search index against the messages; it reports damage as SQLITE_CORRUPT.
                # The check is an INSERT command, so it needs the write lock.
                with self._write("check the search index") as conn:
                    conn.execute(
                        "INSERT INTO messages_fts (messages_fts, rank)"
                        " VALUES ('integrity-check', 1)"
                    )
                return []
        except StoreCorrupt as exc:
            return [str(exc)]
        return problems

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _conversation_row(conn: sqlite3.Connection, conversation_id: int) -> ConversationRecord:
        row = conn.execute(
            "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise RecordNotFound(f"No conversation with id {conversation_id}.")
        return _record_from_row(row)

    def _update_conversation(
        self, conn: sqlite3.Connection, conversation_id: int, changes: dict[str, Any]
    ) -> None:
        columns = {**changes, "updated_at": self._clock()}
        # Column names come from the fixed keys above, never from the caller.
        assignments = ", ".join(f"{name} = :{name}" for name in columns)
        cursor = conn.execute(
            f"UPDATE conversations SET {assignments} WHERE id = :conversation_id",
            {**columns, "conversation_id": conversation_id},
        )
        if cursor.rowcount == 0:
            raise RecordNotFound(f"No conversation with id {conversation_id}.")


def _move_aside(path: Path, reason: str, now: float) -> Recovery:
    """Rename a damaged database and its -wal/-shm files to ``<name>.corrupt-<timestamp>``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    serial = 1
    while target.exists():
        serial += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{serial}")
    moved: list[Path] = []
    try:
        for suffix in ("", "-wal", "-shm", "-journal"):
            source = path.with_name(path.name + suffix)
            if source.exists():
                destination = target.with_name(target.name + suffix)
                source.rename(destination)
                moved.append(destination)
    except OSError as exc:
        raise StoreUnavailable(
            f"The conversation database {path} is damaged and could not be moved aside: "
            f"{exc.strerror or exc}."
        ) from exc
    if not moved:
        raise StoreError(f"The conversation database {path} was damaged but has vanished.")
    return Recovery(reason=reason, moved_to=target, moved_files=tuple(moved))
