"""The app in a real pseudo-terminal: signals, crashes and keys as a terminal sends them.

Each test starts ``python3 -m tui_chat --demo`` (or a thin wrapper around ``cli.main``) on a pty
with HOME and the XDG folders in a temporary directory, waits for the first frame, then acts as
the terminal or the system would: bytes written to the pty, a signal sent to the process. What
the process writes back is read to the end, so the test sees what a user's terminal would get,
including the sequences that put the terminal back as it was.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import sqlite3
import struct
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Child processes on a pty, waited for with wall-clock limits.
pytestmark = pytest.mark.serial

ROOT = Path(__file__).resolve().parent.parent
COLUMNS, LINES = 100, 30
START_S = 60.0  # a first frame within this (a loaded 2-core machine)
EXIT_S = 20.0

ALT_SCREEN_ON = b"\x1b[?1049h"
FIRST_PAINT = b"\x1b[1;1H"
# What Textual's Linux driver writes when it stops (LinuxDriver.stop_application_mode and
# disable_input): mouse tracking off, alternate screen left, cursor shown.
RESTORE = (b"\x1b[?1000l", b"\x1b[?1003l", b"\x1b[?1049l", b"\x1b[?25h")


@dataclass
class PtyApp:
    pid: int
    fd: int
    home: Path
    output: bytearray = field(default_factory=bytearray)
    status: int | None = None

    def read_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                tail = bytes(self.output[-600:]).decode(errors="replace")
                raise AssertionError(f"timed out waiting for {what}; output ends: {tail!r}")
            if not self._read(0.05):
                self._reap()
                if self.status is not None and not predicate():
                    tail = bytes(self.output[-1500:]).decode(errors="replace")
                    raise AssertionError(f"exited ({self.status}) before {what}: {tail!r}")

    def wait_for_first_frame(self) -> None:
        def painted() -> bool:
            alt = self.output.find(ALT_SCREEN_ON)
            return alt != -1 and self.output.find(FIRST_PAINT, alt) != -1

        self.read_until(painted, START_S, "the first frame")

    def wait_for_text(self, text: str, timeout: float = START_S) -> None:
        self.read_until(lambda: text.encode() in self.output, timeout, repr(text))

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def read_to_end(self, timeout: float = EXIT_S) -> int:
        """Read everything until the process exits and the pty closes; its exit status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._read(0.05) is None:  # EOF: every writer has closed the pty
                break
            self._reap()
        while self.status is None and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.02)
        if self.status is None:
            raise AssertionError("the process did not exit")
        return self.status

    def _read(self, wait: float) -> bytes | None:
        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO on Linux once the child side is closed
            return None
        if not data:
            return None
        self.output += data
        return data

    def _reap(self) -> None:
        if self.status is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.status = os.waitstatus_to_exitcode(status)

    def wait(self, timeout: float = EXIT_S) -> int:
        """The exit status, without reading (the pty closed, say)."""
        deadline = time.monotonic() + timeout
        while self.status is None and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.02)
        if self.status is None:
            raise AssertionError("the process did not exit")
        return self.status

    def close_terminal(self) -> None:
        """As closing the window or tmux pane does: the kernel sends the app SIGHUP."""
        os.close(self.fd)
        self.fd = -1

    def kill(self) -> None:
        self._reap()
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        if self.fd != -1:
            os.close(self.fd)


def start(home: Path, argv: list[str] | None = None) -> PtyApp:
    argv = argv or [sys.executable, "-m", "tui_chat", "--demo"]
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("UNIFY_", "XDG_", "TEXTUAL")) and key != "PYTHONDONTWRITEBYTECODE"
    }
    environment.update(
        TERM="xterm-256color",
        COLUMNS=str(COLUMNS),
        LINES=str(LINES),
        HOME=str(home),
        XDG_CONFIG_HOME=f"{home}/.config",
        XDG_DATA_HOME=f"{home}/.local/share",
        XDG_STATE_HOME=f"{home}/.local/state",
        XDG_CACHE_HOME=f"{home}/.cache",
        PYTHONPATH=str(ROOT),
    )
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the program
        try:
            os.chdir(ROOT)
            os.execve(argv[0], argv, environment)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    return PtyApp(pid, fd, home)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def saved_messages(home: Path) -> list[tuple[str, str, str | None]]:
    """(role, content, outcome) of each message in the demo's database, in order."""
    database = home / ".local/share/unify-tui/demo.db"
    if not database.exists():
        return []
    query = "SELECT role, content, outcome FROM messages ORDER BY id"
    try:
        with sqlite3.connect(database) as connection:
            return list(connection.execute(query).fetchall())
    except sqlite3.OperationalError:  # not made yet (no such table), or being written
        return []


def reply_so_far(home: Path) -> str:
    """The reply saved so far, once there is a prompt and a reply ("" before)."""
    rows = saved_messages(home)
    return rows[1][1] if len(rows) == 2 else ""


def restored_after(output: bytes, mark: int) -> list[bytes]:
    """The restoring sequences missing from ``output`` after offset ``mark``."""
    return [sequence for sequence in RESTORE if output.find(sequence, mark) == -1]


def end_after_first_frame(app: PtyApp, end: Callable[[], None]) -> tuple[int, int]:
    """Wait for the first frame and the prompt, then ``end`` the app (a key, a signal); return
    where the output stood just before, and the exit status."""
    try:
        app.wait_for_first_frame()
        app.wait_for_text("Type a message")
        mark = len(app.output)
        end()
        status = app.read_to_end()
    finally:
        app.kill()
    return mark, status


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_restores_the_terminal_and_exits(home: Path, signum: int) -> None:
    app = start(home)
    mark, status = end_after_first_frame(app, lambda: os.kill(app.pid, signum))
    assert restored_after(bytes(app.output), mark) == []
    assert b"Traceback" not in app.output
    assert status == 128 + signum  # as a shell reports a process ended by that signal


def test_ctrl_q_at_the_first_frame_exits_0_and_restores_the_terminal(home: Path) -> None:
    """Regression: quitting while the selector panel was being built (just after the first
    frame) crashed in its Selects, unseen while the exit status was always 0."""
    app = start(home)
    mark, status = end_after_first_frame(app, lambda: app.write(b"\x11"))  # ctrl+q
    assert restored_after(bytes(app.output), mark) == []
    assert b"Traceback" not in app.output
    assert status == 0


def test_sigterm_mid_reply_saves_the_partial_reply(home: Path) -> None:
    app = start(home)
    try:
        app.wait_for_first_frame()
        app.wait_for_text("Type a message")
        app.write(b"Write a long markdown answer with code\r")
        # The recorder saves a streaming reply about once a second: wait for a first part.
        app.read_until(lambda: bool(reply_so_far(home)), START_S, "a part of the reply saved")
        saved = reply_so_far(home)
        os.kill(app.pid, signal.SIGTERM)
        status = app.read_to_end()
    finally:
        app.kill()
    assert status == 128 + signal.SIGTERM
    (user, reply) = saved_messages(home)
    assert user == ("user", "Write a long markdown answer with code", None)
    assert reply[0] == "assistant" and reply[2] == "stopped"
    assert reply[1].startswith(saved)  # what had arrived by the signal, kept (and maybe more)


def test_closing_the_terminal_mid_reply_saves_the_partial_reply(home: Path) -> None:
    """The terminal gone (SIGHUP, and every write to it failing): the reply is still saved."""
    app = start(home)
    try:
        app.wait_for_first_frame()
        app.wait_for_text("Type a message")
        app.write(b"Write a long markdown answer with code\r")
        app.read_until(lambda: bool(reply_so_far(home)), START_S, "a part of the reply saved")
        app.close_terminal()
        status = app.wait()
    finally:
        app.kill()
    (_, reply) = saved_messages(home)
    assert reply[0] == "assistant" and reply[1] and reply[2] == "stopped"
    assert status == 128 + signal.SIGHUP


CRASH_ON_CTRL_B = """
import sys
from tui_chat.ui.app import UnifyTUI
from tui_chat import cli

def boom(self):
    raise RuntimeError("forced crash")

UnifyTUI.action_toggle_panel = boom
sys.exit(cli.main(["--demo"]))
"""


def test_a_crash_exits_non_zero_and_restores_the_terminal(home: Path) -> None:
    app = start(home, [sys.executable, "-c", CRASH_ON_CTRL_B])
    mark, status = end_after_first_frame(app, lambda: app.write(b"\x02"))  # ctrl+b
    assert status == 1
    assert restored_after(bytes(app.output), mark) == []
    assert b"forced crash" in app.output[mark:]


def test_alt_enter_from_the_terminal_adds_a_line(home: Path) -> None:
    """ESC CR is what terminals and tmux send for alt+enter; a lone CR sends."""
    app = start(home)
    try:
        app.wait_for_first_frame()
        app.wait_for_text("Type a message")
        app.write(b"first\x1b\rsecond\x1b\nthird\r")
        app.read_until(lambda: bool(saved_messages(home)), START_S, "the prompt sent and saved")
        app.write(b"\x11")  # ctrl+q
        status = app.read_to_end()
    finally:
        app.kill()
    assert status == 0
    assert saved_messages(home)[0] == ("user", "first\nsecond\nthird", None)
