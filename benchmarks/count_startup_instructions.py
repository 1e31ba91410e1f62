"""Start-up as a count of instructions: launch to first frame of `unify-tui --demo` and of the
minimal Textual app, under valgrind. Unlike wall time, the count does not move with the load of
a shared machine (it is the same from run to run to within ~0.1 %), so it shows what a change
to start-up did where bench_startup.py's ratio moves by +-0.1 between runs.

    python3 benchmarks/count_startup_instructions.py      # needs valgrind (apt install valgrind)

Method: each program is launched on a pseudo-terminal exactly as bench_startup.py launches it
(fresh HOME, bytecode cached in the benchmark's own folder and filled by one ordinary launch
first, PYTHONHASHSEED=0 so that set and dict orders repeat), under `valgrind --tool=callgrind`;
inside it, the first frame (the first paint after the alternate screen was entered) ends the
process at once (os._exit), and callgrind's total of instructions executed is read. It counts
everything the process ran: the interpreter's start, the imports, building and drawing the
screen. Instructions are not time (a cache miss costs more than an add), so the wall-clock
ratio of bench_startup.py stays the figure the target is set on.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import finish, report

_CHILD = "TUI_CHAT_COUNT_CHILD"  # "minimal" or "app"; not UNIFY_*: bench_startup drops those
PROGRAMS = ("minimal", "app")


def _child() -> None:
    from _first_frame import ALT_SCREEN, FIRST_PAINT, run_to_first_frame

    def end() -> None:
        # The frame is queued for Textual's writer thread; say it to the terminal directly, so
        # the launcher sees a first frame whether or not the thread wrote it before the exit.
        os.write(sys.__stdout__.fileno(), f"{ALT_SCREEN}{FIRST_PAINT}".encode())
        os._exit(0)

    run_to_first_frame(end, minimal=os.environ[_CHILD] == "minimal")


def count(home: str, program: str) -> int:
    """Instructions from launch to the first frame of ``program`` ("minimal" or "app")."""
    from bench_startup import first_frame_ms

    out = Path(home) / f"callgrind.{program}"
    os.environ[_CHILD] = program
    argv = [
        shutil.which("valgrind") or "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        str(Path(__file__).resolve()),
    ]
    first_frame_ms(argv, home, timeout=600)
    text = out.read_text(encoding="utf-8", errors="replace")
    found = re.search(r"^(?:totals|summary): (\d+)", text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no instruction total in {out}")
    return int(found.group(1))


def measure() -> dict[str, Any]:
    from bench_startup import first_frame_ms

    os.environ["PYTHONHASHSEED"] = "0"
    with tempfile.TemporaryDirectory(prefix="unify-tui-count-") as home:
        counts: dict[str, int] = {}
        for program in PROGRAMS:
            os.environ[_CHILD] = program
            # fills the bytecode cache; the process exits at its first frame
            first_frame_ms([sys.executable, str(Path(__file__).resolve())], home)
            counts[program] = count(home, program)
    ratio = counts["app"] / counts["minimal"]
    summary = {
        "minimal_instructions": counts["minimal"],
        "unify_tui_demo_instructions": counts["app"],
        "ratio": round(ratio, 3),
    }
    return {"method": __doc__, "summary": summary}


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    summary = result["summary"]
    return [
        {
            "benchmark": "3 launch -> first frame, instructions (valgrind)",
            "median": f"{summary['unify_tui_demo_instructions'] / 1e6:,.0f}M",
            "baseline": f"minimal Textual app {summary['minimal_instructions'] / 1e6:,.0f}M",
            "ratio": summary["ratio"],
            "target": "(time ratio <= 1.3: bench_startup.py)",
            "met": "-",
        }
    ]


def run(runs: int = 1, smoke: bool = False, save: bool = True) -> dict[str, Any]:
    """For run_all.py: one count per program (``runs`` is ignored: the count repeats)."""
    if shutil.which("valgrind") is None:
        row = {
            "benchmark": "3 launch -> first frame, instructions (valgrind)",
            "median": "not measured: valgrind is not installed",
            "baseline": "-",
            "ratio": "-",
            "target": "-",
            "met": "-",
        }
        return {"summary": {"skipped": "valgrind is not installed"}, "table": [row]}
    return finish("startup_instructions", measure(), table, save=save, smoke=smoke)


def main() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt install valgrind); nothing measured")
    report("Start-up, instructions to the first frame", run())


if __name__ == "__main__":
    if os.environ.get(_CHILD):
        _child()
    else:
        main()
