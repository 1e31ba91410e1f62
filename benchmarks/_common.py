"""Shared pieces of the benchmarks: the embedded gateway in a subprocess, the app wired to it with
a frame clock, statistics, the machine description and the results files.

The gateway runs in its own process (``python -m tui_chat.gateway_sim --port 0``), as a real
gateway would be on another machine: its work never shares this process's CPU time or GIL, so
``time.process_time()`` here is the app's own cost (or the raw client's).
"""

from __future__ import annotations

import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEMO_KEY = "demo-key"
MODEL = "llama-3.1-8b-chat@groq"
APP_SIZE = (120, 40)
FRAME_MS = 1000 / 60


# ---------------------------------------------------------------------------- statistics


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile (0.95 for p95), nearest-rank on the sorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return float(ordered[rank])


def rounded(value: float, digits: int = 1) -> float:
    return round(value, digits)


# ---------------------------------------------------------------------------- the machine


def machine() -> dict[str, Any]:
    """Where the figures come from: CPU, core count, versions, load average at the time."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "textual": version("textual"),
        "rich": version("rich"),
        "openai": version("openai"),
        "platform": platform.platform(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write benchmarks/results/<name>.json (git-ignored) with the machine beside the figures."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    return path


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    """Print result rows (dicts with the same keys) as an aligned table."""
    print(f"\n{title}")
    if not rows:
        print("  (no rows)")
        return
    keys = list(rows[0])
    widths = {key: max(len(key), *(len(str(row.get(key, ""))) for row in rows)) for key in keys}
    print("  " + "  ".join(key.ljust(widths[key]) for key in keys))
    print("  " + "  ".join("-" * widths[key] for key in keys))
    for row in rows:
        print("  " + "  ".join(str(row.get(key, "")).ljust(widths[key]) for key in keys))


# ---------------------------------------------------------------------------- the gateway


class SimProcess:
    """The embedded gateway in a subprocess on an ephemeral loopback port."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.root = ""

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> SimProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui_chat.gateway_sim", "--port", "0", "--key", DEMO_KEY],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/v0)", line)
        if not found:
            self.stop()
            raise RuntimeError(f"the gateway did not start: {line!r}")
        self.base_url = found.group(1)
        self.root = self.base_url.removesuffix("/v0")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def control(self, **values: Any) -> dict[str, Any]:
        """POST /_sim/control (token_delay_s, ttft_s, reply_tokens, markdown, reset, ...)."""
        import requests

        response = requests.post(f"{self.root}/_sim/control", json=values, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def requests(self) -> list[dict[str, Any]]:
        """The chat requests received, each {"path", "time" (unix s, on arrival), "body"}."""
        import requests

        response = requests.get(f"{self.root}/_sim/requests", timeout=10)
        response.raise_for_status()
        return list(response.json())


# ---------------------------------------------------------------------------- the app


def timed_gateway(base_url: str) -> Any:
    """The app's real Unify gateway, wrapped to stamp (perf_counter) when events leave it:
    `first_text_at`, `last_text_at` and `text_events`, reset by `reset()`."""
    from tui_chat.core.events import TextDelta
    from tui_chat.gateways.config import GatewaySettings
    from tui_chat.gateways.unify import UnifyGateway

    class TimedGateway(UnifyGateway):
        first_text_at: float | None = None
        last_text_at: float | None = None
        text_events = 0

        def reset(self) -> None:
            self.first_text_at = self.last_text_at = None
            self.text_events = 0

        async def stream_chat(self, *args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
            async for event in super().stream_chat(*args, **kwargs):
                if isinstance(event, TextDelta):
                    now = time.perf_counter()
                    if self.first_text_at is None:
                        self.first_text_at = now
                    self.last_text_at = now
                    self.text_events += 1
                yield event

    return TimedGateway(GatewaySettings(base_url=base_url, api_key=DEMO_KEY, timeout=30.0))


GC_THRESHOLDS = (10_000, 50, 100)  # as cli.py sets them


def prepare_heap() -> None:
    """Collect what earlier runs left, then freeze the survivors out of the collector's sight,
    as `unify-tui` does before it starts the app (cli.py): without it a full collection walks
    every object the imports made (~100k, 130 ms on the benchmark machine) mid-stream."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def make_app(base_url: str, **overrides: Any) -> Any:
    """The real app (UnifyTUI) wired to the gateway at `base_url`, with a timed gateway."""
    from tui_chat.gateways.config import GatewaySettings
    from tui_chat.gateways.unify import UnifyAccount
    from tui_chat.ui.app import UnifyTUI

    settings = GatewaySettings(base_url=base_url, api_key=DEMO_KEY, timeout=30.0)
    options: dict[str, Any] = {
        "gateway": timed_gateway(base_url),
        "account": UnifyAccount(settings),
        "model": MODEL,
        "gateway_label": "Benchmark gateway",
        "balance_poll_s": 3600.0,
        # as cli.py: what the warm-up thread imports is frozen out of the collector's sight
        "after_warm_up": [gc.freeze],
    }
    options.update(overrides)
    return UnifyTUI(**options)


class FrameClock:
    """Stamps every screen update of a headless app, after turning it into the bytes a terminal
    would be sent (so each frame costs what it would cost for real). `on_frame(stamp)` callbacks
    run after each update; they see the widgets exactly as that frame drew them."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.frames: list[float] = []
        self.watchers: list[Callable[[float], None]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            renderable.render_segments(app.console)
            stamp = time.perf_counter()
            self.frames.append(stamp)
            for watcher in list(self.watchers):
                watcher(stamp)

        app._display = display


async def settle(app: Any, seconds: float = 0.3, limit: float = 10.0) -> None:
    """Wait until the app draws nothing for `seconds` (or `limit` passes)."""
    import asyncio

    clock: FrameClock | None = getattr(app, "_bench_clock", None)
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        seen = len(clock.frames) if clock else 0
        await asyncio.sleep(seconds)
        if clock is None or len(clock.frames) == seen:
            return


async def wait_for(
    predicate: Callable[[], bool], timeout: float = 30.0, step: float = 0.005
) -> None:
    import asyncio

    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out waiting for {predicate}")
        await asyncio.sleep(step)


def post_key(app: Any, key: str, character: str | None) -> None:
    """Deliver a key press as the terminal driver does (a Key event posted to the app)."""
    from textual import events

    event = events.Key(key, character)
    event.set_sender(app)
    app._driver.send_message(event)


SMOKE_HELP = "one tiny run, nothing saved"


def finish(
    name: str, result: dict[str, Any], table: Any, *, save: bool, smoke: bool
) -> dict[str, Any]:
    """Add the printable table to ``result`` and, for a real run, save it as JSON."""
    result["table"] = table(result)
    if save and not smoke:
        result["path"] = str(write_results(name, result))
    return result


def bench_parser(doc: str | None, runs: int, runs_help: str, smoke_help: str) -> Any:
    """The command line every benchmark shares: --runs N and --smoke."""
    import argparse

    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=runs, help=runs_help)
    parser.add_argument("--smoke", action="store_true", help=smoke_help)
    return parser


def report(title: str, result: dict[str, Any]) -> None:
    """Print a benchmark's table and where its JSON went."""
    print_rows(title, result["table"])
    if "path" in result:
        print(f"\nwrote {result['path']}")
