"""Garbage written into the live write-ahead log by another program is noticed at the quit.

SQLite trusts its index of the log while the database is open, so the garbage is read back as
if it were pages and, at a clean close, copied into the database file: the next start found the
whole file damaged. Now the close checks the log's checksums first and, if they break, leaves
the log for SQLite's recovery at the next start, which keeps every transaction committed before
the garbage and drops the rest: no conversation committed before it is lost, nothing is moved.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.store.conftest import reply, user
from tui_chat.store import Store
from tui_chat.store.wal import indexed_frames, log_damage


def _conversations(store: Store, first: int, count: int) -> None:
    for number in range(first, first + count):
        record = store.create_conversation(f"conversation {number}")
        store.append_message(record.id, user(f"question {number} " + "q" * 300))
        store.append_message(record.id, reply(f"answer {number} " + "a" * 300))


def test_garbage_in_the_live_log_keeps_everything_committed_before_it(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    wal = path.with_name(path.name + "-wal")
    shm = path.with_name(path.name + "-shm")
    store = Store.open(path)
    _conversations(store, 0, 10)
    frames_before = indexed_frames(shm)
    _conversations(store, 10, 10)
    frames_after = indexed_frames(shm)
    assert frames_before and frames_after and frames_after > frames_before  # one log, no reset
    assert log_damage(path) is None  # a sound log is left alone
    with wal.open("r+b") as file:  # another program scribbles over the newer frames
        file.seek(32 + frames_before * (24 + 4096) + 100)
        file.write(os.urandom((frames_after - frames_before) * (24 + 4096) - 100))
    assert log_damage(path) is not None

    store.close()  # the clean quit
    assert store.close_note is not None and "another program" in store.close_note

    store, recovery = Store.open_or_recover(path)
    with store:
        assert recovery is None  # no damage found: nothing moved aside
        assert list(tmp_path.glob("*.corrupt-*")) == []
        titles = {summary.title for summary in store.list_conversations()}
        assert {f"conversation {number}" for number in range(10)} <= titles
        for summary in store.list_conversations():
            messages = store.load_conversation(summary.id).messages
            number = summary.title.split()[-1]
            assert [m.content.split()[:2] for m in messages] == [
                ["question", number],
                ["answer", number],
            ][: len(messages)]
        assert store.integrity_check() == []
        _conversations(store, 100, 1)  # and it takes new writes
    assert store.close_note is None


def test_a_sound_log_is_checkpointed_at_the_quit_as_before(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    with Store.open(path) as store:
        _conversations(store, 0, 5)
    assert not path.with_name(path.name + "-wal").exists()  # copied in and removed
    assert store.close_note is None
