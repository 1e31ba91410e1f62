"""The store's passing faults as the user meets them in the app: nothing typed is ever lost.

Real faults, as in tests/store/test_recorder_faults.py: another process holding the database
locked (``BEGIN EXCLUSIVE``; with ``locking_mode = EXCLUSIVE`` it keeps readers out too), and a
conversation row deleted under the app (a write that can never land).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tests.store.faults import HeldLock, held_lock
from tui_chat.store import Store
from tui_chat.store.journal import JOURNAL_SUFFIX
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.widgets.messages import UserTurn

BUSY_S = 0.3  # the store's busy timeout in these tests: a locked write fails fast, then waits
WAIT_S = 30.0


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "conversations.db"


@pytest.fixture
def stores() -> Iterator[list[Store]]:
    opened: list[Store] = []
    yield opened
    for store in opened:
        store.close()


def _opener(path: Path, stores: list[Store]) -> Callable[[], tuple[Store | None, str | None]]:
    """As the command line opens it (``Store.open_or_recover``), with a short busy timeout."""

    def open_it() -> tuple[Store | None, str | None]:
        store, _recovery = Store.open_or_recover(path, busy_timeout_s=BUSY_S)
        stores.append(store)
        return store, None

    return open_it


def _user_texts(app: UnifyTUI) -> list[str]:
    return [turn.text for turn in app.chat_log.query(UserTurn)]


def _notices(app: UnifyTUI) -> str:
    return " ".join(str(notice.render()) for notice in app.chat_log.query(".notice"))


def _saved_texts(path: Path) -> list[str]:
    with Store.open(path) as store:
        return [
            message.content
            for summary in sorted(store.list_conversations(), key=lambda s: s.id)
            for message in store.load_conversation(summary.id).messages
            if message.role == "user"
        ]


def _recording_toasts(app: UnifyTUI) -> UnifyTUI:
    """Keep the text of every notification the app shows (``app.toasts``), then show it."""
    shown: list[str] = []
    show = app.notify

    def notify(message: str, *args: Any, **kwargs: Any) -> None:
        shown.append(str(message))
        show(message, *args, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    app.toasts = shown  # type: ignore[attr-defined]
    return app


def _toasts(app: UnifyTUI) -> str:
    return " ".join(app.toasts)  # type: ignore[attr-defined]


async def _earlier_session(make_app: Any, path: Path, stores: list[Store], text: str) -> None:
    app = make_app(open_store=_opener(path, stores))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.recorder is not None, timeout=WAIT_S)
        await send(pilot, text)
        await wait_for_reply(pilot)
    while stores:  # as the command line does once the app has gone
        stores.pop().close()


async def test_a_turn_sent_while_another_process_holds_the_lock_is_saved_when_it_goes(
    make_app: Any, db_path: Path, stores: list[Store]
) -> None:
    app = _recording_toasts(make_app(open_store=_opener(db_path, stores)))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.recorder is not None, timeout=WAIT_S)
        await send(pilot, "before the lock")
        await wait_for_reply(pilot)
        lock = HeldLock(db_path)
        try:
            await send(pilot, "sent while the database is locked")
            await wait_for_reply(pilot)
            await wait_until(
                pilot,
                lambda: app.status.saving.startswith("saving… "),
                timeout=WAIT_S,
                what="the pending count",
            )
            assert "pending" in app.status.text
            await wait_until(pilot, lambda: "Not saved yet" in _toasts(app), timeout=WAIT_S)
            assert "locked by another process" in _toasts(app)
        finally:
            lock.release()
        await wait_until(
            pilot, lambda: app.status.saving == "", timeout=WAIT_S, what="the bar to clear"
        )
        assert "pending" not in app.status.text
    assert _saved_texts(db_path) == ["before the lock", "sent while the database is locked"]


async def test_quit_while_locked_says_so_and_the_next_start_saves_the_turn(
    make_app: Any, db_path: Path, stores: list[Store]
) -> None:
    await _earlier_session(make_app, db_path, stores, "landed")
    journal = db_path.with_name(db_path.name + JOURNAL_SUFFIX)
    with held_lock(db_path):
        app = make_app(open_store=_opener(db_path, stores))
        async with app.run_test(size=APP_SIZE) as pilot:
            await wait_until(pilot, lambda: app.recorder is not None, timeout=WAIT_S)
            # The last conversation is reopened though the lock is held (reading still works).
            await wait_until(pilot, lambda: _user_texts(app) == ["landed"], timeout=WAIT_S)
            await send(pilot, "typed, then quit while locked")
            await wait_for_reply(pilot)
            await wait_until(pilot, lambda: "pending" in app.status.text, timeout=WAIT_S)
        # Quit: the writes are kept, and the app says so once the screen has gone.
        note = app.saved.exit_note
        assert note is not None and "saved at the next start" in note and str(journal) in note
        assert journal.exists() and journal.stat().st_mode & 0o777 == 0o600
    assert _saved_texts(db_path) == ["landed"]  # not in the database yet

    app = _recording_toasts(make_app(open_store=_opener(db_path, stores)))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: _user_texts(app) == ["landed", "typed, then quit while locked"],
            timeout=WAIT_S,
            what="the kept turn reopened",
        )
        assert "changes the last session could not save" in _toasts(app)
    assert _saved_texts(db_path) == ["landed", "typed, then quit while locked"]
    assert not journal.exists()


async def test_a_database_locked_at_start_is_waited_for_then_the_last_one_reopened(
    make_app: Any, db_path: Path, stores: list[Store]
) -> None:
    await _earlier_session(make_app, db_path, stores, "from last time")
    lock = HeldLock(db_path, readers_too=True)  # not even readable
    try:
        app = make_app(open_store=_opener(db_path, stores))
        async with app.run_test(size=APP_SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: app.status.saving == "waiting for the database",
                timeout=WAIT_S,
                what="the waiting note",
            )
            assert "Waiting for the database (locked by another process)" in _notices(app)
            lock.release()
            await wait_until(pilot, lambda: _user_texts(app) == ["from last time"], timeout=WAIT_S)
            assert app.status.saving == ""
            await send(pilot, "after it opened")
            await wait_for_reply(pilot)
            assert app.recorder is not None and app.recorder.flush()
    finally:
        lock.release()
    assert _saved_texts(db_path) == ["from last time", "after it opened"]


async def test_a_message_sent_while_waiting_for_the_database_is_saved_once_it_opens(
    make_app: Any, db_path: Path, stores: list[Store]
) -> None:
    await _earlier_session(make_app, db_path, stores, "from last time")
    lock = HeldLock(db_path, readers_too=True)
    try:
        app = make_app(open_store=_opener(db_path, stores))
        async with app.run_test(size=APP_SIZE) as pilot:
            await wait_until(
                pilot, lambda: app.status.saving == "waiting for the database", timeout=WAIT_S
            )
            await send(pilot, "typed while waiting")
            await wait_for_reply(pilot)
            lock.release()
            await wait_until(pilot, lambda: app.recorder is not None, timeout=WAIT_S)
            await wait_until(
                pilot,
                lambda: "typed while waiting" in _saved_texts(db_path),
                timeout=WAIT_S,
            )
            # Not replaced by the last conversation: the new one stays on screen.
            assert _user_texts(app) == ["typed while waiting"]
    finally:
        lock.release()
    assert _saved_texts(db_path) == ["from last time", "typed while waiting"]


async def test_save_failed_goes_from_the_bar_once_a_later_save_lands(
    make_app: Any, db_path: Path, stores: list[Store]
) -> None:
    app = make_app(open_store=_opener(db_path, stores))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.recorder is not None, timeout=WAIT_S)
        await send(pilot, "first")
        await wait_for_reply(pilot)
        assert app.recorder is not None and app.recorder.flush()
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("PRAGMA foreign_keys = ON")  # its messages go with it
        other.execute("DELETE FROM conversations")  # gone under the app: it can never land
        other.close()
        await send(pilot, "into a conversation that is gone")
        await wait_until(pilot, lambda: app.status.saving == "save failed", timeout=WAIT_S)
        await wait_for_reply(pilot)
        await pilot.press("ctrl+n")
        await send(pilot, "a new conversation")
        await wait_for_reply(pilot)
        await wait_until(
            pilot, lambda: app.status.saving == "", timeout=WAIT_S, what="'save failed' to go"
        )
    assert _saved_texts(db_path) == ["a new conversation"]


async def test_quit_before_the_locked_database_ever_opened_keeps_what_was_sent(
    make_app: Any, db_path: Path, stores: list[Store]
) -> None:
    await _earlier_session(make_app, db_path, stores, "from last time")
    journal = db_path.with_name(db_path.name + JOURNAL_SUFFIX)
    with held_lock(db_path, readers_too=True):
        app = make_app(open_store=_opener(db_path, stores))
        async with app.run_test(size=APP_SIZE) as pilot:
            await wait_until(
                pilot, lambda: app.status.saving == "waiting for the database", timeout=WAIT_S
            )
            await send(pilot, "typed, then quit before it opened")
            await wait_for_reply(pilot)
        note = app.saved.exit_note
        assert note is not None and "never opened" in note and str(journal) in note
    assert _saved_texts(db_path) == ["from last time"]

    app = make_app(open_store=_opener(db_path, stores))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: _user_texts(app) == ["typed, then quit before it opened"],
            timeout=WAIT_S,
            what="the kept conversation reopened",
        )
    assert _saved_texts(db_path) == ["from last time", "typed, then quit before it opened"]
    assert not journal.exists()
