"""What the saving side tells the app: typed messages posted from thread workers.

The store is read and written off the event loop (the recorder's writer thread, thread workers);
each worker ends by posting one of these to the app (``App.post_message`` is thread-safe and
refuses, returning False, once the app is closing). The app's ``@on`` handlers hand them to its
``SavedConversations``. The conversation list screen posts the last two.

A leaf module (no store, no screens): the app imports it at start-up, before sqlite3 is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from tui_chat.store import Store


@dataclass
class StoreOpened(Message):
    """The database was opened after the first frame (or could not be: ``store`` None)."""

    store: Store | None
    notice: str | None  # for the user: a recovered file, or why nothing is saved


@dataclass
class ConversationListReady(Message):
    """What was said so far is written: the conversation list can be shown."""


@dataclass
class ExportWritten(Message):
    """An export was written to ``path``."""

    path: Path


@dataclass
class ExportFailed(Message):
    """An export could not be written to ``path`` in ``folder``, for ``reason``."""

    folder: Path
    path: Path
    reason: str


@dataclass
class SaveFailed(Message):
    """A read or write of the store failed (posted from the writer thread or a worker)."""

    text: str


@dataclass
class ConversationDeleted(Message):
    """Posted by the conversation list: a conversation was deleted (maybe the one on screen)."""

    conversation_id: int


@dataclass
class ConversationWriteFailed(Message):
    """Posted by the conversation list: a rename or delete failed, for ``text``."""

    text: str
