"""Render benchmark: StreamingMarkdown against Textual's stock Markdown + MarkdownStream.

Run: python benchmarks/bench_render.py [--quick] [--profile]

Method
------
A headless Textual app (`App.run_test`, 100x40) holds a chat log: an anchored VerticalScroll with
20 earlier finished messages, then the reply widget. A generated Markdown reply (headings,
paragraphs with inline code, lists, a table, several fenced code blocks) is split into tokens the
way an LLM tokenizer would (word pieces of up to 4 letters, with their leading space; punctuation
and newlines on their own), and appended one token per call from a task on the app's event loop.
Each screen update is timed through a wrapper around `App._display` that also turns the update
into terminal output (`render_segments`), as a real terminal would cost; so every measure includes
layout, the compositor asking the widget for the Strips of the visible lines, and their encoding.

(a) latency: tokens fed on a wall-clock schedule at 1,000 tok/s; the time from the last token
    (followed at once by `finish()` / `stream.stop()`) to the last screen update.
(b) throughput: tokens fed as fast as possible (one `await asyncio.sleep(0)` between tokens, as
    one SSE event per wake-up would); tokens / (first token -> last screen update).
(c) CPU per token: `time.process_time()` over run (b), divided by tokens, at 1k, 4k and 16k.

Figures are printed as a table and written to benchmarks/results/render.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Markdown

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_chat.ui.widgets.markdown_stream import StreamingMarkdown

RESULTS = Path(__file__).resolve().parent / "results" / "render.json"
SIZE = (100, 40)

_WORD_LIST = """the a render stream token block cache widget terminal reply provider model
    latency frame
    markdown table list code fence width theme selection gateway cost credit budget request
    response buffer layout compositor strip segment parser highlight python function value
    performance throughput incremental boundary paragraph heading"""
_WORDS = _WORD_LIST.split()
_TOKEN = re.compile(r" ?[A-Za-z]{1,4}| ?\d{1,3}| ?[^\sA-Za-z\d]|\n| +")

_CODE_SNIPPETS = {
    "python": [
        "def {name}(items: list[int]) -> int:",
        '    """Sum the {word} values."""',
        "    total = 0",
        "    for item in items:",
        "        if item % 2 == 0:",
        "            total += item * {num}",
        "",
        "        else:",
        "            total -= item",
        "    return total",
        "",
        "print({name}([1, 2, 3, {num}]))",
    ],
    "shell|bash": [
        "export BASE_URL=http://localhost:{num}",
        'curl -s "$BASE_URL/v0/{word}" \\',
        '  -H "Authorization: Bearer $KEY" | jq .',
        "",
        "for i in $(seq 1 {num}); do",
        '  echo "{word} $i"',
        "done",
    ],
    "json": [
        "{{",
        '  "model": "{word}@provider",',
        '  "max_tokens": {num},',
        '  "stream": true',
        "}}",
    ],
}


def _sentence(rng: random.Random, words: int) -> str:
    picked = [rng.choice(_WORDS) for _ in range(words)]
    if rng.random() < 0.5:
        at = rng.randrange(len(picked))
        picked[at] = f"`{picked[at]}()`"
    if rng.random() < 0.3:
        at = rng.randrange(len(picked))
        picked[at] = f"**{picked[at]}**"
    return " ".join(picked).capitalize() + "."


def make_reply(target_tokens: int, seed: int = 7) -> list[str]:
    """A Markdown reply of about `target_tokens` tokens, as a list of tokens."""
    rng = random.Random(seed)
    parts: list[str] = []
    tokens = 0
    section = 0
    while tokens < target_tokens:
        section += 1
        kind = section % 5
        chunk = [f"## Section {section}: {rng.choice(_WORDS)} {rng.choice(_WORDS)}\n\n"]
        chunk.append(" ".join(_sentence(rng, rng.randint(8, 16)) for _ in range(4)) + "\n\n")
        if kind in (1, 3):
            language = rng.choice(list(_CODE_SNIPPETS))
            body = "\n".join(_CODE_SNIPPETS[language]).format(
                name=f"{rng.choice(_WORDS)}_{section}", word=rng.choice(_WORDS), num=section * 7
            )
            chunk.append(f"```{language}\n{body}\n```\n\n")
        elif kind == 2:
            chunk.extend(f"- {_sentence(rng, rng.randint(4, 9))}\n" for _ in range(5))
            chunk.append("\n")
            chunk.extend(f"{i}. {_sentence(rng, rng.randint(4, 9))}\n" for i in range(1, 4))
            chunk.append("\n")
        elif kind == 4:
            chunk.append("| Endpoint | Latency (ms) | Cost |\n|---|---:|---:|\n")
            chunk.extend(
                f"| {rng.choice(_WORDS)}@{rng.choice(_WORDS)} | {rng.randint(80, 900)} "
                f"| {rng.random():.4f} |\n"
                for _ in range(5)
            )
            chunk.append("\n")
        else:
            chunk.append(f"> {_sentence(rng, 12)}\n\n")
        text = "".join(chunk)
        parts.append(text)
        tokens += len(_TOKEN.findall(text))
    return _TOKEN.findall("".join(parts))[:target_tokens]


_HISTORY = (
    "Earlier message with `inline code` and a short list:\n\n- one\n- two\n\n"
    "```python\nprint('hello')\n```\n"
)


class LeanChatLog(VerticalScroll):
    """A VerticalScroll whose virtual-size change does not ask for a second layout (see the
    `--lean-log` option: measured to halve the layouts while a reply grows)."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False, repaint=False)


class ChatLogApp(App[None]):
    """A chat log like the real one: earlier messages, then the reply being measured."""

    def __init__(self, lean_log: bool) -> None:
        super().__init__()
        self.lean_log = lean_log

    def compose(self) -> ComposeResult:
        log_class = LeanChatLog if self.lean_log else VerticalScroll
        with log_class(id="log"):
            for _ in range(20):
                yield StreamingMarkdown(_HISTORY)

    def on_mount(self) -> None:
        self.query_one("#log").anchor()


@dataclass
class Run:
    widget: str
    tokens: int
    rate: str  # "1000/s" or "max"
    feed_seconds: float  # first token -> last token appended
    total_seconds: float  # first token -> last screen update
    latency_ms: float  # last token -> last screen update
    tokens_per_second: float  # tokens / total_seconds
    cpu_seconds: float
    cpu_us_per_token: float
    screen_updates: int
    final_height: int


async def _run(
    widget_kind: str, tokens: list[str], rate: float | None, lean_log: bool = False
) -> Run:
    app = ChatLogApp(lean_log)
    displays: list[float] = []
    async with app.run_test(size=SIZE):
        original_display = app._display

        def timed_display(screen: Any, renderable: Any) -> None:
            original_display(screen, renderable)
            if renderable is not None:
                renderable.render_segments(app.console)  # what a terminal would be sent
                displays.append(time.perf_counter())

        app._display = timed_display  # type: ignore[method-assign]
        log = app.query_one("#log", VerticalScroll)
        await asyncio.sleep(0.1)
        stream = None
        if widget_kind == "StreamingMarkdown":
            reply: Any = StreamingMarkdown(streaming=True)
            await log.mount(reply)
        else:
            reply = Markdown()
            await log.mount(reply)
            stream = Markdown.get_stream(reply)
        await asyncio.sleep(0.2)

        cpu_start = time.process_time()
        start = time.perf_counter()
        if rate is None:
            for token in tokens:
                if stream is None:
                    reply.append(token)
                    await asyncio.sleep(0)
                else:
                    await stream.write(token)  # includes its own sleep(0)
        else:
            for index, token in enumerate(tokens):
                due = start + index / rate
                if (wait := due - time.perf_counter()) > 0.0005:
                    await asyncio.sleep(wait)
                if stream is None:
                    reply.append(token)
                else:
                    await stream.write(token)
        last_token = time.perf_counter()
        if stream is None:
            reply.finish()
        else:
            await stream.stop()
        # Let it settle without forcing updates: wait until nothing was drawn for 0.3 s.
        while True:
            seen = len(displays)
            await asyncio.sleep(0.3)
            if len(displays) == seen:
                break
        last_frame = displays[-1]
        cpu = time.process_time() - cpu_start
        updates = sum(1 for stamp in displays if stamp >= start)
        height = reply.size.height
    total = last_frame - start
    return Run(
        widget=widget_kind,
        tokens=len(tokens),
        rate="max" if rate is None else f"{rate:.0f}/s",
        feed_seconds=round(last_token - start, 4),
        total_seconds=round(total, 4),
        latency_ms=round((last_frame - last_token) * 1000, 1),
        tokens_per_second=round(len(tokens) / total),
        cpu_seconds=round(cpu, 3),
        cpu_us_per_token=round(cpu / len(tokens) * 1e6, 1),
        screen_updates=updates,
        final_height=height,
    )


def _print_table(runs: list[Run]) -> None:
    header = (
        f"{'widget':<18} {'tokens':>6} {'rate':>7} {'tok/s':>8} {'latency ms':>10} "
        f"{'CPU s':>7} {'CPU us/tok':>10} {'updates':>7} {'lines':>6}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        print(
            f"{run.widget:<18} {run.tokens:>6} {run.rate:>7} {run.tokens_per_second:>8} "
            f"{run.latency_ms:>10} {run.cpu_seconds:>7} {run.cpu_us_per_token:>10} "
            f"{run.screen_updates:>7} {run.final_height:>6}"
        )


async def main(quick: bool, profile: bool, lean_log: bool) -> None:
    replies = {size: make_reply(size) for size in (1000, 4000, 16000)}
    runs: list[Run] = []

    async def run(widget: str, size: int, rate: float | None) -> None:
        result = await _run(widget, replies[size], rate, lean_log)
        runs.append(result)
        print(f"  {widget} {size} tokens at {result.rate}: done", flush=True)

    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
        profiler.start()
        await run("StreamingMarkdown", 4000, 1000.0)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all="--all" in sys.argv))
        _print_table(runs)
        return

    # (a) latency at 1,000 tok/s and (b) throughput fed as fast as possible, on the 4k reply;
    # (c) CPU per token on 1k, 4k and 16k replies, at 1,000 tok/s and as fast as possible.
    for size in (1000, 4000, 16000):
        if quick and size == 16000:
            continue
        await run("StreamingMarkdown", size, 1000.0)
        await run("StreamingMarkdown", size, None)
    # More samples of (a): the 1k reply at 1,000 tok/s, five times (median and worst).
    repeats = [
        (await _run("StreamingMarkdown", replies[1000], 1000.0, lean_log)).latency_ms
        for _ in range(5)
    ]
    if not quick:
        await run("MarkdownStream", 4000, 1000.0)
        await run("MarkdownStream", 4000, None)
        await run("MarkdownStream", 1000, 1000.0)
        await run("MarkdownStream", 1000, None)

    print()
    _print_table(runs)

    def pick(widget: str, tokens: int, rate: str) -> Run | None:
        for result in runs:
            if (result.widget, result.tokens, result.rate) == (widget, tokens, rate):
                return result
        return None

    ours = pick("StreamingMarkdown", 4000, "max")
    stock = pick("MarkdownStream", 4000, "max")
    latency = pick("StreamingMarkdown", 4000, "1000/s")
    stock_latency = pick("MarkdownStream", 4000, "1000/s")
    summary: dict[str, Any] = {
        "chat_log": "LeanChatLog" if lean_log else "VerticalScroll",
        "latency_ms_at_1000_tok_s": latency.latency_ms if latency else None,
        "latency_ms_at_1000_tok_s_1k_reply_5_runs": {
            "median": statistics.median(repeats),
            "max": max(repeats),
            "all": repeats,
        },
        "markdown_stream_latency_ms_at_1000_tok_s": (
            stock_latency.latency_ms if stock_latency else None
        ),
        "tokens_per_second_max": ours.tokens_per_second if ours else None,
        "markdown_stream_tokens_per_second_max": stock.tokens_per_second if stock else None,
        "speedup_vs_markdown_stream": (
            round(ours.tokens_per_second / stock.tokens_per_second, 1) if ours and stock else None
        ),
        "cpu_us_per_token_at_1000_tok_s": {
            str(n): found.cpu_us_per_token
            for n in (1000, 4000, 16000)
            if (found := pick("StreamingMarkdown", n, "1000/s"))
        },
        "cpu_us_per_token_max": {
            str(n): found.cpu_us_per_token
            for n in (1000, 4000, 16000)
            if (found := pick("StreamingMarkdown", n, "max"))
        },
    }
    summary["targets_met"] = {
        "final frame <= 50 ms after last token at 1,000 tok/s": bool(
            latency and latency.latency_ms <= 50
        ),
        ">= 10,000 tokens/s fed as fast as possible": bool(
            ours and ours.tokens_per_second >= 10000
        ),
    }
    print()
    print(json.dumps(summary, indent=2))
    results = RESULTS.with_name("render-lean-log.json") if lean_log else RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(
        json.dumps(
            {
                "method": __doc__,
                "environment": {
                    "python": platform.python_version(),
                    "textual": version("textual"),
                    "rich": version("rich"),
                    "machine": platform.machine(),
                    "cpus": os.cpu_count(),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                    "terminal_size": SIZE,
                },
                "summary": summary,
                "runs": [asdict(result) for result in runs],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {results}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the stock MarkdownStream runs")
    parser.add_argument(
        "--profile", action="store_true", help="pyinstrument one 4k run at 1,000 tok/s"
    )
    parser.add_argument(
        "--lean-log", action="store_true", help="chat log without the second layout per growth"
    )
    parser.add_argument("--all", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.quick, arguments.profile, arguments.lean_log))
