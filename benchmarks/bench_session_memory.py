"""Benchmark 7, a long session: memory over 200 long replies in one sitting, then a reopen.

Run alone: python3 benchmarks/bench_session_memory.py [--replies N] [--smoke]

Method
------
One process, as a person's long session: the app (UnifyTUI, headless ``run_test`` at 120x40,
saving to a SQLite store in a temporary folder) on the embedded gateway in a subprocess, which
streams each reply unpaced: ``REPLY_TOKENS`` tokens of its Markdown answer (headings, lists, a
table, code). The prompt is typed and sent with Enter as key events; the next message goes
once the reply has ended and the screen has settled. After every ``EVERY`` replies the resident
memory (VmRSS from /proc/self/status) is read as it is (no collection forced: the user's process
does not force one either). "Warm-up" is the first ``EVERY`` replies; the figure held to the
target is the growth from there to the end (target: at most +20 MB over the whole run).

Then the conversation is left (ctrl+n) and reopened the way the conversation list does
(``open_conversation(id)``), and the memory read again (target for a 1,000-turn conversation,
benchmark 4: at most 150 MB).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    APP_SIZE,
    SimProcess,
    bench_parser,
    finish,
    make_app,
    post_key,
    prepare_heap,
    report,
    rounded,
    settle,
    wait_for,
)

REPLIES = 200
EVERY = 20
REPLY_TOKENS = 1500
# A model whose context window holds 200 such turns (2M tokens): the gateway refuses a history
# longer than the window, as real ones do.
SESSION_MODEL = "gemini-1.5-pro@vertex-ai"
TARGET_GROWTH_MB = 20.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _type(app: Any, text: str) -> None:
    for character in text:
        post_key(app, "space" if character == " " else character, character)
    post_key(app, "enter", "\r")


async def session(replies: int, every: int) -> dict[str, Any]:
    from tui_chat.core.conversation import Outcome
    from tui_chat.store import Store

    with SimProcess() as sim, tempfile.TemporaryDirectory() as folder:
        sim.control(token_delay_s=0.0, ttft_s=0.0, reply_tokens=REPLY_TOKENS, markdown=True)
        store = Store.open(Path(folder) / "conversations.db")
        app = make_app(sim.base_url, store=store, model=SESSION_MODEL)
        readings: list[dict[str, Any]] = []
        started = time.perf_counter()
        async with app.run_test(size=APP_SIZE, headless=True) as pilot:
            await settle(app, 0.5)
            app.prompt.focus()
            prepare_heap()
            readings.append({"replies": 0, "rss_mb": rounded(rss_mb())})
            for number in range(1, replies + 1):
                sent = len(app.conversation.messages)
                await _type(app, f"Question {number}: write a long markdown answer")

                def ended(sent: int = sent) -> bool:
                    messages = app.conversation.messages
                    return (
                        len(messages) >= sent + 2
                        and messages[-1].outcome is not None
                        and not app.streaming
                    )

                await wait_for(ended, timeout=120)
                if app.conversation.messages[-1].outcome is not Outcome.COMPLETE:
                    raise RuntimeError(f"reply {number} ended {app.conversation.messages[-1]}")
                await settle(app, 0.05, limit=5)
                if number % every == 0:
                    readings.append(
                        {
                            "replies": number,
                            "rss_mb": rounded(rss_mb()),
                            # live Python objects: growth here is held memory, not fragments
                            "python_blocks": sys.getallocatedblocks(),
                        }
                    )
                    print(f"  {number} replies: {readings[-1]}", file=sys.stderr)
            duration = time.perf_counter() - started
            conversation_id = app.conversation_id
            await pilot.press("ctrl+n")
            await settle(app, 0.3)
            left = rss_mb()
            assert conversation_id is not None
            app.open_conversation(conversation_id)
            await wait_for(lambda: len(app.conversation.messages) >= 2 * replies, timeout=120)
            await settle(app, 0.5)
            reopened = rss_mb()
        store.close()
    warm = readings[1]["rss_mb"] if len(readings) > 1 else readings[0]["rss_mb"]
    return {
        "replies": replies,
        "reply_tokens": REPLY_TOKENS,
        "readings": readings,
        "growth_after_warm_up_mb": rounded(readings[-1]["rss_mb"] - warm),
        "target_growth_mb": TARGET_GROWTH_MB,
        "rss_after_leaving_mb": rounded(left),
        "rss_after_reopening_mb": rounded(reopened),
        "duration_s": rounded(duration),
    }


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    readings = result["readings"]
    warm = readings[1] if len(readings) > 1 else readings[0]
    rows = [
        {
            "benchmark": f"7 RSS after {reading['replies']} replies",
            "median": f"{reading['rss_mb']} MB",
            "baseline": f"{warm['rss_mb']} MB after {warm['replies']}",
            "ratio": "",
            "target": "",
            "met": "",
        }
        for reading in readings
    ]
    growth = result["growth_after_warm_up_mb"]
    rows.append(
        {
            "benchmark": f"7 growth from reply {warm['replies']} to {readings[-1]['replies']}",
            "median": f"{growth} MB",
            "baseline": "",
            "ratio": "",
            "target": f"≤ {result['target_growth_mb']:g} MB",
            "met": "yes" if growth <= result["target_growth_mb"] else "no",
        }
    )
    for label, key in (
        ("after ctrl+n", "rss_after_leaving_mb"),
        ("reopened", "rss_after_reopening_mb"),
    ):
        rows.append(
            {
                "benchmark": f"7 RSS {label}",
                "median": f"{result[key]} MB",
                "baseline": "",
                "ratio": "",
                "target": "≤ 150 MB" if key == "rss_after_reopening_mb" else "",
                "met": ("yes" if result[key] <= 150 else "no")
                if key == "rss_after_reopening_mb"
                else "",
            }
        )
    return rows


def run(
    runs: int = 1, smoke: bool = False, save: bool = True, replies: int = REPLIES
) -> dict[str, Any]:
    """One session (``runs`` is ignored: the session is the run); smoke: 4 replies."""
    count, every = (4, 2) if smoke else (replies, EVERY)
    result = asyncio.run(session(count, every))
    result["summary"] = {
        "growth_after_warm_up_mb": result["growth_after_warm_up_mb"],
        "rss_after_reopening_mb": result["rss_after_reopening_mb"],
    }
    return finish("session_memory", result, table, save=save, smoke=smoke)


def main() -> None:
    parser = bench_parser(__doc__, 1, "(one run: it is one long session)", "4 replies, no save")
    parser.add_argument("--replies", type=int, default=REPLIES)
    args = parser.parse_args()
    result = run(smoke=args.smoke, replies=args.replies)
    report("Benchmark 7: memory over one long session", result)


if __name__ == "__main__":
    main()
