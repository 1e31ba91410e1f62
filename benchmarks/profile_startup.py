"""Profile start-up to the first frame with pyinstrument (the bench extra installs it).

    python3 benchmarks/profile_startup.py                # unify-tui --demo, whole launch
    python3 benchmarks/profile_startup.py --minimal      # the baseline app, for comparison
    python3 benchmarks/profile_startup.py --from-run     # only App.run -> first frame
    python3 benchmarks/profile_startup.py --html out.html
    python3 benchmarks/profile_startup.py --all          # library frames too (Textual's)

The program runs on a pseudo-terminal exactly as bench_startup.py starts it (fresh HOME, bytecode
cached in the benchmark's folder, one unprofiled launch first). Inside it, a hook on Textual's
Linux driver stops the profiler when the first frame is written (the first paint after the
alternate screen was entered) and prints the profile. Profiling slows Python code down; read
the shares, not the absolute times, and time with bench_startup.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

_CHILD = "TUI_CHAT_PROFILE_OUT"  # not UNIFY_*: bench_startup drops those


def _child() -> None:
    """Inside the launched program: profile until the first frame, write the report."""
    from _first_frame import run_to_first_frame
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    from_run = os.environ.get("PROFILE_FROM_RUN") == "1"
    if not from_run:
        profiler.start()

    def report() -> None:
        profiler.stop()
        out = Path(os.environ[_CHILD])
        if out.suffix == ".html":
            out.write_text(profiler.output_html(), encoding="utf-8")
        else:
            show_all = os.environ.get("PROFILE_SHOW_ALL") == "1"
            out.write_text(profiler.output_text(unicode=True, show_all=show_all), encoding="utf-8")

    run_to_first_frame(
        report,
        minimal=os.environ.get("PROFILE_MINIMAL") == "1",
        at_run=profiler.start if from_run else None,
    )


def main() -> None:
    from bench_startup import first_frame_ms  # the parent only: the child imports nothing more

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minimal", action="store_true", help="profile the baseline app")
    parser.add_argument("--from-run", action="store_true", help="start at App.run")
    parser.add_argument("--html", metavar="PATH", help="write pyinstrument's HTML report here")
    parser.add_argument("--all", action="store_true", help="show library frames too (text)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="unify-tui-profile-") as home:
        report = Path(arguments.html or Path(home) / "profile.txt").resolve()
        os.environ[_CHILD] = str(report)
        os.environ["PROFILE_MINIMAL"] = "1" if arguments.minimal else "0"
        os.environ["PROFILE_FROM_RUN"] = "1" if arguments.from_run else "0"
        os.environ["PROFILE_SHOW_ALL"] = "1" if arguments.all else "0"
        argv = [sys.executable, str(Path(__file__).resolve())]
        first_frame_ms(argv, home)  # fills the bytecode cache
        first_frame_ms(argv, home)
        if arguments.html:
            print(f"wrote {report}")
        else:
            print(report.read_text(encoding="utf-8"))


if __name__ == "__main__":
    if os.environ.get(_CHILD):
        _child()
    else:
        main()
