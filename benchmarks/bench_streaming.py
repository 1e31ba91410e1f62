"""Benchmark 1, streaming render: the whole app (UnifyTUI) against the embedded gateway.

Run alone: python3 benchmarks/bench_streaming.py [--runs N] [--smoke]

Method
------
The gateway runs in a subprocess and streams a long Markdown reply (``markdown=true``: headings,
lists, a table, fenced code in several languages), one token per SSE chunk, exactly N tokens
(``reply_tokens``). The app runs headless (``App.run_test``, 120x40) with its real Unify client
over real HTTP; the prompt is sent by an Enter key event, as a terminal would deliver it. Every
screen update is stamped after it is turned into terminal bytes (`FrameClock`). The gateway is
wrapped to stamp when each text event leaves it (after HTTP and SSE parsing).

The *final frame* is the first screen update drawn once the reply is finished, all its text
taken in and rendered, and its laid-out height equal to its rendered lines: the frame that shows
the whole reply.

(a) latency: 4,000 tokens at 1,000 tok/s (token_delay_s = 0.001); last text event -> final frame.
(b) throughput: 4,000 tokens as fast as the gateway sends (token_delay_s = 0); the app's rendered
    tok/s = tokens / (first text event -> final frame). In the same run, alternating with the app,
    the raw ``openai`` AsyncOpenAI client consumes the same stream: tokens / (first chunk -> last
    chunk). The ratio app / raw is the price of the app.
(c) CPU per token: ``time.process_time()`` from Enter to the final frame, divided by tokens, at
    1k, 4k and 16k tokens as fast as the gateway sends (the raw client's beside it).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from _common import (
    APP_SIZE,
    DEMO_KEY,
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

PROMPT = "Explain streaming replies, with a table and code."


def reply_is_final(app: Any) -> bool:
    """True when the last reply is finished and the screen's layout holds all of it."""
    replies = app.chat_log.replies
    if not replies:
        return False
    view = replies[-1]
    body = view.body
    return bool(
        view.message.outcome is not None
        and body.is_finished
        and not body._pending
        and not body._tail_dirty
        and body._line_count > 0
        and body.size.height == body._line_count
    )


async def app_run(sim: SimProcess, tokens: int, token_delay_s: float) -> dict[str, Any]:
    """One reply of `tokens` tokens through the app; figures in ms, tok/s and us/token."""
    sim.control(
        reply_tokens=tokens, markdown=True, token_delay_s=token_delay_s, ttft_s=0.0, reset=True
    )
    app = make_app(sim.base_url)
    prepare_heap()
    async with app.run_test(size=APP_SIZE):
        clock = FrameClock(app)
        app._bench_clock = clock
        await settle(app)  # listings and balance loaded, the first frames drawn
        gateway = app.gateway
        gateway.reset()
        final: dict[str, float] = {}

        def watch(stamp: float) -> None:
            if not final and reply_is_final(app):
                final["at"] = stamp
                final["cpu"] = time.process_time()

        clock.watchers.append(watch)
        app.prompt.load_text(PROMPT)
        cpu_start = time.process_time()
        post_key(app, "enter", "\r")
        await wait_for(lambda: bool(final), timeout=120)
        body = app.chat_log.replies[-1].body
        message = app.chat_log.replies[-1].message
        assert body.source == message.content, "the reply shown is not the reply received"
        count = gateway.text_events
        first, last = gateway.first_text_at, gateway.last_text_at
        assert first is not None and last is not None
        frames = sum(1 for stamp in clock.frames if first <= stamp <= final["at"])
    return {
        "tokens": count,
        "latency_ms": (final["at"] - last) * 1000,
        "rendered_tok_s": count / (final["at"] - first),
        "feed_s": last - first,
        "cpu_us_per_token": (final["cpu"] - cpu_start) / count * 1e6,
        "frames": frames,
        "lines": body._line_count,
    }


async def raw_client_run(sim: SimProcess, tokens: int, token_delay_s: float) -> dict[str, Any]:
    """The same stream consumed by the raw openai client (no app): the in-run baseline."""
    import openai

    sim.control(
        reply_tokens=tokens, markdown=True, token_delay_s=token_delay_s, ttft_s=0.0, reset=True
    )
    client = openai.AsyncOpenAI(base_url=sim.base_url, api_key=DEMO_KEY, max_retries=0)
    try:
        count = 0
        first = last = 0.0
        cpu_start = time.process_time()
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                last = time.perf_counter()
                if not count:
                    first = last
                count += 1
        cpu = time.process_time() - cpu_start
    finally:
        await client.close()
    return {
        "tokens": count,
        "raw_tok_s": count / (last - first),
        "cpu_us_per_token": cpu / count * 1e6,
    }


async def measure(runs: int, smoke: bool) -> dict[str, Any]:
    sizes = (200,) if smoke else (1000, 4000, 16000)
    big = 200 if smoke else 4000
    with SimProcess() as sim:
        # (a) latency at 1,000 tok/s
        latency = [await app_run(sim, big, 0.001) for _ in range(runs)]
        # (b) and (c): as fast as the gateway sends, app and raw client alternating
        fast: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
        raw: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
        for size in sizes:
            repeats = runs if size == big else max(1, min(runs, 3))
            for _ in range(repeats):
                raw[size].append(await raw_client_run(sim, size, 0.0))
                fast[size].append(await app_run(sim, size, 0.0))

    latencies = [run["latency_ms"] for run in latency]
    app_rates = [run["rendered_tok_s"] for run in fast[big]]
    raw_rates = [run["raw_tok_s"] for run in raw[big]]
    ratios = [a / r for a, r in zip(app_rates, raw_rates, strict=True)]
    summary: dict[str, Any] = {
        "a_latency_ms": {
            "tokens": big,
            "rate": "1000 tok/s",
            "median": rounded(median(latencies)),
            "p95": rounded(percentile(latencies, 0.95)),
            "all": [rounded(x) for x in latencies],
            "frames_median": median([run["frames"] for run in latency]),
            "target": "<= 50 ms",
            "met": median(latencies) <= 50,
        },
        "b_throughput": {
            "tokens": big,
            "app_rendered_tok_s_median": round(median(app_rates)),
            "raw_client_tok_s_median": round(median(raw_rates)),
            "ratio_app_to_raw_median": round(median(ratios), 3),
            "app_all": [round(x) for x in app_rates],
            "raw_all": [round(x) for x in raw_rates],
            "target": ">= 10,000 tok/s rendered",
            "met": median(app_rates) >= 10000,
        },
        "c_cpu_per_token": {
            str(size): {
                "app_us_median": rounded(median([run["cpu_us_per_token"] for run in fast[size]])),
                "raw_client_us_median": rounded(
                    median([run["cpu_us_per_token"] for run in raw[size]])
                ),
                "app_tok_s_median": round(median([run["rendered_tok_s"] for run in fast[size]])),
                "runs": len(fast[size]),
            }
            for size in sizes
        },
    }
    cpu = [summary["c_cpu_per_token"][str(size)]["app_us_median"] for size in sizes]
    # Flat means no growth: per-token CPU at the largest size within 1.5x of the smallest.
    # (It falls as replies grow: the request and the first layout are paid once per reply.)
    summary["c_cpu_per_token"]["flat"] = cpu[-1] <= 1.5 * cpu[0]
    if len(sizes) > 1:
        # Marginal CPU per token between sizes (fixed costs cancel out), from the medians.
        totals = [size * us for size, us in zip(sizes, cpu, strict=True)]
        summary["c_cpu_per_token"]["marginal_us"] = {
            f"{low}->{high}": rounded((totals[i + 1] - totals[i]) / (high - low))
            for i, (low, high) in enumerate(itertools.pairwise(sizes))
        }
    return {
        "method": __doc__,
        "summary": summary,
        "runs": {"latency": latency, "fast": fast, "raw": raw},
    }


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    summary = result["summary"]
    a, b, c = summary["a_latency_ms"], summary["b_throughput"], summary["c_cpu_per_token"]
    rows = [
        {
            "benchmark": f"1a last byte -> final frame ({a['tokens']} tok @1000/s)",
            "median": f"{a['median']} ms",
            "baseline": "-",
            "ratio": "-",
            "target": a["target"],
            "met": a["met"],
        },
        {
            "benchmark": f"1b rendered tok/s ({b['tokens']} tok, max rate)",
            "median": f"{b['app_rendered_tok_s_median']} tok/s",
            "baseline": f"raw openai {b['raw_client_tok_s_median']} tok/s",
            "ratio": b["ratio_app_to_raw_median"],
            "target": b["target"],
            "met": b["met"],
        },
    ]
    for size, figures in c.items():
        if size in ("flat", "marginal_us"):
            continue
        rows.append(
            {
                "benchmark": f"1c CPU per token, {size} tok",
                "median": f"{figures['app_us_median']} us",
                "baseline": f"raw openai {figures['raw_client_us_median']} us",
                "ratio": round(figures["app_us_median"] / figures["raw_client_us_median"], 2),
                "target": "flat",
                "met": c["flat"],
            }
        )
    return rows


def run(runs: int = 5, smoke: bool = False, save: bool = True) -> dict[str, Any]:
    result = asyncio.run(measure(1 if smoke else runs, smoke))
    return finish("streaming", result, table, save=save, smoke=smoke)


def main() -> None:
    parser = bench_parser(
        __doc__, 5, "runs per figure (median reported)", "one tiny run, nothing saved"
    )
    arguments = parser.parse_args()
    result = run(arguments.runs, arguments.smoke)
    report("Benchmark 1: streaming render", result)


if __name__ == "__main__":
    main()
