"""Benchmark: the spend screen (f9) on a generated store of 100,000 replies over three years.

Run alone: python3 benchmarks/bench_spend.py [--runs N] [--smoke]

Method
------
A database of 100,000 replies (and the user messages they answer) over three years is written by
benchmarks/spend_history.py (several models, providers and gateways; some costs estimated, some
unknown, some replies failed) into a temporary directory; the embedded gateway runs in its own
process. Then:

* aggregates: ``tui_chat.store.spend.load_spend_report`` on that file, ``--runs`` times in this
  process (the first run's file pages come from the disk cache like the later ones: the file
  was just written): the whole read (open, every aggregate, close) and each step, median and
  max over the runs;
* the screen: each run a fresh process (so the first open pays the plot library's imports, as a
  user's first f9 does): the app (UnifyTUI, headless ``run_test`` at 120x40, with that store)
  starts and settles; f9 is posted as the terminal driver posts a key, and the time is taken
  to the end of the first screen update (turned into terminal bytes) that shows the spend
  screen (``first frame``), and to the first that shows its figures (``filled``); then the
  screen is closed and f9 pressed again (``first frame, again``).

Target: the first frame within 300 ms. The figures are read in a thread worker, so the first
frame does not wait for them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    APP_SIZE,
    FrameClock,
    SimProcess,
    bench_parser,
    finish,
    make_app,
    median,
    post_key,
    prepare_heap,
    report,
    rounded,
    settle,
    wait_for,
)
from spend_history import fill_history

REPLIES = 100_000
SMOKE_REPLIES = 2_000
FIRST_FRAME_TARGET_MS = 300.0


async def child_run(db: str, base_url: str) -> dict[str, Any]:
    """One fresh app process: f9 twice, timed to the first frame and to the filled one."""
    from tui_chat.store import Store

    store = Store.open(Path(db))
    app = make_app(base_url, store=store)
    prepare_heap()
    figures: dict[str, Any] = {}
    async with app.run_test(size=APP_SIZE):
        clock = FrameClock(app)
        app._bench_clock = clock
        await settle(app)
        for attempt in ("first", "again"):
            seen: dict[str, float] = {}

            def watch(stamp: float, seen: dict[str, float] = seen) -> None:
                from tui_chat.ui.screens.spend import SpendScreen

                screen = app.screen
                if isinstance(screen, SpendScreen):
                    seen.setdefault("frame", stamp)
                    if screen.report is not None:
                        seen.setdefault("filled", stamp)

            clock.watchers.append(watch)
            started = time.perf_counter()
            post_key(app, "f9", None)
            await wait_for(lambda seen=seen: "filled" in seen, timeout=120)
            clock.watchers.remove(watch)
            figures[f"{attempt}_frame_ms"] = (seen["frame"] - started) * 1000
            figures[f"{attempt}_filled_ms"] = (seen["filled"] - started) * 1000
            report_ms = app.screen.report.query_ms  # type: ignore[attr-defined]
            figures[f"{attempt}_query_ms"] = dict(report_ms)
            await settle(app)
            post_key(app, "escape", None)
            await settle(app)
    store.close()
    return figures


def _child_main(arguments: argparse.Namespace) -> None:
    print("RESULT " + json.dumps(asyncio.run(child_run(arguments.db, arguments.base_url))))


def measure(runs: int, replies: int) -> dict[str, Any]:
    from tui_chat.store.spend import load_spend_report

    with tempfile.TemporaryDirectory(prefix="unify-tui-spend-") as folder, SimProcess() as sim:
        db = Path(folder) / "conversations.db"
        started = time.perf_counter()
        fill_history(db, replies)
        generated_s = time.perf_counter() - started
        size_mb = db.stat().st_size / 1e6

        totals: list[float] = []
        steps: dict[str, list[float]] = {}
        for _ in range(runs):
            started = time.perf_counter()
            spend = load_spend_report(db)
            totals.append((time.perf_counter() - started) * 1000)
            for step, ms in spend.query_ms.items():
                steps.setdefault(step, []).append(ms)
        assert spend.total.replies == replies

        children: list[dict[str, Any]] = []
        for _ in range(runs):
            output = subprocess.run(
                [sys.executable, __file__, "--child", "--db", str(db), "--base-url", sim.base_url],
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            lines = [x for x in output.stdout.splitlines() if x.startswith("RESULT ")]
            if not lines:
                raise RuntimeError(f"spend child failed:\n{output.stderr[-3000:]}")
            children.append(json.loads(lines[-1][len("RESULT ") :]))

    def of(key: str) -> list[float]:
        return [child[key] for child in children]

    summary = {
        "replies": replies,
        "database_mb": round(size_mb, 1),
        "generated_s": round(generated_s, 1),
        "runs": runs,
        "aggregates_ms_median": rounded(median(totals)),
        "aggregates_ms_max": rounded(max(totals)),
        "aggregate_steps_ms_median": {step: rounded(median(v)) for step, v in steps.items()},
        "first_frame_ms_median": rounded(median(of("first_frame_ms"))),
        "first_frame_ms_max": rounded(max(of("first_frame_ms"))),
        "filled_ms_median": rounded(median(of("first_filled_ms"))),
        "again_first_frame_ms_median": rounded(median(of("again_frame_ms"))),
        "again_filled_ms_median": rounded(median(of("again_filled_ms"))),
        "first_frame_target_ms": FIRST_FRAME_TARGET_MS,
        "first_frame_within_target": max(of("first_frame_ms")) <= FIRST_FRAME_TARGET_MS,
    }
    return {"summary": summary, "children": children, "aggregate_totals_ms": totals}


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    s = result["summary"]
    replies = f"{s['replies']:,} replies"
    steps = ", ".join(f"{step} {ms}" for step, ms in s["aggregate_steps_ms_median"].items())
    return [
        {
            "benchmark": f"spend screen: f9 -> first frame ({replies})",
            "median": f"{s['first_frame_ms_median']} ms (max {s['first_frame_ms_max']})",
            "baseline": f"f9 again {s['again_first_frame_ms_median']} ms",
            "ratio": "-",
            "target": f"<= {FIRST_FRAME_TARGET_MS:.0f} ms",
            "met": s["first_frame_within_target"],
        },
        {
            "benchmark": f"spend screen: f9 -> figures on screen ({replies})",
            "median": f"{s['filled_ms_median']} ms (again {s['again_filled_ms_median']})",
            "baseline": "-",
            "ratio": "-",
            "target": "reported",
            "met": "-",
        },
        {
            "benchmark": f"spend aggregates in SQL ({replies}, {s['database_mb']} MB)",
            "median": f"{s['aggregates_ms_median']} ms (max {s['aggregates_ms_max']})",
            "baseline": steps,
            "ratio": "-",
            "target": "reported",
            "met": "-",
        },
    ]


def run(runs: int = 5, smoke: bool = False, save: bool = True) -> dict[str, Any]:
    result = measure(1 if smoke else runs, SMOKE_REPLIES if smoke else REPLIES)
    return finish("spend", result, table, save=save, smoke=smoke)


def main() -> None:
    parser = bench_parser(__doc__, 5, "runs (fresh app processes)", "one tiny run, nothing saved")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        _child_main(arguments)
        return
    result = run(arguments.runs, arguments.smoke)
    report("The spend screen on a long history", result)


if __name__ == "__main__":
    main()
