"""The store's exceptions: one hierarchy, so the app maps them to a user message in one place.

- ``StoreUnavailable``: the database cannot be used right now (read-only or missing directory,
  disk full, locked for longer than the busy timeout). The app keeps chatting without saving.
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


class StoreError(Exception):
    """Anything that went wrong in the conversation store; ``str(err)`` is a sentence."""


class StoreUnavailable(StoreError):
    """The database cannot be opened or written (permissions, disk full, locked, closed)."""


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


def as_store_error(exc: sqlite3.Error, action: str, path: Path | None) -> StoreError:
    """Translate an sqlite3 error raised while doing ``action`` (a verb phrase)."""
    where = f" ({path})" if path is not None else ""
    if is_corruption(exc):
        return StoreCorrupt(f"The conversation database{where} is damaged: {exc}.", path)
    return StoreUnavailable(f"Could not {action}{where}: {exc}.")


@contextmanager
def translated(action: str, path: Path | None) -> Iterator[None]:
    """Re-raise any sqlite3 error inside the block as the matching ``StoreError``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise as_store_error(exc, action, path) from exc
