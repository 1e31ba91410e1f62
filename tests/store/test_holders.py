"""Which conversations another running app holds (tui_chat/store/holders.py)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui_chat.store.holders import ConversationHolds, holders_folder

pytestmark = pytest.mark.skipif(os.name != "posix", reason="flock is POSIX")


def test_a_held_conversation_is_held_elsewhere_for_everyone_else(tmp_path: Path) -> None:
    db = tmp_path / "conversations.db"
    mine, theirs = ConversationHolds(db), ConversationHolds(db)  # as two apps would
    assert not theirs.held_elsewhere(7)  # nobody holds it yet (no lock file even)
    assert mine.hold(7)
    assert mine.hold(7)  # holding it again is fine
    assert theirs.held_elsewhere(7) and not mine.held_elsewhere(7)
    assert not theirs.hold(7)
    assert not theirs.held_elsewhere(8)
    mine.release(7)
    assert not theirs.held_elsewhere(7)
    assert theirs.hold(7)
    assert mine.held_elsewhere(7)
    theirs.close()
    assert not mine.held_elsewhere(7)


def test_hold_only_lets_go_of_the_conversation_left(tmp_path: Path) -> None:
    db = tmp_path / "conversations.db"
    mine, theirs = ConversationHolds(db), ConversationHolds(db)
    mine.hold_only(1)
    mine.hold_only(2)
    assert not theirs.held_elsewhere(1) and theirs.held_elsewhere(2)
    mine.hold_only(None)
    assert not theirs.held_elsewhere(2)


def test_the_lock_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "conversations.db"
    ConversationHolds(db).hold(3)
    folder = holders_folder(db)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "3.lock").stat().st_mode) == 0o600


def test_a_killed_app_holds_nothing(tmp_path: Path) -> None:
    db = tmp_path / "conversations.db"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from tui_chat.store.holders import ConversationHolds\n"
            f"assert ConversationHolds(Path({str(db)!r})).hold(5)\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        mine = ConversationHolds(db)
        assert mine.held_elsewhere(5)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 5
        while mine.held_elsewhere(5):
            assert time.monotonic() < deadline, "the dead app's hold stayed"
            time.sleep(0.01)
        assert mine.hold(5)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def test_a_folder_that_cannot_be_written_refuses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_chat.store.holders as holders

    def refused(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(holders.os, "open", refused)  # a read-only folder, even for root
    holds = ConversationHolds(tmp_path / "conversations.db")
    assert holds.hold(1)
    assert not holds.held_elsewhere(1)
