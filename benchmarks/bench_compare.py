"""Benchmark 8, compare endpoints: three columns each streaming 2,000 Markdown tokens at once.

Run alone: python3 benchmarks/bench_compare.py [--runs N] [--smoke]

Method
------
The app (UnifyTUI, headless ``run_test`` at 120x40, real Unify client over real HTTP to the
gateway subprocess) compares three endpoints (``llama-3.1-8b-chat`` at groq, together-ai and
deepinfra): the compare screen streams three replies at once, each a 2,000-token Markdown reply
at 1,000 tokens/s (token_delay_s = 0.001, one token per SSE chunk), so 3,000 tokens/s in all.

(a) Last frame after last byte, per column: the gateway is wrapped to stamp (perf_counter) each
stream's last text event as it leaves the client; every screen update is turned into terminal
bytes and stamped; a column's last frame is the first update drawn after its reply ended and
its column was finished (the Markdown tail flushed). Target: within 50 ms for every column.

(b) Keystroke echo while they stream: letters typed 40-60 ms apart into the screen's "next
message" box, each delivered as the terminal driver delivers input (a ``Key`` event to
``driver.send_message``); a key's latency is from handing it over to the end of the first frame
showing it. Only keys sent while all three streams were still open count. Target: p95 <= 50 ms.

(c) CPU: ``time.process_time()`` of the benchmark process from the request to the last
column's last frame, against three raw ``openai`` async clients (one each, concurrently, in the
same process and run) reading the same three streams to their end (the SDK parses every chunk).
Reported, no target; the gateway runs in its own process and counts in neither.
"""

from __future__ import annotations

import asyncio
import random
import string
import time
from typing import Any

from _common import (
    APP_SIZE,
    DEMO_KEY,
    SMOKE_HELP,
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

ENDPOINTS = (
    "llama-3.1-8b-chat@groq",
    "llama-3.1-8b-chat@together-ai",
    "llama-3.1-8b-chat@deepinfra",
)
PROMPT = "Give me a long Markdown answer, please."


def timed_gateway(base_url: str) -> Any:
    """The app's Unify gateway, stamping each endpoint's last text event (perf_counter)."""
    from tui_chat.core.events import TextDelta
    from tui_chat.gateways.config import GatewaySettings
    from tui_chat.gateways.unify import UnifyGateway

    class PerStreamGateway(UnifyGateway):
        last_text_at: dict[str, float] = {}

        async def stream_chat(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
            async for event in super().stream_chat(endpoint, *args, **kwargs):
                if isinstance(event, TextDelta):
                    self.last_text_at[endpoint] = time.perf_counter()
                yield event

    gateway = PerStreamGateway(GatewaySettings(base_url=base_url, api_key=DEMO_KEY, timeout=30.0))
    gateway.last_text_at = {}
    return gateway


async def app_run(sim: SimProcess, tokens: int, seed: int) -> dict[str, Any]:
    from textual.widgets import Input

    from tui_chat.ui.screens.compare import CompareRequest, CompareScreen, _start_compare

    rng = random.Random(seed)
    sim.control(
        reply_tokens=tokens,
        markdown=True,
        token_delay_s=0.001,
        ttft_s=0.0,
        tokens_per_chunk=1,
        reset=True,
    )
    gateway = timed_gateway(sim.base_url)
    app = make_app(sim.base_url, gateway=gateway)
    prepare_heap()
    async with app.run_test(size=APP_SIZE):
        clock = FrameClock(app)
        app._bench_clock = clock
        await settle(app)
        cpu_start = time.process_time()
        _start_compare(app, CompareRequest(PROMPT, ENDPOINTS))
        await wait_for(lambda: isinstance(app.screen, CompareScreen), timeout=10)
        screen = app.screen
        comparison = screen.comparison
        last_frame: dict[int, float] = {}
        cpu_end: list[float] = []

        def watch_columns(stamp: float) -> None:
            for index, column in enumerate(screen.columns):
                ended = column.reply.outcome is not None and not column.has_class("-streaming")
                if ended and index not in last_frame:
                    last_frame[index] = stamp
                    if len(last_frame) == len(screen.columns):
                        cpu_end.append(time.process_time())

        clock.watchers.append(watch_columns)
        await wait_for(lambda: bool(screen.query("#compare-next")), timeout=10)
        box = screen.query_one("#compare-next", Input)
        await wait_for(lambda: all(reply.content for reply in comparison.replies), timeout=30)
        box.focus()
        await asyncio.sleep(0.3)  # a user's move from the click to the first key
        sent: list[float] = []
        shown: dict[int, float] = {}
        during: list[bool] = []

        def watch_box(stamp: float) -> None:
            for index in range(len(box.value)):
                if index not in shown and index < len(sent):
                    shown[index] = stamp

        clock.watchers.append(watch_box)
        while not comparison.finished and len(sent) < 200:
            letter = rng.choice(string.ascii_lowercase)
            during.append(all(reply.outcome is None for reply in comparison.replies))
            sent.append(time.perf_counter())
            post_key(app, letter, letter)
            await asyncio.sleep(rng.uniform(0.040, 0.060))
        await wait_for(lambda: len(shown) == len(sent), timeout=30)
        await wait_for(lambda: len(last_frame) == len(ENDPOINTS), timeout=60)
        clock.watchers.clear()
        keys = [(shown[index] - sent[index]) * 1000 for index in range(len(sent)) if during[index]]
        after_byte = [
            (last_frame[index] - gateway.last_text_at[endpoint]) * 1000
            for index, endpoint in enumerate(ENDPOINTS)
        ]
        replies = comparison.replies
        result = {
            "last_frame_after_last_byte_ms": after_byte,
            "keys_ms": keys,
            "keys_typed": len(sent),
            "cpu_s": cpu_end[0] - cpu_start,
            "tokens": [reply.completion_tokens for reply in replies],
            "outcomes": [str(reply.outcome) for reply in replies],
            "tok_s": [reply.tokens_per_second for reply in replies],
        }
        screen.dismiss(None)
        await settle(app)
    return result


async def raw_run(sim: SimProcess, tokens: int) -> dict[str, Any]:
    """Three raw openai clients reading the same three streams at once: the in-run baseline."""
    import openai

    sim.control(
        reply_tokens=tokens,
        markdown=True,
        token_delay_s=0.001,
        ttft_s=0.0,
        tokens_per_chunk=1,
        reset=True,
    )
    clients = [
        openai.AsyncOpenAI(base_url=sim.base_url, api_key=DEMO_KEY, max_retries=0)
        for _ in ENDPOINTS
    ]

    async def read(client: Any, endpoint: str) -> int:
        stream = await client.chat.completions.create(
            model=endpoint, messages=[{"role": "user", "content": PROMPT}], stream=True
        )
        count = 0
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
        return count

    try:
        cpu_start = time.process_time()
        counts = await asyncio.gather(
            *(read(client, endpoint) for client, endpoint in zip(clients, ENDPOINTS, strict=True))
        )
        cpu = time.process_time() - cpu_start
    finally:
        for client in clients:
            await client.close()
    return {"cpu_s": cpu, "chunks": list(counts)}


async def measure(runs: int, smoke: bool) -> dict[str, Any]:
    tokens = 200 if smoke else 2000
    apps: list[dict[str, Any]] = []
    raws: list[dict[str, Any]] = []
    with SimProcess() as sim:
        for run in range(runs):
            raws.append(await raw_run(sim, tokens))
            apps.append(await app_run(sim, tokens, seed=run))
    after_byte = [value for run in apps for value in run["last_frame_after_last_byte_ms"]]
    keys = [value for run in apps for value in run["keys_ms"]]
    app_cpu = median([run["cpu_s"] for run in apps])
    raw_cpu = median([run["cpu_s"] for run in raws])
    summary = {
        "runs": runs,
        "columns": len(ENDPOINTS),
        "tokens_per_reply": tokens,
        "stream_rate": "1000 tok/s each, 3 at once",
        "last_frame_after_last_byte_ms_median": rounded(median(after_byte)),
        "last_frame_after_last_byte_ms_max": rounded(max(after_byte)),
        "keys_counted": len(keys),
        "keys_p50_ms": rounded(median(keys)) if keys else None,
        "keys_p95_ms": rounded(percentile(keys, 0.95)) if keys else None,
        "app_cpu_s_median": rounded(app_cpu, 3),
        "raw_cpu_s_median": rounded(raw_cpu, 3),
        "cpu_ratio": round(app_cpu / raw_cpu, 2) if raw_cpu else None,
        "target": "every column's last frame <= 50 ms after its last byte; keys p95 <= 50 ms",
        "met_last_frame": max(after_byte) <= 50,
        "met_keys": bool(keys) and percentile(keys, 0.95) <= 50,
    }
    return {"method": __doc__, "summary": summary, "runs": apps, "raw_runs": raws}


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    summary = result["summary"]
    return [
        {
            "benchmark": "8a compare: 3 columns, last frame after last byte",
            "median": f"{summary['last_frame_after_last_byte_ms_median']} ms "
            f"(max {summary['last_frame_after_last_byte_ms_max']} ms)",
            "baseline": "-",
            "ratio": "-",
            "target": "<= 50 ms each",
            "met": summary["met_last_frame"],
        },
        {
            "benchmark": "8b compare: key echo while 3 stream",
            "median": f"p50 {summary['keys_p50_ms']} ms, p95 {summary['keys_p95_ms']} ms "
            f"({summary['keys_counted']} keys)",
            "baseline": "-",
            "ratio": "-",
            "target": "p95 <= 50 ms",
            "met": summary["met_keys"],
        },
        {
            "benchmark": "8c compare: CPU, app vs 3 raw openai clients",
            "median": f"{summary['app_cpu_s_median']} s",
            "baseline": f"{summary['raw_cpu_s_median']} s",
            "ratio": summary["cpu_ratio"],
            "target": "reported",
            "met": "-",
        },
    ]


def run(runs: int = 5, smoke: bool = False, save: bool = True) -> dict[str, Any]:
    result = asyncio.run(measure(1 if smoke else runs, smoke))
    return finish("compare", result, table, save=save, smoke=smoke)


def main() -> None:
    parser = bench_parser(__doc__, 5, "comparisons of 3 x 2,000 tokens", SMOKE_HELP)
    arguments = parser.parse_args()
    result = run(arguments.runs, arguments.smoke)
    report("Benchmark 8: compare endpoints", result)


if __name__ == "__main__":
    main()
