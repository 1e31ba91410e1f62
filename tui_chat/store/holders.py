"""Which conversations another running app holds: one lock file per conversation.

Two apps on one database both appended into the same conversation, interleaved, and neither
showed the other's turns. Each app now holds the conversation it writes to: an advisory lock
(``flock``) on ``<database>.open/<id>.lock``, taken when it starts writing there and let go
when it leaves it or exits. The operating system lets go of the lock when the process ends,
however it ends (kill -9 included), so a lock is never left behind by a dead app; the files
themselves stay, empty of meaning until locked again. Where ``flock`` does not exist the
holds are not kept (nothing is ever "held elsewhere").

The app asks ``held_elsewhere(id)`` before it reopens or opens a conversation: at start-up a
conversation held elsewhere is not reopened (a new one starts, and a notice says why); from
the conversation list it is not opened, with the same notice.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


def holders_folder(database: Path) -> Path:
    """The folder of lock files beside ``database`` (``conversations.db.open``)."""
    return database.with_name(database.name + ".open")


class ConversationHolds:
    """The conversations this process holds in the database at ``database``.

    Thread-safe: the app's writer thread takes holds, the event loop asks about them.
    """

    def __init__(self, database: Path) -> None:
        self.folder = holders_folder(database)
        self._held: dict[int, int] = {}  # conversation id -> the open lock file's descriptor
        self._lock = threading.Lock()

    @property
    def works(self) -> bool:
        return fcntl is not None

    def _path(self, conversation_id: int) -> Path:
        return self.folder / f"{int(conversation_id)}.lock"

    def _open(self, conversation_id: int) -> int | None:
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            return os.open(self._path(conversation_id), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None  # a read-only folder: no holds kept, nothing is refused for it

    def hold(self, conversation_id: int) -> bool:
        """Hold ``conversation_id`` (True), unless another process holds it (False)."""
        if fcntl is None:
            return True
        with self._lock:
            if conversation_id in self._held:
                return True
            descriptor = self._open(conversation_id)
            if descriptor is None:
                return True
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(descriptor)
                return False
            self._held[conversation_id] = descriptor
            return True

    def release(self, conversation_id: int) -> None:
        with self._lock:
            descriptor = self._held.pop(conversation_id, None)
        if descriptor is not None:
            os.close(descriptor)  # (closing lets go of the lock)

    def hold_only(self, conversation_id: int | None) -> bool:
        """Hold ``conversation_id`` and let go of every other; None: hold nothing."""
        with self._lock:
            others = [c for c in self._held if c != conversation_id]
        for other in others:
            self.release(other)
        return True if conversation_id is None else self.hold(conversation_id)

    def held_elsewhere(self, conversation_id: int) -> bool:
        """True when another running app holds ``conversation_id``."""
        if fcntl is None:
            return False
        with self._lock:
            if conversation_id in self._held:
                return False
        if not self._path(conversation_id).exists():
            return False
        descriptor = self._open(conversation_id)
        if descriptor is None:
            return False
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(descriptor)  # (a test lock, let go at once)
        return False

    def close(self) -> None:
        """Let go of every hold (the app is quitting)."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for descriptor in held:
            os.close(descriptor)
