"""Benchmark 5, time to first token added by the app.

Run alone: python3 benchmarks/bench_ttft.py [--runs N] [--smoke]

Method
------
The gateway subprocess answers after a fixed 200 ms (ttft_s = 0.2), then streams 50 tokens at
1 ms each. The app (UnifyTUI, headless ``run_test`` at 120x40, real Unify client over real HTTP)
has a prompt typed in; Enter is delivered as a terminal driver delivers it (a Key event through
``driver.send_message``). Two spans, each with one frame (16.7 ms) as the target:

* Enter -> request on the wire: from handing over the Enter key to the moment the gateway
  recorded the request's arrival (its ``/_sim/requests`` log, unix time, same machine clock).
  Baseline in the same run: the raw ``openai`` AsyncOpenAI client, from calling
  ``chat.completions.create`` to the recorded arrival.
* First byte -> first visible character: from the first text event leaving the app's gateway
  client (the first SSE chunk read and parsed) to the end of the first screen update (turned into
  terminal bytes) that shows reply text.

Each run is a fresh app sending 3 messages. The medians are over the 2nd and 3rd messages; each
app's first message is reported apart (``first_message_of_each_app_ms_median``) because it also
pays one-time work (building the HTTP client, a first connection) that later messages do not.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from _common import (
    APP_SIZE,
    DEMO_KEY,
    FRAME_MS,
    MODEL,
    SMOKE_HELP,
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

PROMPT = "How long until the first token?"


def _arrival(sim: SimProcess) -> float:
    requests = [item for item in sim.requests() if item["path"].endswith("/chat/completions")]
    return float(requests[-1]["time"])


async def app_run(sim: SimProcess, messages: int) -> list[dict[str, float]]:
    """Send `messages` prompts in one fresh app; per message the two spans in ms."""
    app = make_app(sim.base_url)
    prepare_heap()
    spans: list[dict[str, float]] = []
    async with app.run_test(size=APP_SIZE):
        clock = FrameClock(app)
        app._bench_clock = clock
        await settle(app)
        gateway = app.gateway
        for _ in range(messages):
            sim.control(reset=True)
            gateway.reset()
            shown: dict[str, float] = {}
            replies_before = len(app.chat_log.replies)

            def watch(
                stamp: float, replies_before: int = replies_before, shown: dict = shown
            ) -> None:
                replies = app.chat_log.replies
                if "at" not in shown and len(replies) > replies_before:
                    body = replies[-1].body
                    if body._line_count > 0 and body.size.height > 0:
                        shown["at"] = stamp

            clock.watchers.append(watch)
            app.prompt.load_text(PROMPT)
            await asyncio.sleep(0.05)
            enter_wall = time.time()
            post_key(app, "enter", "\r")
            await wait_for(lambda shown=shown: "at" in shown, timeout=30)
            await wait_for(lambda: not app.streaming, timeout=30)
            clock.watchers.remove(watch)
            assert gateway.first_text_at is not None
            spans.append(
                {
                    "enter_to_wire_ms": (_arrival(sim) - enter_wall) * 1000,
                    "first_byte_to_visible_ms": (shown["at"] - gateway.first_text_at) * 1000,
                }
            )
            await settle(app, 0.2)
    return spans


async def raw_client_run(sim: SimProcess) -> float:
    """ms from the raw openai client's create() call to the request's arrival."""
    import openai

    sim.control(reset=True)
    client = openai.AsyncOpenAI(base_url=sim.base_url, api_key=DEMO_KEY, max_retries=0)
    try:
        started = time.time()
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}], stream=True
        )
        async for _ in stream:
            pass
    finally:
        await client.close()
    return (_arrival(sim) - started) * 1000


async def measure(runs: int, messages: int) -> dict[str, Any]:
    with SimProcess() as sim:
        sim.control(reply_tokens=50, markdown=False, token_delay_s=0.001, ttft_s=0.2)
        per_run = []
        raw = []
        for _ in range(runs):
            raw.append(await raw_client_run(sim))
            per_run.append(await app_run(sim, messages))
    firsts = [spans[0] for spans in per_run]  # each app's first message
    later = [span for spans in per_run for span in spans[1:]] or firsts
    wire = [span["enter_to_wire_ms"] for span in later]
    visible = [span["first_byte_to_visible_ms"] for span in later]
    summary = {
        "runs": runs,
        "messages_per_run": messages,
        "enter_to_wire_ms_median": rounded(median(wire)),
        "enter_to_wire_ms_max": rounded(max(wire)),
        "raw_client_to_wire_ms_median": rounded(median(raw[1:] or raw)),
        "first_byte_to_visible_ms_median": rounded(median(visible)),
        "first_byte_to_visible_ms_max": rounded(max(visible)),
        "first_message_of_each_app_ms_median": {
            key: rounded(median([span[key] for span in firsts])) for key in firsts[0]
        },
        "raw_client_first_call_ms": rounded(raw[0]),
        "target": f"each <= one frame ({FRAME_MS:.1f} ms)",
        "met": median(wire) <= FRAME_MS and median(visible) <= FRAME_MS,
    }
    return {"method": __doc__, "summary": summary, "runs": per_run, "raw_client_ms": raw}


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    summary = result["summary"]
    raw = summary["raw_client_to_wire_ms_median"]
    return [
        {
            "benchmark": "5a Enter -> request on the wire",
            "median": f"{summary['enter_to_wire_ms_median']} ms",
            "baseline": f"raw openai create() -> wire {raw} ms",
            "ratio": round(summary["enter_to_wire_ms_median"] / raw, 2) if raw else "-",
            "target": "<= 16.7 ms",
            "met": summary["enter_to_wire_ms_median"] <= FRAME_MS,
        },
        {
            "benchmark": "5b first byte -> first visible character",
            "median": f"{summary['first_byte_to_visible_ms_median']} ms",
            "baseline": "-",
            "ratio": "-",
            "target": "<= 16.7 ms",
            "met": summary["first_byte_to_visible_ms_median"] <= FRAME_MS,
        },
    ]


def run(runs: int = 5, smoke: bool = False, save: bool = True) -> dict[str, Any]:
    result = asyncio.run(measure(1 if smoke else runs, 2 if smoke else 3))
    return finish("ttft", result, table, save=save, smoke=smoke)


def main() -> None:
    parser = bench_parser(__doc__, 5, "fresh apps, 3 messages each", SMOKE_HELP)
    arguments = parser.parse_args()
    result = run(arguments.runs, arguments.smoke)
    first = result["summary"]["first_message_of_each_app_ms_median"]
    report("Benchmark 5: time to first token added by the app", result)
    print(f"  first message of each app (median): {first}")


if __name__ == "__main__":
    main()
