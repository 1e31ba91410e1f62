"""What the saving side tells the app: typed messages posted from thread workers.

The store is read and written off the event loop (the recorder's writer thread, thread workers);
each worker ends by posting one of these to the app (``App.post_message`` is thread-safe and
refuses, returning False, once the app is closing). The app's ``@on`` handlers hand them to its
``SavedConversations``. The conversation list screen posts the last two.

A leaf module (no store, no screens): the app imports it at start-up, before sqlite3 is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from tui_chat.store import Store


class StoreOpened(Message):
    """The database was opened after the first frame (or could not be: ``store`` None)."""

    def __init__(self, store: Store | None, notice: str | None) -> None:
        super().__init__()
        self.store = store
        self.notice = notice  # for the user: a recovered file, or why nothing is saved


class ConversationListReady(Message):
    """What was said so far is written: the conversation list can be shown."""


class ExportWritten(Message):
    """An export was written to ``path``."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path


class ExportFailed(Message):
    """An export could not be written to ``path`` in ``folder``, for ``reason``."""

    def __init__(self, folder: Path, path: Path, reason: str) -> None:
        super().__init__()
        self.folder = folder
        self.path = path
        self.reason = reason


class SaveFailed(Message):
    """A read or write of the store failed (posted from the writer thread or a worker)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class SavesWaiting(Message):
    """``count`` writes wait for a passing reason (``reason``, in words); 0: all have landed and
    saving works again (after any failure)."""

    def __init__(self, count: int, reason: str | None) -> None:
        super().__init__()
        self.count = count
        self.reason = reason


class StoreWaiting(Message):
    """The database could not be opened yet for a passing reason (locked): trying again."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class ConversationDeleted(Message):
    """Posted by the conversation list: a conversation was deleted (maybe the one on screen)."""

    def __init__(self, conversation_id: int) -> None:
        super().__init__()
        self.conversation_id = conversation_id


class ConversationWriteFailed(Message):
    """Posted by the conversation list: a rename or delete failed, for ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
