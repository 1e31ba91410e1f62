"""Long conversations, the long way: scroll a 1,000-turn conversation from its end to its first
message a screen at a time, and report resident memory.

Run alone (about a minute): python3 benchmarks/scroll_through.py [--turns N]

Method: the conversation of bench_history.py (same generator, same seed) in a temporary SQLite
file; the real app (UnifyTUI, headless run_test at 120x40, the embedded gateway in its own
process, the heap frozen as the CLI does) opens it as the conversation list does; then the log
is scrolled up by one screen (38 rows) every 30 ms until it is at the top, which mounts and folds
every page on the way. VmRSS (/proc/self/status) is sampled every 10 steps; reported: after
opening, the highest sample, and after a 1.5 s pause at the top. Target (issue 6): at most
150 MB. Not part of run_all.py (it takes a minute and shows one figure).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from _common import APP_SIZE, SimProcess, make_app, prepare_heap, settle, wait_for
from bench_history import _at_end, _rss_mb, build_store

SCREEN_ROWS = 38


async def scroll_through(db: Path, conversation_id: int, base_url: str) -> dict[str, float]:
    from tui_chat.store import Store

    store = Store.open(db)
    app = make_app(base_url, store=store)
    prepare_heap()
    figures: dict[str, float] = {}
    async with app.run_test(size=APP_SIZE) as pilot:
        await settle(app)
        log = app.chat_log
        app.open_conversation(conversation_id)
        await wait_for(lambda: _at_end(log), timeout=60)
        await settle(app)
        figures["rss_open_mb"] = _rss_mb()
        peak, steps, started = 0.0, 0, time.perf_counter()
        while log.scroll_y > 0:
            log.scroll_to(y=max(0, log.scroll_y - SCREEN_ROWS), animate=False, immediate=True)
            await pilot.pause(0.03)
            steps += 1
            if steps % 10 == 0:
                peak = max(peak, _rss_mb())
        figures["seconds"] = time.perf_counter() - started
        await settle(app, 1.5)
        figures["steps"] = steps
        figures["rss_peak_mb"] = max(peak, _rss_mb())
        figures["rss_top_mb"] = _rss_mb()
        figures["folded_messages_at_top"] = log.folded_count
    store.close()
    return figures


def run(turns: int = 1000) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="unify-tui-scroll-") as folder, SimProcess() as sim:
        db = Path(folder) / "conversations.db"
        ids = build_store(db, turns)
        return asyncio.run(scroll_through(db, ids["long"], sim.base_url))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=1000, help="turns in the conversation")
    turns = parser.parse_args().turns
    figures = run(turns)
    print(
        f"{turns:,} turns scrolled from the end to the top in {figures['steps']:.0f} screens "
        f"({figures['seconds']:.1f} s): RSS after opening {figures['rss_open_mb']:.1f} MB, "
        f"highest {figures['rss_peak_mb']:.1f} MB, at the top {figures['rss_top_mb']:.1f} MB "
        f"(target <= 150 MB)"
    )


if __name__ == "__main__":
    main()
