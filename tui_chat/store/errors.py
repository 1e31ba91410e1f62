"""The store's exceptions: one hierarchy, so the app maps them to a user message in one place.

- ``StoreUnavailable``: the database cannot be used (read-only or missing directory, closed).
  At start the app keeps chatting without saving.
- ``StoreRetryable`` (a ``StoreUnavailable``): a write failed for a passing reason (locked for
  longer than the busy timeout, disk full, an I/O error, the file made read-only): the same write
  may land later, so the recorder keeps it and tries again.
- ``StoreTooNew`` (a ``StoreUnavailable``): the file was written by a newer unify-tui.
- ``StoreCorrupt``: the file is not a database or is damaged. ``Store.open_or_recover`` moves it
  aside and starts a fresh one.
- ``RecordNotFound``: a conversation or message id that does not exist (or was deleted).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_CORRUPT_WORDS = ("file is not a database", "malformed", "database disk image")
# Result codes (the low byte of an extended code) that say "not now" rather than "never".
_PASSING_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_INTERRUPT,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)


_PASSING_CAUSES = {
    sqlite3.SQLITE_FULL: "the disk holding the database is full",
    sqlite3.SQLITE_IOERR: "the disk could not be written (an I/O error)",
    sqlite3.SQLITE_READONLY: "the database has become read-only",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
    sqlite3.SQLITE_NOMEM: "SQLite ran out of memory",
}


class StoreError(Exception):
    """Anything that went wrong in the conversation store; ``str(err)`` is a sentence."""


class StoreUnavailable(StoreError):
    """The database cannot be opened or written (permissions, disk full, locked, closed)."""


class StoreRetryable(StoreUnavailable):
    """A passing failure (locked, disk full, I/O error, read-only): the same call may work later.

    ``locked`` is True when another connection holds the database (busy); ``cause`` says what
    happened in a few words for the user ("the disk is full").
    """

    def __init__(
        self,
        message: str,
        *,
        locked: bool = False,
        cause: str | None = None,
        path: Path | None = None,
    ) -> None:
        super().__init__(message)
        self.locked = locked
        self.cause = cause or ("the database is locked by another process" if locked else message)
        self.path = path  # the database file, when known


class StoreTooNew(StoreUnavailable):
    """The database's schema version is newer than this program knows."""


class StoreCorrupt(StoreError):
    """The database file is damaged or is not an SQLite database at all."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class RecordNotFound(StoreError, LookupError):
    """No conversation or message with that id."""


def is_corruption(exc: sqlite3.Error) -> bool:
    """Whether an sqlite3 error means the file itself is damaged."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _CORRUPT_CODES:
        return True
    text = str(exc).lower()
    return any(word in text for word in _CORRUPT_WORDS)


def is_passing(exc: sqlite3.Error) -> bool:
    """Whether an sqlite3 error may go away by itself (a lock, a full disk, an I/O error)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _PASSING_CODES
    text = str(exc).lower()  # an error raised without a code: judged by SQLite's words
    return "locked" in text or "disk is full" in text or "disk i/o error" in text


def as_store_error(exc: sqlite3.Error, action: str, path: Path | None) -> StoreError:
    """Translate an sqlite3 error raised while doing ``action`` (a verb phrase)."""
    where = f" ({path})" if path is not None else ""
    if is_corruption(exc):
        return StoreCorrupt(f"The conversation database{where} is damaged: {exc}.", path)
    if is_passing(exc):
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        text = str(exc).lower()
        locked = (
            primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if primary is not None
            else "locked" in text
        )
        cause = _PASSING_CAUSES.get(primary) if primary is not None else None
        if cause is None and "full" in text:
            cause = "the disk holding the database is full"
        if cause is not None:
            cause += where
        return StoreRetryable(
            f"Could not {action}{where}: {exc}.", locked=locked, cause=cause, path=path
        )
    return StoreUnavailable(f"Could not {action}{where}: {exc}.")


@contextmanager
def translated(action: str, path: Path | None) -> Iterator[None]:
    """Re-raise any sqlite3 error inside the block as the matching ``StoreError``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise as_store_error(exc, action, path) from exc
