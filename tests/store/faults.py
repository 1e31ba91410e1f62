"""Real faults for the store tests: a lock held by another process, a database that is full."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tui_chat.store import Store

REPO_ROOT = Path(__file__).resolve().parents[2]


class HeldLock:
    """A ``BEGIN EXCLUSIVE`` held by a separate process on one database, until ``release()``."""

    def __init__(self, path: Path, *, readers_too: bool = False) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        options = ["--no-readers"] if readers_too else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.store.lock_holder", str(path), *options],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == "locked", f"the lock holder said {line!r}"

    def release(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("\n")
            self.process.stdin.flush()
            self.process.wait(timeout=30)


@contextmanager
def held_lock(path: Path, *, readers_too: bool = False) -> Iterator[HeldLock]:
    """``BEGIN EXCLUSIVE`` from another process; ``readers_too`` keeps readers out as well."""
    lock = HeldLock(path, readers_too=readers_too)
    try:
        yield lock
    finally:
        lock.release()


def fill_up(store: Store) -> None:
    """Make the database full at its current size: a write that needs a new page fails with
    SQLITE_FULL, the very error a full disk gives (``PRAGMA max_page_count``)."""
    conn = store._conn  # the store's own connection: the pragma is per connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def make_room(store: Store) -> None:
    store._conn.execute("PRAGMA max_page_count = 1073741823")


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Until ``predicate()`` holds (checked every 20 ms); fails the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)
