"""Saving a live conversation as it happens, without blocking the caller.

The app's event loop must never wait on SQLite's fsync, so every write goes to one writer thread
that applies them in order. A streaming reply is flushed at most once per ``flush_interval_s``
(and always when it ends), so a crash loses at most that much of a reply and never a user's
message, which is written as soon as it is sent.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tui_chat.core.conversation import Message
from tui_chat.store.errors import StoreError
from tui_chat.store.store import Store

log = logging.getLogger(__name__)

_STOP = object()
_TITLE_CHARS = 60
_CREATE_SETTINGS = frozenset({"model", "system_prompt", "temperature", "max_tokens", "spend_cap"})


def title_from_prompt(text: str) -> str:
    """A conversation title from its first prompt: the first line, cut to a readable length."""
    first = " ".join(text.strip().split("\n", 1)[0].split())
    if len(first) > _TITLE_CHARS:
        first = first[: _TITLE_CHARS - 1].rstrip() + "…"
    return first or "New conversation"


class ConversationRecorder:
    """Writes one conversation's messages to a ``Store`` on a background thread, in order.

    ``on_error`` is called (on the writer thread) with each failure's plain message; the caller
    decides how to tell the user. Writes after a failure are still attempted.
    """

    def __init__(
        self,
        store: Store,
        *,
        on_error: Callable[[str], None] | None = None,
        flush_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.conversation_id: int | None = None
        self._on_error = on_error
        self._flush_interval_s = flush_interval_s
        self._clock = clock
        self._ids: dict[int, int] = {}  # id(Message) -> message id in the store
        self._last_flush: dict[int, float] = {}  # id(Message) -> clock time of last flush
        # Settings given before the conversation has a row, used when its first message makes one.
        self._pending_settings: dict[str, Any] = {}
        self._tasks: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="conversation-writer", daemon=True)
        self._thread.start()

    # -- what the caller tells it ------------------------------------------------------------

    def attach(
        self, conversation_id: int | None, messages: list[Message], ids: tuple[int, ...]
    ) -> None:
        """Continue a loaded conversation (``ids[i]`` is the store id of ``messages[i]``)."""

        self._last_flush.clear()  # only ever touched on the caller's thread
        pairs = dict(zip((id(m) for m in messages), ids, strict=True))

        def task() -> None:
            self.conversation_id = conversation_id
            self._ids = pairs  # only ever touched on the writer thread
            self._pending_settings = {}
            if conversation_id is not None:
                self.store.mark_opened(conversation_id)

        self._submit(task)

    def detach(self) -> None:
        """Start afresh: the next message creates a new conversation."""
        self.attach(None, [], ())

    def message_added(self, message: Message, *, model: str | None = None) -> None:
        """Save a new message (the conversation is created on its first message)."""
        snapshot = replace(message)
        key = id(message)

        def task() -> None:
            if self.conversation_id is None:
                title = title_from_prompt(snapshot.content) if snapshot.role == "user" else None
                settings = {
                    name: value
                    for name, value in self._pending_settings.items()
                    if name in _CREATE_SETTINGS
                }
                if model is not None:
                    settings["model"] = model
                self._pending_settings = {}
                record = self.store.create_conversation(title or "New conversation", **settings)
                self.conversation_id = record.id
                self.store.mark_opened(record.id)
            self._ids[key] = self.store.append_message(self.conversation_id, snapshot)

        self._last_flush[key] = self._clock()
        self._submit(task)

    def message_changed(self, message: Message, *, final: bool = False) -> None:
        """A reply grew or ended: written at most once per flush interval, unless final."""
        key = id(message)
        now = self._clock()
        if not final and now - self._last_flush.get(key, 0.0) < self._flush_interval_s:
            return
        self._last_flush[key] = now
        snapshot = replace(message)

        def task() -> None:
            message_id = self._ids.get(key)
            if message_id is not None:
                self.store.update_message(message_id, snapshot)

        self._submit(task)

    def message_removed(self, message: Message) -> None:
        key = id(message)

        def task() -> None:
            message_id = self._ids.pop(key, None)
            if message_id is not None:
                self.store.delete_message(message_id)

        self._submit(task)

    def settings_changed(self, **settings: Any) -> None:
        """Store per-conversation settings (model, system_prompt, temperature, max_tokens, ...).

        Before the conversation has a row they are kept and used when its first message creates it.
        """

        def task() -> None:
            if self.conversation_id is None:
                self._pending_settings.update(settings)
            else:
                self.store.set_conversation_settings(self.conversation_id, **settings)

        self._submit(task)

    def call(self, function: Callable[[], Any]) -> None:
        """Run any other store operation in order with the writes."""
        self._submit(function)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every write so far is done; False if that took longer than ``timeout``."""
        done = threading.Event()
        self._submit(done.set)
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Finish the queued writes and stop the writer thread (the store stays open)."""
        if self._thread.is_alive():
            self._tasks.put(_STOP)
            self._thread.join(timeout)

    # -- the writer thread ---------------------------------------------------------------------

    def _submit(self, task: Callable[[], Any]) -> None:
        self._tasks.put(task)

    def _run(self) -> None:
        while True:
            task = self._tasks.get()
            if task is _STOP:
                return
            try:
                task()
            except StoreError as error:
                self._report(str(error))
            except Exception as error:  # a bug in a write must not kill the writer
                log.exception("conversation writer failed")
                self._report(f"Could not save: {type(error).__name__}: {error}")

    def _report(self, message: str) -> None:
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:
                log.exception("on_error callback failed")
