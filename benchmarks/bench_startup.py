"""Benchmark 3, start-up: launch to first frame of `unify-tui --demo`, against a minimal Textual
app measured in the same run.

Run alone: python3 benchmarks/bench_startup.py [--runs N] [--smoke]

Method
------
Each program is started as a subprocess on a pseudo-terminal (120x40, TERM=xterm-256color), as a
user's terminal would start it, with a fresh HOME and XDG directories (so no config file, key or
database of the machine is read) and no UNIFY_* variables. Compiled bytecode is cached in the
benchmark's own folder (PYTHONPYCACHEPREFIX; PYTHONDONTWRITEBYTECODE is dropped), and one
unmeasured launch of each program fills it, as a user's installed copy has it. The clock starts
just before the fork and stops when the first frame arrives on the terminal: the first output that
paints the screen (cursor placed at row 1, column 1 after the alternate screen was entered), which
is how Textual begins every full-screen update. The program is then sent ctrl+q and waited for. The
two programs alternate, so both see the same machine load; the ratio is computed per pair, and the
median of the ratios is reported; which program goes first alternates from pair to pair.

The baseline (benchmarks/minimal_app.py) is a Textual app with a label and a footer: Python
start-up, importing Textual and drawing a first frame, which no Textual app can avoid.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

from _common import ROOT, bench_parser, finish, median, report, rounded

ALT_SCREEN = b"\x1b[?1049h"
FIRST_PAINT = b"\x1b[1;1H"
MINIMAL_APP = Path(__file__).resolve().parent / "minimal_app.py"


def commands() -> dict[str, list[str]]:
    return {
        "minimal": [sys.executable, str(MINIMAL_APP)],
        "unify-tui --demo": [sys.executable, "-m", "tui_chat", "--demo"],
    }


def first_frame_ms(argv: list[str], home: str, timeout: float = 30.0) -> float:
    """Launch `argv` on a pty; ms from just before the fork to the first frame's output."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("UNIFY_", "XDG_")) and key != "PYTHONDONTWRITEBYTECODE"
    }
    environment.update(
        # Compiled bytecode is cached, as on a user's machine (pip compiles it at install; a
        # checkout writes it on first run): in a folder of the benchmark's own, so a machine
        # that turns the cache off (PYTHONDONTWRITEBYTECODE) measures the same thing.
        PYTHONPYCACHEPREFIX=f"{home}/.cache/pycache",
        TERM="xterm-256color",
        COLUMNS="120",
        LINES="40",
        HOME=home,
        XDG_CONFIG_HOME=f"{home}/.config",
        XDG_DATA_HOME=f"{home}/.local/share",
        XDG_STATE_HOME=f"{home}/.local/state",
        XDG_CACHE_HOME=f"{home}/.cache",
        PYTHONPATH=str(ROOT),
    )
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the program
        try:
            os.chdir(ROOT)
            os.execve(argv[0], argv, environment)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    output = b""
    seen_at: float | None = None
    deadline = start + timeout
    try:
        while seen_at is None and time.perf_counter() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            output += data
            alt = output.find(ALT_SCREEN)
            if alt != -1 and output.find(FIRST_PAINT, alt) != -1:
                seen_at = time.perf_counter()
    finally:
        _quit(pid, fd)
    if seen_at is None:
        tail = output[-400:].decode(errors="replace")
        raise RuntimeError(f"no first frame from {argv} within {timeout} s; output ends: {tail!r}")
    return (seen_at - start) * 1000


def _quit(pid: int, fd: int) -> None:
    """ctrl+q, then wait; SIGTERM and SIGKILL if it does not go."""
    try:
        os.write(fd, b"\x11")
    except OSError:
        pass
    deadline = time.perf_counter() + 5
    while time.perf_counter() < deadline:
        try:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                os.read(fd, 65536)  # keep the pty drained so the child can exit
        except OSError:
            pass
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
                os.waitpid(pid, 0)
                break
            except (ProcessLookupError, ChildProcessError):
                break
    os.close(fd)


def measure(runs: int, warm_up: bool = True) -> dict[str, Any]:
    programs = commands()
    times: dict[str, list[float]] = {name: [] for name in programs}
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="unify-tui-bench-") as home:
        # one unmeasured launch each: the OS file cache and .pyc files are warm for every run
        for argv in programs.values() if warm_up else ():
            first_frame_ms(argv, home)
        for run_index in range(runs):
            # Which goes first alternates (ABBA...), so a machine that slows down or speeds up
            # within a pair does not favour either program.
            order = list(programs.items())
            if run_index % 2:
                order.reverse()
            pair = {name: first_frame_ms(argv, home) for name, argv in order}
            for name, value in pair.items():
                times[name].append(value)
            ratios.append(pair["unify-tui --demo"] / pair["minimal"])
    summary = {
        "runs": runs,
        "minimal_ms_median": rounded(median(times["minimal"])),
        "unify_tui_demo_ms_median": rounded(median(times["unify-tui --demo"])),
        "ratio_median": round(median(ratios), 3),
        "all_ms": {name: [rounded(x) for x in values] for name, values in times.items()},
        "target": "ratio <= 1.3",
        "met": median(ratios) <= 1.3,
    }
    return {"method": __doc__, "summary": summary}


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    summary = result["summary"]
    return [
        {
            "benchmark": "3 launch -> first frame, unify-tui --demo",
            "median": f"{summary['unify_tui_demo_ms_median']} ms",
            "baseline": f"minimal Textual app {summary['minimal_ms_median']} ms",
            "ratio": summary["ratio_median"],
            "target": summary["target"],
            "met": summary["met"],
        }
    ]


def run(runs: int = 21, smoke: bool = False, save: bool = True) -> dict[str, Any]:
    result = measure(1 if smoke else runs, warm_up=not smoke)
    return finish("startup", result, table, save=save, smoke=smoke)


def main() -> None:
    parser = bench_parser(__doc__, 21, "pairs of launches", "one pair, nothing saved")
    arguments = parser.parse_args()
    result = run(arguments.runs, arguments.smoke)
    report("Benchmark 3: start-up", result)


if __name__ == "__main__":
    main()
