"""Saving a live conversation as it happens, without blocking the caller, and without dropping it.

The app's event loop must never wait on SQLite's fsync, so every write goes to one writer thread
that applies them in order. A streaming reply is flushed at most once per ``flush_interval_s``
(and always when it ends), so a crash loses at most that much of a reply and never a user's
message, which is written as soon as it is sent.

A write refused for a passing reason (``StoreRetryable``: locked beyond the busy timeout, disk
full, an I/O error, read-only; or ``StoreCorrupt``, which the next start repairs) is not dropped:
it stays at the head of the queue and is tried again after 0.5 s, doubling up to 30 s, and every
write after it waits behind it, so the order holds (an update of a reply whose append has not
landed lands after it). While writes wait they are kept in the journal file beside the database
(``store.journal``), rewritten as they change, and removed once they have all landed; a quit, a
crash or a kill leaves it there and the next recorder on that database applies it first. Only a
write the database can never take (a missing conversation, a constraint) is reported as failed
and dropped.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from tui_chat.core.conversation import Message
from tui_chat.store.errors import RecordNotFound, StoreCorrupt, StoreError, StoreRetryable
from tui_chat.store.journal import (
    ROOT,
    Append,
    Attach,
    Delete,
    Op,
    Resume,
    Settings,
    Shown,
    Update,
    WriterState,
    journal_paths,
    read_journal,
    referenced_refs,
    write_journal,
)
from tui_chat.store.store import Store

log = logging.getLogger(__name__)

_TITLE_CHARS = 60
_CREATE_SETTINGS = frozenset({"model", "system_prompt", "temperature", "max_tokens", "spend_cap"})
RETRY_FIRST_S = 0.5
RETRY_MOST_S = 30.0

PendingCallback = Callable[[int, "str | None"], None]


def title_from_prompt(text: str) -> str:
    """A conversation title from its first prompt: the first line, cut to a readable length."""
    first = " ".join(text.strip().split("\n", 1)[0].split())
    if len(first) > _TITLE_CHARS:
        first = first[: _TITLE_CHARS - 1].rstrip() + "…"
    return first or "New conversation"


@dataclass
class _Item:
    """One entry of the writer's queue: a write, another store call, or a flush marker."""

    work: Op | Callable[[], Any] | threading.Event
    from_journal: bool = False  # left by an earlier session, replayed now


@dataclass(frozen=True)
class Replayed:
    """What the recorder found left by an earlier session: ``writes`` to apply, from ``path``."""

    path: Path
    writes: int
    unreadable_lines: int


class ConversationRecorder:
    """Writes one conversation's messages to a ``Store`` on a background thread, in order.

    ``on_error`` is called (on the writer thread) with the plain message of a write that was
    dropped (it can never land). ``on_pending(count, reason)`` is called when writes start to
    wait for a passing reason (``count`` waiting, ``reason`` in words), as the count changes, and
    with ``(0, None)`` once saving works again after any failure (clear "save failed").
    ``journal`` False keeps waiting writes in memory only (no file beside the database).
    """

    def __init__(
        self,
        store: Store,
        *,
        on_error: Callable[[str], None] | None = None,
        on_pending: PendingCallback | None = None,
        flush_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        journal: bool = True,
        retry_first_s: float = RETRY_FIRST_S,
        retry_most_s: float = RETRY_MOST_S,
    ) -> None:
        self.store = store
        self._on_error = on_error
        self._on_pending = on_pending
        self._flush_interval_s = flush_interval_s
        self._clock = clock
        self._retry_first_s = retry_first_s
        self._retry_most_s = retry_most_s
        # Caller's thread: which ref each live message has, and when it was last flushed.
        self._refs: dict[int, int] = {}  # id(Message) -> ref
        self._next_ref = itertools.count(1)
        self._last_flush: dict[int, float] = {}  # ref -> clock time of the last flush
        # Writer's thread: the state the writes build on.
        self._state = WriterState()
        # Shared, under the condition's lock.
        self._ready = threading.Condition()
        self._queue: deque[_Item] = deque()
        self._submitted = 0  # how many times something was queued (the journal follows it)
        self._current: _Item | None = None  # being applied, or waiting to be tried again
        self._stopping = False
        self._abandoned = False  # close() gave up waiting: the writer must not touch the journal
        self._journal_lock = threading.Lock()
        self._journal_paths = journal_paths(store.path) if journal else ()
        self.journal_file: Path | None = None  # where the waiting writes are kept, if anywhere
        self.journal_problem: str | None = None  # why they could not be kept, if so
        self.waiting_reason: str | None = None  # set while writes wait (for the user)
        self._failed_since_clean = False
        self.replayed = self._load_journal()
        self._thread = threading.Thread(target=self._run, name="conversation-writer", daemon=True)
        self._thread.start()

    @property
    def conversation_id(self) -> int | None:
        """The store id of the conversation written to (None until its first message lands)."""
        return self._state.conversation_id

    @property
    def pending(self) -> int:
        """How many writes are queued or waiting to be tried again (flush markers not counted)."""
        with self._ready:
            return self._count_writes()

    # -- what the caller tells it ------------------------------------------------------------

    def attach(
        self,
        conversation_id: int | None,
        messages: list[Message] | tuple[Message, ...],
        ids: tuple[int, ...],
    ) -> None:
        """Continue a loaded conversation (``ids[i]`` is the store id of ``messages[i]``; give
        every message of every branch, ``SavedConversation.every_message()``)."""
        self._last_flush.clear()  # only ever touched on the caller's thread
        self._refs = {}
        pairs: dict[int, int] = {}
        for message, message_id in zip(messages, ids, strict=True):
            ref = self._ref_for(message)
            pairs[ref] = message_id
        self._submit(Attach(conversation_id, pairs))

    def detach(self) -> None:
        """Start afresh: the next message creates a new conversation."""
        self.attach(None, [], ())

    def message_added(
        self,
        message: Message,
        *,
        model: str | None = None,
        parent: Message | Literal["last"] | None = "last",
        shown_rank: int = 0,
    ) -> None:
        """Save a new message (the conversation is created on its first message).

        ``parent`` is the message it follows (``Conversation.parent_of``; None: a first
        message); "last" puts it after the last message saved (a conversation without
        branches). ``shown_rank`` is ``Conversation.shown_rank(message)``."""
        parent_ref: int | None = None
        if parent is None:
            parent_ref = ROOT
        elif parent != "last":
            parent_ref = self._refs.get(id(parent))
        ref = self._ref_for(message)
        self._last_flush[ref] = self._clock()
        self._submit(Append(ref, replace(message), model, parent_ref, shown_rank))

    def branch_shown(self, ranks: list[tuple[Message, int]]) -> None:
        """The branch on screen changed: save each message's new shown rank (the branch)."""
        known = {
            self._refs[id(message)]: rank for message, rank in ranks if id(message) in self._refs
        }
        if known:
            self._submit(Shown(known))

    def message_changed(self, message: Message, *, final: bool = False) -> None:
        """A reply grew or ended: written at most once per flush interval, unless final."""
        ref = self._refs.get(id(message))
        if ref is None:
            return  # never added (or added to a conversation left since)
        now = self._clock()
        if not final and now - self._last_flush.get(ref, 0.0) < self._flush_interval_s:
            return
        self._last_flush[ref] = now
        self._submit(Update(ref, replace(message)))

    def message_removed(self, message: Message) -> None:
        ref = self._refs.pop(id(message), None)
        if ref is not None:
            self._submit(Delete(ref))

    def settings_changed(self, **settings: Any) -> None:
        """Store per-conversation settings (model, system_prompt, temperature, max_tokens, ...).

        Before the conversation has a row they are kept and used when its first message creates it.
        """
        self._submit(Settings(dict(settings)))

    def call(self, function: Callable[[], Any]) -> None:
        """Run any other store operation in order with the writes (not kept in the journal)."""
        self._submit(function)

    def flush(self, timeout: float = 5.0, *, unless_waiting: bool = False) -> bool:
        """Wait until every write so far is done; False if that took longer than ``timeout``
        (writes waiting for a locked or full database count as not done). ``unless_waiting``:
        return False at once while writes wait for a passing reason (the caller would only be
        kept waiting: the list or an export then goes on without them)."""
        if unless_waiting and self.waiting_reason is not None:
            return False
        done = threading.Event()
        self._submit(done)
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> int:
        """Finish the queued writes and stop the writer thread (the store stays open).

        Writes that cannot land now are not tried again: they stay in the journal
        (``journal_file``; ``journal_problem`` says why, if they could not be kept) for the next
        start. Returns how many writes were left waiting. ``timeout`` covers a write already
        waiting on a locked database (up to the store's busy timeout, 5 s).
        """
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():  # still inside SQLite: keep what is queued from here
            with self._journal_lock:
                self._abandoned = True
                with self._ready:
                    items = ([self._current] if self._current is not None else []) + list(
                        self._queue
                    )
                self._keep_in_journal_locked(items)
        return self.pending

    # -- the caller's side ------------------------------------------------------------------

    def _ref_for(self, message: Message) -> int:
        ref = self._refs.get(id(message))
        if ref is None:
            ref = next(self._next_ref)
            self._refs[id(message)] = ref
        return ref

    def _submit(self, work: Op | Callable[[], Any] | threading.Event) -> None:
        with self._ready:
            last = self._queue[-1] if self._queue else None
            if (
                isinstance(work, Update)
                and last is not None
                and isinstance(last.work, Update)
                and last.work.ref == work.ref
                and not last.from_journal
            ):
                # A newer snapshot of the same reply, not yet begun: it replaces the older one
                # (a reply streaming into a locked database does not pile up one per second).
                self._queue[-1] = _Item(work)
            else:
                self._queue.append(_Item(work))
            self._submitted += 1
            self._ready.notify_all()

    def _load_journal(self) -> Replayed | None:
        """Queue the writes earlier sessions left in the journal, ahead of everything else."""
        paths: list[Path] = []
        writes = unreadable = 0
        for index, path in enumerate(self._journal_paths):
            found = read_journal(path)
            if found is None:
                continue
            ops, skipped = found
            # Refs are renumbered past this session's, so they never meet a live message's.
            offset = 1_000_000_000 * (index + 1)
            for op in ops:
                self._queue.append(_Item(_renumbered(op, offset), from_journal=True))
            paths.append(path)
            writes += sum(1 for op in ops if not isinstance(op, Resume))
            unreadable += skipped
        if not paths:
            return None
        # This session's own writes start from a clean state.
        self._queue.append(_Item(Resume(None, {}, {}), from_journal=True))
        self.journal_file = paths[0]
        return Replayed(paths[0], writes, unreadable)

    # -- the writer thread ---------------------------------------------------------------------

    def _count_writes(self) -> int:
        items = ([self._current] if self._current is not None else []) + list(self._queue)
        return sum(1 for item in items if _counts(item))

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._stopping:
                    self._ready.wait()
                if not self._queue:
                    return
                item = self._queue.popleft()
                self._current = item
            if isinstance(item.work, threading.Event):
                item.work.set()
                self._current = None
                continue
            outcome = self._apply_until_done(item)
            if outcome == "stopping":
                return  # stopping with writes still waiting: they are in the journal
            with self._ready:
                self._current = None
                remaining = self._count_writes()
            self._landed(remaining, dropped=outcome == "dropped")

    def _apply_until_done(self, item: _Item) -> Literal["landed", "dropped", "stopping"]:
        """Apply one item, trying again while it fails for a passing reason: "landed",
        "dropped" (it can never land: reported), or "stopping" with it still waiting (kept in
        the journal)."""
        delay = self._retry_first_s
        while True:
            try:
                # A write that had nothing to do (an update of a message never saved) says
                # nothing about whether saving works again.
                return "landed" if self._apply(item.work) else "dropped"
            except (StoreRetryable, StoreCorrupt) as error:
                self._waiting(error)
            except StoreError as error:
                self._dropped(str(error))
                return "dropped"
            except Exception as error:  # a bug in a write must not kill the writer
                log.exception("conversation writer failed")
                self._dropped(f"Could not save: {type(error).__name__}: {error}")
                return "dropped"
            if not self._wait_to_retry(delay):
                self._keep_waiting_writes()
                return "stopping"
            delay = min(delay * 2, self._retry_most_s)

    def _wait_to_retry(self, delay: float) -> bool:
        """Sleep ``delay`` seconds; whatever is queued meanwhile goes into the journal at once.
        False: the recorder is closing."""
        deadline = time.monotonic() + delay
        while True:
            with self._ready:
                if self._stopping:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                seen = self._submitted
                self._ready.wait(left)
                changed = self._submitted != seen and not self._stopping
            if changed:
                self._keep_waiting_writes()
                self._report_pending()

    def _apply(self, work: Op | Callable[[], Any] | threading.Event) -> bool:
        """Apply one item; whether it wrote to the database (False: nothing to do)."""
        state, store = self._state, self.store
        match work:
            case Resume(conversation_id=conversation_id, ids=ids, pending_settings=settings):
                self._state = WriterState(conversation_id, dict(ids), dict(settings))
                return False
            case Attach(conversation_id=conversation_id, ids=ids):
                if conversation_id is not None:
                    store.mark_opened(conversation_id)
                state.conversation_id = conversation_id
                state.ids = dict(ids)
                state.pending_settings = {}
                return conversation_id is not None
            case Append(ref=ref, message=message, model=model, parent=parent, shown_rank=rank):
                if state.conversation_id is None:
                    title = title_from_prompt(message.content) if message.role == "user" else None
                    settings = {
                        name: value
                        for name, value in state.pending_settings.items()
                        if name in _CREATE_SETTINGS
                    }
                    if model is not None:
                        settings["model"] = model
                    record = store.create_conversation(
                        title or "New conversation", opened=True, **settings
                    )
                    state.conversation_id = record.id
                    state.pending_settings = {}
                if parent is None or (parent != ROOT and parent not in state.ids):
                    # After the last saved (an older journal, or a parent that never landed).
                    state.ids[ref] = store.append_message(
                        state.conversation_id, message, shown_rank=rank
                    )
                else:
                    parent_id = None if parent == ROOT else state.ids[parent]
                    state.ids[ref] = store.append_message(
                        state.conversation_id, message, parent_id=parent_id, shown_rank=rank
                    )
                return True
            case Shown(ranks=ranks):
                by_id = {state.ids[ref]: rank for ref, rank in ranks.items() if ref in state.ids}
                store.set_shown_ranks(by_id)
                return bool(by_id)
            case Update(ref=ref, message=message):
                message_id = state.ids.get(ref)
                if message_id is None:
                    return False
                store.update_message(message_id, message)
                return True
            case Delete(ref=ref):
                message_id = state.ids.get(ref)
                if message_id is None:
                    return False
                try:
                    store.delete_message(message_id)
                except RecordNotFound:
                    pass  # gone already: what was asked for
                state.ids.pop(ref, None)
                return True
            case Settings(settings=settings):
                if state.conversation_id is None:
                    state.pending_settings.update(settings)
                    return False
                store.set_conversation_settings(state.conversation_id, **settings)
                return True
            case threading.Event():
                work.set()
                return False
            case _:
                work()
                return True

    def _waiting(self, error: StoreError) -> None:
        """A write failed for a passing reason: keep everything waiting, say so once."""
        first = self.waiting_reason is None
        if isinstance(error, StoreCorrupt):
            reason = "the database is damaged (it is repaired at the next start)"
        elif isinstance(error, StoreRetryable):
            reason = error.cause.rstrip(".")
        else:
            reason = str(error).rstrip(".")
        self.waiting_reason = reason
        if first:
            damage = self._damage()
            if damage is not None and not isinstance(error, StoreCorrupt):
                self.waiting_reason = reason = (
                    f"the database is damaged (it is repaired at the next start): {damage}"
                )
            if isinstance(error, StoreCorrupt) or damage is not None:
                self._report(
                    f"The conversation database is damaged ({damage or error}). What you send "
                    "is kept and saved once it is repaired at the next start."
                )
        self._keep_waiting_writes()
        self._report_pending()

    def _damage(self) -> str | None:
        """After a failed write: does the file read as damaged? (``quick_check``; None if sound
        or if it cannot be read now, e.g. locked)."""
        try:
            problems = self.store.integrity_check(quick=True, search_index=False)
        except StoreError:
            return None
        return "; ".join(problems[:3]) if problems else None

    def _dropped(self, message: str) -> None:
        self._failed_since_clean = True
        self._report(message)

    def _landed(self, remaining: int, *, dropped: bool = False) -> None:
        """An item is done with (``dropped``: it did not write: it never can, or had nothing to
        do); ``remaining`` wait behind it."""
        was_waiting = self.waiting_reason is not None
        if was_waiting or self.journal_file is not None:
            if remaining:
                self._keep_waiting_writes()
            else:
                self._remove_journal()
        if was_waiting:
            if remaining:
                self._report_pending()
                return
            self.waiting_reason = None
        if remaining:
            return
        if self._failed_since_clean:
            if not dropped:  # a write landed after one was dropped: "save failed" can go
                self._failed_since_clean = False
                self._call_pending(0, None)
        elif was_waiting:
            self._call_pending(0, None)  # everything that waited is in

    def _report_pending(self) -> None:
        with self._ready:
            count = self._count_writes()
        self._call_pending(count, self.waiting_reason)

    # -- the journal --------------------------------------------------------------------------

    def _keep_waiting_writes(self) -> None:
        with self._journal_lock:
            if self._abandoned:
                return
            with self._ready:
                items = ([self._current] if self._current is not None else []) + list(self._queue)
            self._keep_in_journal_locked(items)

    def _keep_in_journal_locked(self, items: list[_Item]) -> None:
        ops: list[Op] = [item.work for item in items if _is_op(item.work)]  # type: ignore[misc]
        calls = sum(1 for item in items if not _is_op(item.work) and _counts(item))
        if calls:
            log.warning("%d store calls waiting cannot be kept in the journal", calls)
        if not self._journal_paths:
            return
        if not ops:
            self._remove_journal_locked()
            return
        wanted = referenced_refs(ops)
        state = self._state
        resume = Resume(
            state.conversation_id,
            {ref: message_id for ref, message_id in state.ids.items() if ref in wanted},
            dict(state.pending_settings),
        )
        problems: list[str] = []
        for path in self._journal_paths:
            try:
                write_journal(path, [resume, *ops])
            except OSError as error:
                problems.append(f"{path}: {error.strerror or error}")
                continue
            for other in self._journal_paths:
                if other != path:
                    _unlink(other)  # one journal only: an older one's writes are in this one
            self.journal_file = path
            self.journal_problem = None
            return
        self.journal_problem = "; ".join(problems)
        log.warning("could not keep the waiting writes: %s", self.journal_problem)

    def _remove_journal(self) -> None:
        with self._journal_lock:
            if not self._abandoned:
                self._remove_journal_locked()

    def _remove_journal_locked(self) -> None:
        for path in self._journal_paths:
            _unlink(path)
        self.journal_file = None

    def _report(self, message: str) -> None:
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:
                log.exception("on_error callback failed")

    def _call_pending(self, count: int, reason: str | None) -> None:
        if self._on_pending is not None:
            try:
                self._on_pending(count, reason)
            except Exception:
                log.exception("on_pending callback failed")


def _is_op(work: object) -> bool:
    return isinstance(work, Resume | Attach | Append | Update | Delete | Settings | Shown)


def _counts(item: _Item) -> bool:
    """Whether an item is a write the user would count (not a flush marker or a Resume)."""
    return not isinstance(item.work, threading.Event | Resume)


def _renumbered(op: Op, offset: int) -> Op:
    match op:
        case Resume(conversation_id=conversation_id, ids=ids, pending_settings=settings):
            moved = {ref + offset: mid for ref, mid in ids.items()}
            return Resume(conversation_id, moved, settings)
        case Attach(conversation_id=conversation_id, ids=ids):
            return Attach(conversation_id, {ref + offset: mid for ref, mid in ids.items()})
        case Append(parent=parent):
            moved_parent = parent + offset if parent else parent  # ROOT and None stay
            return replace(op, ref=op.ref + offset, parent=moved_parent)
        case Update() | Delete():
            return replace(op, ref=op.ref + offset)
        case Shown(ranks=ranks):
            return Shown({ref + offset: rank for ref, rank in ranks.items()})
    return op


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as error:
        log.warning("could not remove %s: %s", path, error)
