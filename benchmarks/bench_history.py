"""Benchmark 4, long conversations: open a stored conversation of 1,000 turns.

Run alone: python3 benchmarks/bench_history.py [--runs N] [--smoke]

Method
------
A conversation of 1,000 turns (1,000 user messages and 1,000 Markdown replies of 40 to 400
words, every fourth with a fenced code block, every tenth with a table) is written with the Store
API (`Store.append_message`) into a SQLite file in a temporary directory, beside a 10-turn
conversation used as the in-run baseline. Each run is a fresh process (so its resident memory is
the app's own): the app (UnifyTUI, headless ``run_test`` at 120x40, with that store and the
gateway subprocess) starts, settles, and opens the conversation the way the conversation list
does (``open_conversation(id)``: a thread worker reads it from SQLite, then the log shows it).

* first frame: from the call to the end of the first screen update (turned into terminal bytes)
  that shows the end of the conversation (its last reply rendered, the log scrolled to the end).
* scrolling: with the log focused (keys are Key events, as the terminal driver delivers them):
  - Home, once: time to the first frame that shows the first message at the top of the log
    (the log jumps; the pages it lands on are mounted for that frame);
  - End, once: time to the first frame that shows the last reply at the end again;
  - Page Up, PAGE_UP_PRESSES times from the end (about 30 screens, mounting and folding pages on
    the way): each key's time to the first frame that shows the log moving (Textual animates
    the scroll; the frames after the first are the animation); median and p95 per key;
  - Home and End once more, after all that.
  Each key waits for the previous one to settle (no frame for 150 ms).
* memory: VmRSS from /proc/self/status after opening, and after scrolling to the top.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    APP_SIZE,
    MODEL,
    FrameClock,
    SimProcess,
    bench_parser,
    finish,
    make_app,
    median,
    percentile,
    post_key,
    prepare_heap,
    report,
    rounded,
    settle,
    wait_for,
)

WORDS = [
    *[
        "gateway",
        "stream",
        "token",
        "reply",
        "provider",
        "model",
        "latency",
        "cost",
        "credit",
        "routing",
        "endpoint",
    ],
    *["table", "history", "widget", "frame", "render", "cache", "python", "terminal", "markdown"],
]


def _reply(rng: random.Random, turn: int) -> str:
    words = rng.randint(40, 400)
    text = " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."
    parts = [f"## Answer {turn}\n", text]
    if turn % 4 == 0:
        parts.append(f"```python\ndef answer_{turn}(x: int) -> int:\n    return x * {turn}\n```")
    if turn % 10 == 0:
        parts.append("| endpoint | ms |\n|---|---:|\n| a@b | 120 |\n| c@d | 340 |")
    return "\n\n".join(parts)


def build_store(path: Path, turns: int) -> dict[str, int]:
    """Write a `turns`-turn conversation and a 10-turn one; returns their ids."""
    from tui_chat.core.conversation import Message, Outcome
    from tui_chat.store import Store

    rng = random.Random(4)
    ids: dict[str, int] = {}
    with Store.open(path) as store:
        for name, count in (("long", turns), ("short", 10)):
            record = store.create_conversation(f"{count} turns", model=MODEL)
            ids[name] = record.id
            now = time.time() - count * 60
            for turn in range(count):
                question = f"Question {turn}: " + " ".join(rng.choice(WORDS) for _ in range(12))
                store.append_message(
                    record.id,
                    Message(role="user", content=question, created_at=now + turn * 60),
                )
                store.append_message(
                    record.id,
                    Message(
                        role="assistant",
                        content=_reply(rng, turn),
                        created_at=now + turn * 60 + 5,
                        requested_endpoint=MODEL,
                        served_endpoint=MODEL,
                        prompt_tokens=100 + turn,
                        completion_tokens=200,
                        cost=0.0001,
                        ttft_ms=200.0,
                        duration_ms=2000.0,
                        outcome=Outcome.COMPLETE,
                    ),
                )
    return ids


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


PAGE_UP_PRESSES = 30


def _at_end(log: Any) -> bool:
    replies = log.replies
    if not replies:
        return False
    body = replies[-1].body
    return bool(
        body._line_count > 0
        and body.size.height == body._line_count
        and log.max_scroll_y > 0
        and log.scroll_y >= log.max_scroll_y - 1
    )


async def child_run(db: str, conversation_id: int, base_url: str, max_presses: int) -> dict:
    """One fresh app process: open the conversation, scroll to the top and back."""
    from tui_chat.store import Store

    store = Store.open(Path(db))
    app = make_app(base_url, store=store)
    prepare_heap()
    figures: dict[str, Any] = {}
    async with app.run_test(size=APP_SIZE):
        clock = FrameClock(app)
        app._bench_clock = clock
        await settle(app)
        log = app.chat_log
        figures["rss_before_mb"] = _rss_mb()
        expected = store.load(conversation_id).conversation.messages[-1].content
        shown: dict[str, float] = {}

        def opened(stamp: float) -> None:
            replies = log.replies
            last_is_shown = bool(replies) and replies[-1].message.content == expected
            if "at" not in shown and last_is_shown and _at_end(log):
                shown["at"] = stamp

        clock.watchers.append(opened)
        started = time.perf_counter()
        app.open_conversation(conversation_id)
        await wait_for(lambda: "at" in shown, timeout=120)
        figures["first_frame_ms"] = (shown["at"] - started) * 1000
        clock.watchers.remove(opened)
        await settle(app)
        figures["rss_open_mb"] = _rss_mb()
        figures["widgets_mounted_after_open"] = len(log.children)

        async def press(key: str, done: Any) -> float:
            """ms from the key to the first frame where `done()` holds (Home, End), or that shows
            the log moving (Page Up: the scroll is animated; the frames after it are the
            animation, not waiting)."""
            moved: dict[str, float] = {}
            start_y = log.scroll_y

            def watch(stamp: float) -> None:
                if "at" not in moved and (
                    done() if key in ("home", "end") else log.scroll_y != start_y
                ):
                    moved["at"] = stamp

            clock.watchers.append(watch)
            sent = time.perf_counter()
            post_key(app, key, None)
            try:
                await wait_for(lambda: "at" in moved, timeout=60)
            finally:
                clock.watchers.remove(watch)
            await settle(app, 0.15)
            return (moved["at"] - sent) * 1000

        log.focus()
        await settle(app, 0.1)
        first = app.conversation.messages[0]

        def top_shown() -> bool:
            widget = log._message_widgets.get(id(first))
            return bool(
                widget is not None
                and widget.is_mounted
                and log.scroll_y < 1
                and widget.size.height > 0
                and widget.region.y < log.region.bottom
            )

        def end_shown() -> bool:
            return _at_end(log) and log.replies[-1].message.content == expected

        home_ms = [await press("home", top_shown)]
        figures["reached_top"] = top_shown()
        figures["rss_top_mb"] = _rss_mb()
        end_ms = [await press("end", end_shown)]
        page_up_ms: list[float] = []
        while len(page_up_ms) < max_presses and log.scroll_y >= 1:  # (a short one ends first)
            page_up_ms.append(await press("pageup", lambda: False))
        figures["page_up_rows"] = round(log.max_scroll_y - log.scroll_y)
        if not top_shown():  # (a short conversation is there already: no frame to wait for)
            home_ms.append(await press("home", top_shown))
        end_ms.append(await press("end", end_shown))
        figures["home_ms"] = home_ms
        figures["end_ms"] = end_ms
        figures["page_up_ms"] = page_up_ms
        figures["rss_end_mb"] = _rss_mb()
        figures["widgets_mounted_at_end"] = len(log.children)
    store.close()
    return figures


def _child_main(arguments: argparse.Namespace) -> None:
    result = asyncio.run(
        child_run(arguments.db, arguments.conversation, arguments.base_url, arguments.presses)
    )
    print("RESULT " + json.dumps(result))


def measure(runs: int, turns: int) -> dict[str, Any]:
    results: dict[str, list[dict[str, Any]]] = {"long": [], "short": []}
    with tempfile.TemporaryDirectory(prefix="unify-tui-history-") as folder, SimProcess() as sim:
        db = Path(folder) / "conversations.db"
        ids = build_store(db, turns)
        for _ in range(runs):
            for name in ("short", "long"):
                output = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        "--db",
                        str(db),
                        "--conversation",
                        str(ids[name]),
                        "--base-url",
                        sim.base_url,
                        "--presses",
                        str(PAGE_UP_PRESSES),
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=600,
                )
                lines = [x for x in output.stdout.splitlines() if x.startswith("RESULT ")]
                if not lines:
                    raise RuntimeError(f"history child failed:\n{output.stderr[-3000:]}")
                results[name].append(json.loads(lines[-1][len("RESULT ") :]))
    long_runs, short_runs = results["long"], results["short"]
    first = [run["first_frame_ms"] for run in long_runs]
    homes = [value for run in long_runs for value in run["home_ms"]]
    ends = [value for run in long_runs for value in run["end_ms"]]
    page_ups = [value for run in long_runs for value in run["page_up_ms"]]
    rss = [max(run["rss_open_mb"], run["rss_top_mb"], run["rss_end_mb"]) for run in long_runs]
    short_first = median([run["first_frame_ms"] for run in short_runs])
    summary = {
        "turns": turns,
        "messages": turns * 2,
        "runs": runs,
        "first_frame_ms_median": rounded(median(first)),
        "first_frame_ms_10_turns_median": rounded(short_first),
        "first_frame_ratio_to_10_turns": round(median(first) / short_first, 2),
        "home_key_ms_median": rounded(median(homes)),
        "home_key_ms_max": rounded(max(homes)),
        "reached_top": all(run["reached_top"] for run in long_runs),
        "end_key_ms_median": rounded(median(ends)),
        "end_key_ms_max": rounded(max(ends)),
        "page_up_presses": len(long_runs[-1]["page_up_ms"]),
        "page_up_rows": long_runs[-1]["page_up_rows"],
        "page_up_ms_median": rounded(median(page_ups)),
        "page_up_ms_p95": rounded(percentile(page_ups, 0.95)),
        "rss_mb_max_median": rounded(median(rss)),
        "rss_mb_10_turns_median": rounded(
            median(
                [
                    max(run["rss_open_mb"], run["rss_top_mb"], run["rss_end_mb"])
                    for run in short_runs
                ]
            )
        ),
        "widgets_mounted_after_open": long_runs[-1]["widgets_mounted_after_open"],
        "target": "first frame <= 300 ms, RSS <= 150 MB",
        "met": median(first) <= 300 and median(rss) <= 150,
    }
    return {"method": __doc__, "summary": summary, "runs": results}


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    s = result["summary"]
    return [
        {
            "benchmark": f"4 open {s['turns']}-turn conversation -> first frame",
            "median": f"{s['first_frame_ms_median']} ms",
            "baseline": f"10 turns {s['first_frame_ms_10_turns_median']} ms",
            "ratio": s["first_frame_ratio_to_10_turns"],
            "target": "<= 300 ms",
            "met": s["first_frame_ms_median"] <= 300,
        },
        {
            "benchmark": f"4 Home / End key -> frame ({s['turns']} turns)",
            "median": (
                f"Home {s['home_key_ms_median']} ms (max {s['home_key_ms_max']}) to the first "
                f"message; End {s['end_key_ms_median']} ms (max {s['end_key_ms_max']})"
            ),
            "baseline": "-",
            "ratio": "-",
            "target": "responsive (<= 50 ms)",
            "met": s["home_key_ms_max"] <= 50 and s["end_key_ms_max"] <= 50,
        },
        {
            "benchmark": f"4 Page Up key -> frame ({s['turns']} turns)",
            "median": (
                f"p50 {s['page_up_ms_median']} ms, p95 {s['page_up_ms_p95']} ms "
                f"({s['page_up_presses']} presses, {s['page_up_rows']} rows)"
            ),
            "baseline": "-",
            "ratio": "-",
            "target": "responsive (p95 <= 50 ms)",
            "met": s["page_up_ms_p95"] <= 50,
        },
        {
            "benchmark": f"4 resident memory ({s['turns']} turns)",
            "median": f"{s['rss_mb_max_median']} MB",
            "baseline": f"10 turns {s['rss_mb_10_turns_median']} MB",
            "ratio": round(s["rss_mb_max_median"] / s["rss_mb_10_turns_median"], 2),
            "target": "<= 150 MB",
            "met": s["rss_mb_max_median"] <= 150,
        },
    ]


def run(runs: int = 5, smoke: bool = False, save: bool = True) -> dict[str, Any]:
    result = measure(1 if smoke else runs, 30 if smoke else 1000)
    return finish("history", result, table, save=save, smoke=smoke)


def main() -> None:
    parser = bench_parser(
        __doc__, 5, "fresh processes per conversation", "one tiny run, nothing saved"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--conversation", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--presses", type=int, default=PAGE_UP_PRESSES, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        _child_main(arguments)
        return
    result = run(arguments.runs, arguments.smoke)
    report("Benchmark 4: long conversations", result)


if __name__ == "__main__":
    main()
