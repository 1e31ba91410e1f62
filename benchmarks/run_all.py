"""Run every benchmark of issue 6, headless, against the embedded gateway; print one table and
write benchmarks/results/<name>.json (git-ignored) plus results/summary.json.

Usage: python3 benchmarks/run_all.py [--quick] [--only streaming,keys,...] [--with-widget]
                                     [--outside]

--quick: fewer runs (a look, not figures for the docs). --with-widget also runs bench_render.py
(StreamingMarkdown against Textual's stock MarkdownStream, widget only; slow). --outside also
runs bench_outside.py (the installed app in a terminal against llmock, measured from outside;
needs the bench extra; about 2 minutes a round, 5 rounds, 2 with --quick).
Each benchmark runs alone too: python3 benchmarks/bench_<name>.py --help.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, print_rows, write_results

# name -> (module, runs for the docs, runs with --quick)
BENCHMARKS: dict[str, tuple[str, int, int]] = {
    "streaming": ("bench_streaming", 5, 2),
    "keys": ("bench_keys", 5, 2),
    "startup": ("bench_startup", 21, 5),  # single pairs vary 0.9-1.9: many pairs
    # the same launch counted in instructions (needs valgrind; says so when it is missing)
    "instructions": ("count_startup_instructions", 1, 1),
    "history": ("bench_history", 5, 2),
    "ttft": ("bench_ttft", 5, 2),
    "spend": ("bench_spend", 5, 1),  # issue 18: the spend screen on 100,000 replies
    "session_memory": ("bench_session_memory", 1, 1),  # issue 16: 200 long replies, ~8 min
    "compare": ("bench_compare", 5, 2),  # issue 17: 3 columns x 2,000 tokens at once
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument("--only", default="", help="comma-separated names: " + ",".join(BENCHMARKS))
    parser.add_argument("--with-widget", action="store_true", help="also run bench_render.py")
    parser.add_argument(
        "--outside", action="store_true", help="also run bench_outside.py (the app from outside)"
    )
    arguments = parser.parse_args()
    chosen = [name.strip() for name in arguments.only.split(",") if name.strip()] or list(
        BENCHMARKS
    )
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    summaries: dict[str, Any] = {}
    print(f"machine: {machine()}")
    for name in chosen:
        module_name, runs, quick_runs = BENCHMARKS[name]
        print(f"running {name} ...", flush=True)
        module = importlib.import_module(module_name)
        result = module.run(quick_runs if arguments.quick else runs)
        rows.extend(result["table"])
        summaries[name] = result["summary"]
        print_rows(name, result["table"])
    if arguments.with_widget:
        import subprocess

        script = Path(__file__).resolve().parent / "bench_render.py"
        subprocess.run([sys.executable, str(script), "--quick"], check=False)
    if arguments.outside:
        import bench_outside

        print("running outside ...", flush=True)
        outside = bench_outside.run(2 if arguments.quick else 5)
        summaries["outside"] = outside["summary"]
        print("\nSeen from outside (bench_outside.py)\n")
        print(bench_outside.markdown(outside["table"]))
    print_rows("All benchmarks (medians; ratio = app / in-run baseline)", rows)
    path = write_results(
        "summary",
        {"quick": arguments.quick, "summaries": summaries, "table": rows},
    )
    print(f"\n{len(chosen)} benchmark(s) in {time.perf_counter() - started:.0f} s; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
