"""Benchmark 6, seen from outside: the installed app driven in a terminal, as a user meets it.

Run: python3 benchmarks/bench_outside.py [--runs N] [--smoke] [--no-minimal-chat]
(needs the ``bench`` extra for the screen: ``pip install -e '.[bench]'``, i.e. pyte)

Method
------
Every program runs as a subprocess on a pseudo-terminal (120x40, TERM=xterm-256color) with a
fresh HOME and XDG folders of its own (no config, key or database of the machine is read; the app
gets a config.toml with one OpenAI-compatible profile) and cached bytecode (one unmeasured launch
of each program fills it first). The bench reads everything the program writes to its terminal,
stamping each read with ``time.monotonic()``; afterwards it replays the bytes through a terminal
emulator (pyte) and finds the first read after which the screen shows a thing: the screen as a
user sees it, with the bench's parsing kept out of the measured minutes.

The server is llmock (a third-party OpenAI-compatible mock, from PyPI), one process per pace:
unpaced, 1 ms and 5 ms between chunks (``--stream-chunk-delay-ms``). It answers every request
with the same Markdown reply of about 2,000 tokens (headings, lists, code, a table; one word per
chunk, as llmock splits text), or about 8,000 for the ``md-8k`` model. Between each client and
its server is a small TCP relay in a process of its own (benchmarks/_wire_relay.py) that stamps
the wire: a chat request's first byte, the first response bytes carrying text, and the bytes
holding ``data: [DONE]`` (the last of the reply). All stamps are ``time.monotonic()``, one clock
for every process on Linux.

Programs, alternating run by run (each round starts one further along the list):

* ``bare``: a bare Textual app (benchmarks/minimal_app.py), for start-up only;
* ``app``: the installed ``unify-tui`` (the console script in this environment), at each pace;
  the unpaced 2k run also types while idle, the 1 ms run types while the reply streams;
* ``raw``: the raw ``openai`` async client in a subprocess (benchmarks/_raw_client.py) that
  streams the same reply and reads every chunk; no screen;
* ``minimal chat``: benchmarks/minimal_chat_app.py, an Input and a Markdown widget fed by
  Textual's ``MarkdownStream``, the smallest chat app a developer would write.

Figures (medians over the runs, min-max beside them):

* start -> first frame: fork to the first screen paint (cursor at 1,1 after the alternate
  screen), as bench_startup.py sees it; the app also to the status bar saying "online";
* Enter -> request on the wire: writing Enter to the terminal to the relay's first byte of the
  request (the first message of a session, sent 1 s after "online"); the raw client: calling
  ``create()`` to the same byte;
* first text byte -> first text on screen, and last byte -> last word on screen: the relay's
  stamp to the read that made the screen show the reply's first (last) word;
* Enter -> whole reply: Enter to the last word on screen; the raw client: ``create()`` to its
  last chunk read;
* CPU: utime + stime from /proc/<pid>/stat, sampled when the relay reports the first text and
  the last byte, as % of one core over that time (at 5 ms per chunk, ~200 chunks/s);
* keystroke echo: a character written to the terminal to the read that shows it in the prompt,
  while idle and while a 1 ms-per-chunk reply streams, p50 and p95 over the keys of all runs.

The machine's 1-minute load average is recorded before each run.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import machine, median, percentile, write_results

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
APP = BIN / "unify-tui"
LLMOCK = BIN / "llmock"
COLS, ROWS = 120, 40
FRAME_MS = 1000 / 60
ALT_SCREEN = b"\x1b[?1049h"
FIRST_PAINT = b"\x1b[1;1H"
CLK_TCK = os.sysconf("SC_CLK_TCK")

FIRST_WORD = "Zephyrine"  # the reply's first word and its last: found on screen, nowhere else
LAST_WORD = "Quillfeather"
# Any of these on screen is reply text (on a fast stream the first words may already have
# scrolled away by the first frame that shows the reply).
REPLY_MARKERS = (FIRST_WORD, "routing notes", "item 1.", LAST_WORD)
MARKER = "Kestrel:"  # typed before the measured keys, so each key's echo is found unambiguously
IDLE_KEYS = "abcdefghijklmnopqrst"
STREAM_KEYS = "uvwxyzabcdefghijklmnopqrstuvwxy"
KEY_INTERVAL_S = 0.05
AFTER_ONLINE_S = 1.0  # a user takes longer than this to start typing


# ---------------------------------------------------------------------------- the reply


_SENTENCE = (
    "the gateway routes every request to the provider that answers first while the client "
    "streams each token into the log and the status bar shows what it cost so far"
)
_WORDS = _SENTENCE.split()


def markdown_reply(tokens: int) -> str:
    """A Markdown reply of about ``tokens`` tokens (4 characters each), always the same text:
    paragraphs, headings, lists, fenced code and a table; first word FIRST_WORD, last LAST_WORD."""
    parts = [f"{FIRST_WORD} opens this reply with a plain paragraph about gateways."]
    section = 0
    while sum(len(part) for part in parts) < tokens * 4:
        section += 1
        words = [_WORDS[(section * 7 + i) % len(_WORDS)] for i in range(60)]
        parts.append(f"## Section {section}: routing notes")
        parts.append(" ".join(words).capitalize() + ".")
        parts.append(
            "\n".join(
                f"- item {section}.{i}: **{_WORDS[(section + i) % len(_WORDS)]}**"
                f" and `{_WORDS[(section + 2 * i) % len(_WORDS)]}`"
                for i in range(4)
            )
        )
        if section % 2:
            parts.append(
                "```python\n"
                f"def route_{section}(request):\n"
                f"    total = {section} * len(request.messages)\n"
                "    return min(providers, key=lambda p: p.latency + total)\n"
                "```"
            )
        else:
            rows = "\n".join(f"| p{section}{i} | {i * 3} ms | {section}.{i} |" for i in range(3))
            parts.append("| provider | latency | price |\n|---|---|---|\n" + rows)
    parts.append(f"That is all for now, {LAST_WORD}.")
    return "\n\n".join(parts)


REPLIES = {"md-2k": 2000, "md-8k": 8000, "md-tiny": 60}


# ---------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, payload: object) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


class LLMock:
    """``llmock serve`` on a free port, pacing chunks ``pace_ms`` apart, answering each model of
    REPLIES with its Markdown reply."""

    def __init__(self, pace_ms: int, log: Path) -> None:
        self.pace_ms = pace_ms
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMOCK_")}
        env["NO_COLOR"] = "1"
        options = ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    str(LLMOCK),
                    "serve",
                    *options,
                    "--tool-mode",
                    "off",
                    "--stream-chunk-delay-ms",
                    str(pace_ms),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llmock did not start: {log.read_text()[-500:]}") from None
                time.sleep(0.1)
        behaviours = [
            {
                "type": "reply",
                "text": markdown_reply(tokens),
                "times": None,
                "match": {"model": model},
            }
            for model, tokens in REPLIES.items()
        ]
        _post(url + "/_llmock/scenario", {"behaviors": behaviours})

    def stop(self) -> None:
        _stop(self.process)


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class Pump:
    """One select loop over every pipe and terminal the bench reads, each read stamped."""

    def __init__(self) -> None:
        self.readers: dict[int, Callable[[bytes, float], None]] = {}

    def add(self, fd: int, on_data: Callable[[bytes, float], None]) -> None:
        os.set_blocking(fd, False)
        self.readers[fd] = on_data

    def remove(self, fd: int) -> None:
        self.readers.pop(fd, None)

    def run(self, seconds: float) -> None:
        self.until(lambda: False, seconds, fail=False)

    def until(self, done: Callable[[], bool], timeout: float, *, fail: bool = True) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                if fail:
                    raise TimeoutError(f"timed out after {timeout} s waiting for {done}")
                return False
            ready, _, _ = select.select(list(self.readers), [], [], min(left, 0.02))
            for fd in ready:
                try:
                    data = os.read(fd, 1 << 16)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                at = time.monotonic()
                handler = self.readers.get(fd)
                if handler is None:
                    continue
                if not data:
                    self.remove(fd)
                handler(data, at)
        return True


class Lines:
    """A pipe read as JSON lines (or plain words), each with the time it was read."""

    def __init__(self) -> None:
        self.buffer = b""
        self.items: list[tuple[float, Any]] = []

    def __call__(self, data: bytes, at: float) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            text = line.decode(errors="replace").strip()
            if text:
                try:
                    self.items.append((at, json.loads(text)))
                except ValueError:
                    self.items.append((at, text))


class Relay:
    """benchmarks/_wire_relay.py in front of one server."""

    def __init__(self, upstream_port: int, pump: Pump) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "_wire_relay.py"), str(upstream_port)],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().decode()
        if not first.startswith("listening "):
            raise RuntimeError(f"the relay did not start: {first!r}")
        self.port = int(first.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.lines = Lines()
        self.on_event: Callable[[dict[str, Any], float], None] | None = None
        pump.add(self.process.stdout.fileno(), self._read)

    def _read(self, data: bytes, at: float) -> None:
        before = len(self.lines.items)
        self.lines(data, at)
        for seen_at, item in self.lines.items[before:]:
            if isinstance(item, dict) and self.on_event is not None:
                self.on_event(item, seen_at)

    def events(self, kind: str, after: float) -> list[dict[str, Any]]:
        return [
            item
            for _at, item in self.lines.items
            if isinstance(item, dict)
            and item["event"] == kind
            and item.get("at", item.get("request_at", 0)) >= after
        ]

    def stop(self) -> None:
        _stop(self.process)


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class CpuWindow:
    """CPU samples of a process at the relay's "text" and "done" events."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: dict[str, tuple[float, float]] = {}

    def on_event(self, event: dict[str, Any], at: float) -> None:
        if event["event"] in ("text", "done") and event["event"] not in self.samples:
            try:
                self.samples[event["event"]] = (time.monotonic(), cpu_seconds(self.pid))
            except OSError:
                pass

    def percent(self) -> float | None:
        if "text" not in self.samples or "done" not in self.samples:
            return None
        (t0, c0), (t1, c1) = self.samples["text"], self.samples["done"]
        return 100 * (c1 - c0) / (t1 - t0) if t1 > t0 else None


# ---------------------------------------------------------------------------- the terminal


def _environment(home: Path, data_home: Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("UNIFY_", "XDG_", "OPENAI_", "OPENROUTER_", "TEXTUAL"))
        and key != "PYTHONDONTWRITEBYTECODE"
    }
    environment.update(
        PYTHONPYCACHEPREFIX=str(home / ".cache" / "pycache"),
        TERM="xterm-256color",
        COLUMNS=str(COLS),
        LINES=str(ROWS),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(data_home),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    return environment


class Terminal:
    """A program on a pty; every read kept as (time, bytes)."""

    def __init__(
        self, argv: Sequence[str], home: Path, pump: Pump, extra_env: dict[str, str] | None = None
    ) -> None:
        self.pump = pump
        self.reads: list[tuple[float, bytes]] = []
        self.keys: list[tuple[float, str]] = []
        # A data folder of its own for each launch: the app reopens the last conversation, and
        # each run starts from none (as after a new chat), so only this run's reply is on screen.
        data_home = Path(tempfile.mkdtemp(prefix="data-", dir=home))
        environment = _environment(home, data_home) | (extra_env or {})
        self.started_at = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the program
            try:
                os.chdir(home)
                os.execve(argv[0], list(argv), environment)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self._searched = 0
        self._tail = b""
        self._seen: set[bytes] = set()
        pump.add(fd, self._read)

    def _read(self, data: bytes, at: float) -> None:
        if data:
            self.reads.append((at, data))

    def first_frame_at(self) -> float | None:
        output = b""
        for at, data in self.reads:
            output += data
            alt = output.find(ALT_SCREEN)
            if alt != -1 and output.find(FIRST_PAINT, alt) != -1:
                return at
        return None

    def saw(self, text: bytes) -> bool:
        """Whether the output so far holds ``text`` as bytes (cheap, no parsing): for deciding
        what to do next, never for a figure."""
        while self._searched < len(self.reads):
            self._tail = (self._tail + self.reads[self._searched][1])[-4096:]
            self._searched += 1
            if text in self._tail:
                self._seen.add(text)
        return text in self._seen or text in self._tail

    def write(self, text: str) -> float:
        at = time.monotonic()
        os.write(self.fd, text.encode())
        return at

    def type_key(self, key: str) -> None:
        self.keys.append((self.write(key), key))

    def quit(self) -> None:
        try:
            os.write(self.fd, b"\x11")  # ctrl+q
        except OSError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            self.pump.run(0.05)
            done, _ = os.waitpid(self.pid, os.WNOHANG)
            if done:
                break
        else:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(self.pid, sig)
                    os.waitpid(self.pid, 0)
                    break
                except (ProcessLookupError, ChildProcessError):
                    break
        self.pump.remove(self.fd)
        os.close(self.fd)


class _Screen:
    def __init__(self) -> None:
        import pyte

        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)

    def feed(self, data: bytes) -> None:
        self.stream.feed(data)

    def lines(self) -> list[str]:
        return list(self.screen.display)


@dataclass
class Probe:
    """Something to find on screen: the first read at or after ``after`` whose screen passes
    ``test``; ``at`` is that read's time."""

    name: str
    after: float
    test: Callable[[list[str]], bool]
    at: float | None = None


def replay(reads: list[tuple[float, bytes]], probes: list[Probe]) -> None:
    """Feed the reads through a fresh screen, checking the pending probes after each read."""
    screen = _Screen()
    pending = sorted(probes, key=lambda probe: probe.after)
    for at, data in reads:
        screen.feed(data)
        active = [probe for probe in pending if probe.after <= at]
        if not active:
            continue
        lines = screen.lines()
        for probe in active:
            if probe.test(lines):
                probe.at = at
                pending.remove(probe)
        if not pending:
            return


def shows(text: str) -> Callable[[list[str]], bool]:
    return lambda lines: any(text in line for line in lines)


def shows_any(texts: Sequence[str]) -> Callable[[list[str]], bool]:
    return lambda lines: any(text in line for line in lines for text in texts)


# ---------------------------------------------------------------------------- the runs


@dataclass
class Setup:
    pump: Pump
    servers: dict[int, LLMock]
    relays: dict[int, Relay]
    homes: dict[str, Path]
    minimal_chat: bool
    models: dict[str, str]  # "2k" / "8k" -> the model name served
    before: Path | None = None  # the app's source of an earlier commit, run beside it
    run_before: bool = False  # this run launches that code
    app_source: Path | None = None  # the app's source for the other runs (None: as installed)
    results: list[dict[str, Any]] = field(default_factory=list)


def _ms(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier) * 1000, 1)


def _app_home(root: Path, relays: dict[int, Relay], model: str) -> Path:
    home = root / "app"
    config = home / ".config" / "unify-tui"
    config.mkdir(parents=True, exist_ok=True)
    profiles = "".join(
        f'\n[gateways.mock{pace}]\nkind = "openai-compatible"\n'
        f'base_url = "{relay.base_url}"\nkey_env = ""\nneeds_key = false\n'
        f'default_model = "{model}"\n'
        for pace, relay in relays.items()
    )
    (config / "config.toml").write_text(f'default_gateway = "mock0"\n{profiles}')
    return home


def chat_run(setup: Setup, program: str, pace: int, size: str, *, typing: str) -> dict[str, Any]:
    """One launch of ``program`` ("app" or "minimal chat"): start-up, then one message; typing
    "idle" types keys before it, "streaming" while the reply streams. With ``setup.run_before``
    the app's code from ``setup.before`` (the same console script, that source on PYTHONPATH)."""
    pump, relay = setup.pump, setup.relays[pace]
    model = setup.models[size]
    extra_env: dict[str, str] = {}
    if program == "app":
        argv = [str(APP), "--gateway", f"mock{pace}", "--model", model]
        home = setup.homes["app"]
        source = setup.before if setup.run_before else setup.app_source
        if source is not None:
            extra_env["PYTHONPATH"] = str(source)
    else:
        argv = [sys.executable, str(HERE / "minimal_chat_app.py"), relay.base_url, model]
        home = setup.homes["minimal chat"]
    load = os.getloadavg()[0]
    terminal = Terminal(argv, home, pump, extra_env)
    row: dict[str, Any] = {"program": program, "pace_ms": pace, "reply": size, "load_1m": load}
    try:
        ready_word = b"online" if program == "app" else b"Type a message"
        pump.until(lambda: terminal.saw(ready_word), 30)
        pump.run(AFTER_ONLINE_S)
        probes: list[Probe] = []
        if typing == "idle":
            terminal.write(MARKER)
            pump.run(0.3)
            for key in IDLE_KEYS:
                terminal.type_key(key)
                pump.run(KEY_INTERVAL_S)
            pump.run(0.3)
            terminal.write("\x7f" * (len(MARKER) + len(IDLE_KEYS)))
            pump.run(0.3)
        idle_keys = list(terminal.keys)
        terminal.write("hello")
        pump.run(0.3)
        cpu = CpuWindow(terminal.pid)
        relay.on_event = cpu.on_event
        enter_at = terminal.write("\r")
        pump.until(lambda: relay.events("text", enter_at), 30)
        stream_keys: list[tuple[float, str]] = []
        if typing == "streaming":
            terminal.write(MARKER)
            for key in STREAM_KEYS:
                pump.run(KEY_INTERVAL_S)
                if relay.events("done", enter_at):
                    break
                terminal.type_key(key)
            stream_keys = terminal.keys[len(idle_keys) :]
        pump.until(lambda: relay.events("done", enter_at), 120)
        relay.on_event = None
        # the last frames: a slow renderer (the minimal chat app) may still be catching up
        pump.until(lambda: terminal.saw(LAST_WORD.encode()), 60, fail=False)
        pump.run(0.8)
        exchange = relay.events("done", enter_at)[0]
        probes = [
            Probe("first text", exchange["request_at"], shows_any(REPLY_MARKERS)),
            Probe("last word", exchange["request_at"], shows(LAST_WORD)),
        ]
        if program == "app":
            probes.append(Probe("online", terminal.started_at, shows(" online")))
        key_probes = _key_probes(idle_keys, "idle") + _key_probes(stream_keys, "streaming")
        replay(terminal.reads, probes + key_probes)
        found = {probe.name: probe.at for probe in probes}
        row.update(
            first_frame_ms=_ms(terminal.first_frame_at(), terminal.started_at),
            online_ms=_ms(found.get("online"), terminal.started_at),
            enter_to_wire_ms=_ms(exchange["request_at"], enter_at),
            # when the app's connection was opened ahead of the message (its HEAD on the wire)
            prepared_ms=_ms(_first_head(relay, terminal.started_at), terminal.started_at),
            enter_ms=_ms(enter_at, terminal.started_at),
            first_text_after_byte_ms=_ms(found["first text"], exchange["text_at"]),
            last_word_after_byte_ms=_ms(found["last word"], exchange["last_byte_at"]),
            first_text_after_enter_ms=_ms(found["first text"], enter_at),
            whole_reply_ms=_ms(found["last word"], enter_at),
            stream_ms=_ms(exchange["last_byte_at"], exchange["text_at"]),
            cpu_percent=_round(cpu.percent()),
            echo_idle_ms=[_ms(p.at, p.after) for p in key_probes if p.name == "idle"],
            echo_streaming_ms=[_ms(p.at, p.after) for p in key_probes if p.name == "streaming"],
        )
    finally:
        relay.on_event = None
        terminal.quit()
    return row


def _first_head(relay: Relay, after: float) -> float | None:
    heads = [e["at"] for e in relay.events("other", after) if e["request"].startswith("HEAD ")]
    return heads[0] if heads else None


def _key_probes(keys: list[tuple[float, str]], name: str) -> list[Probe]:
    typed = ""
    probes = []
    for at, key in keys:
        typed += key
        probes.append(Probe(name, at, shows(MARKER + typed)))
    return probes


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def bare_run(setup: Setup) -> dict[str, Any]:
    load = os.getloadavg()[0]
    terminal = Terminal(
        [sys.executable, str(HERE / "minimal_app.py")], setup.homes["bare"], setup.pump
    )
    try:
        setup.pump.until(lambda: terminal.first_frame_at() is not None, 30)
    finally:
        terminal.quit()
    return {
        "program": "bare",
        "load_1m": load,
        "first_frame_ms": _ms(terminal.first_frame_at(), terminal.started_at),
    }


class RawClient:
    """benchmarks/_raw_client.py for one server, started once per run."""

    def __init__(self, relay: Relay, model: str, pump: Pump) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "_raw_client.py"), relay.base_url, model],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None and self.process.stdin is not None
        self.lines = Lines()
        pump.add(self.process.stdout.fileno(), self.lines)
        pump.until(lambda: "ready" in [item for _at, item in self.lines.items], 60)

    def stop(self, pump: Pump) -> None:
        assert self.process.stdout is not None and self.process.stdin is not None
        pump.remove(self.process.stdout.fileno())
        self.process.stdin.close()
        _stop(self.process)
        self.process.stdout.close()


def raw_run(setup: Setup, pace: int, size: str) -> dict[str, Any]:
    pump, relay = setup.pump, setup.relays[pace]
    load = os.getloadavg()[0]
    client = RawClient(relay, setup.models[size], pump)
    try:
        pump.run(0.3)
        cpu = CpuWindow(client.process.pid)
        relay.on_event = cpu.on_event
        before = len(client.lines.items)
        go_at = time.monotonic()
        assert client.process.stdin is not None
        client.process.stdin.write(b"go\n")
        client.process.stdin.flush()
        pump.until(lambda: len(client.lines.items) > before, 120)
        relay.on_event = None
        result = client.lines.items[-1][1]
        exchange = relay.events("done", go_at)[0]
    finally:
        relay.on_event = None
        client.stop(pump)
    return {
        "program": "raw",
        "pace_ms": pace,
        "reply": size,
        "load_1m": load,
        "enter_to_wire_ms": _ms(exchange["request_at"], result["started_at"]),
        "first_text_after_byte_ms": _ms(result["first_text_at"], exchange["text_at"]),
        "last_word_after_byte_ms": _ms(result["last_chunk_at"], exchange["last_byte_at"]),
        "whole_reply_ms": _ms(result["last_chunk_at"], result["started_at"]),
        "stream_ms": _ms(exchange["last_byte_at"], exchange["text_at"]),
        "cpu_percent": _round(cpu.percent()),
        "chunks": result["chunks"],
    }


# ---------------------------------------------------------------------------- the plan


Plan = list[tuple[str, Callable[[Setup], dict[str, Any]]]]


def plan(smoke: bool, minimal_chat: bool, before: bool = False) -> Plan:
    """The runs of one round, in order; each round starts one further along."""
    runs: Plan = [
        ("bare", bare_run),
        ("app 0 ms 2k", lambda s: chat_run(s, "app", 0, "2k", typing="idle")),
        ("raw 0 ms 2k", lambda s: raw_run(s, 0, "2k")),
    ]
    if not smoke:
        runs += [
            ("app 0 ms 8k", lambda s: chat_run(s, "app", 0, "8k", typing="none")),
            ("raw 0 ms 8k", lambda s: raw_run(s, 0, "8k")),
            ("app 5 ms 2k", lambda s: chat_run(s, "app", 5, "2k", typing="none")),
            ("raw 5 ms 2k", lambda s: raw_run(s, 5, "2k")),
            ("app 1 ms 2k", lambda s: chat_run(s, "app", 1, "2k", typing="streaming")),
        ]
    if before:  # the same app runs with the earlier code, interleaved
        runs += [(f"before {name}", _before(run)) for name, run in list(runs) if name[:4] == "app "]
    if minimal_chat:
        runs += [
            ("minimal chat 0 ms 2k", lambda s: chat_run(s, "minimal chat", 0, "2k", typing="none")),
            ("minimal chat 5 ms 2k", lambda s: chat_run(s, "minimal chat", 5, "2k", typing="none")),
        ]
    return runs


def _before(run: Callable[[Setup], dict[str, Any]]) -> Callable[[Setup], dict[str, Any]]:
    def run_before(setup: Setup) -> dict[str, Any]:
        setup.run_before = True
        try:
            return run(setup)
        finally:
            setup.run_before = False

    return run_before


def measure(
    runs: int,
    *,
    smoke: bool = False,
    minimal_chat: bool = True,
    before: Path | None = None,
    app_source: Path | None = None,
) -> dict[str, Any]:
    pump = Pump()
    paces = [0] if smoke else [0, 1, 5]
    models = {"2k": "md-tiny", "8k": "md-tiny"} if smoke else {"2k": "md-2k", "8k": "md-8k"}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="unify-tui-outside-") as scratch:
        root = Path(scratch)
        servers: dict[int, LLMock] = {}
        relays: dict[int, Relay] = {}
        try:
            for pace in paces:
                servers[pace] = LLMock(pace, root / f"llmock-{pace}.log")
                relays[pace] = Relay(servers[pace].port, pump)
            homes = {
                "app": _app_home(root, relays, models["2k"]),
                "bare": root / "bare",
                "minimal chat": root / "minimal-chat",
            }
            for home in homes.values():
                home.mkdir(parents=True, exist_ok=True)
            setup = Setup(pump, servers, relays, homes, minimal_chat, models, before)
            setup.app_source = app_source
            chosen = plan(smoke, minimal_chat, before is not None)
            if not smoke:  # fill the bytecode caches and the OS's file cache, unmeasured
                for name, run in chosen:
                    if not name.startswith("raw"):
                        run(setup)
            for round_index in range(runs):
                offset = round_index % len(chosen)
                for name, run in chosen[offset:] + chosen[:offset]:
                    row = run(setup)
                    row["round"] = round_index
                    row["name"] = name
                    setup.results.append(row)
                    print(f"  round {round_index + 1}/{runs}: {name}: {_brief(row)}", flush=True)
        finally:
            for relay in relays.values():
                relay.stop()
            for server in servers.values():
                server.stop()
    return {
        "method": __doc__,
        "runs": runs,
        "seconds": round(time.monotonic() - started),
        "rows": setup.results,
        "summary": summarise(setup.results),
    }


def _brief(row: dict[str, Any]) -> str:
    keys = (
        "first_frame_ms",
        "online_ms",
        "enter_to_wire_ms",
        "first_text_after_byte_ms",
        "last_word_after_byte_ms",
        "whole_reply_ms",
        "cpu_percent",
    )
    return ", ".join(f"{key} {row[key]}" for key in keys if row.get(key) is not None) + (
        f", load {row['load_1m']:.2f}"
    )


# ---------------------------------------------------------------------------- the figures


def _values(rows: list[dict[str, Any]], name: str, key: str) -> list[float]:
    values: list[float] = []
    for row in rows:
        if row["name"] != name:
            continue
        value = row.get(key)
        if isinstance(value, list):
            values.extend(v for v in value if v is not None)
        elif value is not None:
            values.append(value)
    return values


def _spread(values: list[float]) -> dict[str, Any] | None:
    if not values:
        return None
    return {
        "median": round(median(values), 1),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def _pair_ratios(rows: list[dict[str, Any]], a: tuple[str, str], b: tuple[str, str]) -> list[float]:
    """a / b per round (same round, so the same minutes)."""
    ratios = []
    for round_index in sorted({row["round"] for row in rows}):
        av = _values([r for r in rows if r["round"] == round_index], *a)
        bv = _values([r for r in rows if r["round"] == round_index], *b)
        if av and bv and bv[0]:
            ratios.append(round(av[0] / bv[0], 3))
    return ratios


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    names = sorted({row["name"] for row in rows})
    keys = (
        "first_frame_ms",
        "online_ms",
        "enter_to_wire_ms",
        "first_text_after_byte_ms",
        "last_word_after_byte_ms",
        "first_text_after_enter_ms",
        "whole_reply_ms",
        "stream_ms",
        "cpu_percent",
        "prepared_ms",
        "enter_ms",
    )
    figures: dict[str, Any] = {
        name: {key: spread for key in keys if (spread := _spread(_values(rows, name, key)))}
        for name in names
    }
    for name in names:
        for key in ("echo_idle_ms", "echo_streaming_ms"):
            values = _values(rows, name, key)
            if values:
                figures[name][key] = {
                    "p50": round(percentile(values, 0.5), 1),
                    "p95": round(percentile(values, 0.95), 1),
                    "max": max(values),
                    "n": len(values),
                }
    ratios = {
        "first_frame_app_over_bare": _pair_ratios(
            rows, ("app 0 ms 2k", "first_frame_ms"), ("bare", "first_frame_ms")
        ),
        "online_app_over_bare_first_frame": _pair_ratios(
            rows, ("app 0 ms 2k", "online_ms"), ("bare", "first_frame_ms")
        ),
        "whole_reply_2k_app_over_raw": _pair_ratios(
            rows, ("app 0 ms 2k", "whole_reply_ms"), ("raw 0 ms 2k", "whole_reply_ms")
        ),
        "whole_reply_8k_app_over_raw": _pair_ratios(
            rows, ("app 0 ms 8k", "whole_reply_ms"), ("raw 0 ms 8k", "whole_reply_ms")
        ),
        "cpu_5ms_app_over_raw": _pair_ratios(
            rows, ("app 5 ms 2k", "cpu_percent"), ("raw 5 ms 2k", "cpu_percent")
        ),
    }
    loads = [row["load_1m"] for row in rows]
    return {
        "figures": figures,
        "ratios": {key: _spread(values) for key, values in ratios.items()},
        "load_1m": {
            "min": round(min(loads), 2),
            "max": round(max(loads), 2),
            "median": round(statistics.median(loads), 2),
        }
        if loads
        else None,
    }


def _fmt(spread: dict[str, Any] | None, unit: str = " ms") -> str:
    if not spread:
        return "–"
    if "p95" in spread:
        return f"{spread['p50']:g} / {spread['p95']:g}{unit} (n {spread['n']})"
    if spread["n"] == 1:
        return f"{spread['median']:g}{unit}"
    return f"{spread['median']:g}{unit} ({spread['min']:g}–{spread['max']:g})"


def _target(met: bool | None) -> str:
    return "–" if met is None else ("yes" if met else "**no**")


def table(summary: dict[str, Any]) -> list[dict[str, str]]:
    """The figures against the targets of issue 19, one row each."""
    fig, ratio = summary["figures"], summary["ratios"]

    def get(name: str, key: str) -> dict[str, Any] | None:
        return fig.get(name, {}).get(key)

    def med(name: str, key: str) -> float | None:
        spread = get(name, key)
        return None if not spread else spread["median"]

    def rmed(key: str) -> float | None:
        spread = ratio.get(key)
        return None if not spread else spread["median"]

    def check(value: float | None, limit: float | None) -> bool | None:
        return None if value is None or limit is None else value <= limit

    rows: list[dict[str, str]] = []

    def add(figure: str, app: str, baseline: str, target: str, met: bool | None) -> None:
        rows.append(
            {
                "figure": figure,
                "unify-tui": app,
                "baseline": baseline,
                "target": target,
                "met": _target(met),
            }
        )

    add(
        "start → first frame",
        _fmt(get("app 0 ms 2k", "first_frame_ms")),
        f"bare Textual {_fmt(get('bare', 'first_frame_ms'))}; ratio "
        f"{_fmt(ratio['first_frame_app_over_bare'], '')}",
        "≤ 1.1 x bare",
        check(rmed("first_frame_app_over_bare"), 1.1),
    )
    add(
        'start → status "online"',
        _fmt(get("app 0 ms 2k", "online_ms")),
        f"ratio to bare first frame {_fmt(ratio['online_app_over_bare_first_frame'], '')}",
        "≤ 1.2 x bare",
        check(rmed("online_app_over_bare_first_frame"), 1.2),
    )
    minimal_wire = med("minimal chat 0 ms 2k", "enter_to_wire_ms")
    add(
        "Enter → request on the wire (first message)",
        _fmt(get("app 0 ms 2k", "enter_to_wire_ms")),
        f"minimal chat {_fmt(get('minimal chat 0 ms 2k', 'enter_to_wire_ms'))}; raw create() "
        f"{_fmt(get('raw 0 ms 2k', 'enter_to_wire_ms'))}",
        "≤ minimal chat",
        check(med("app 0 ms 2k", "enter_to_wire_ms"), minimal_wire),
    )
    add(
        "start → connection opened ahead of the message (HEAD on the wire)",
        _fmt(get("app 0 ms 2k", "prepared_ms")),
        f"Enter pressed at {_fmt(get('app 0 ms 2k', 'enter_ms'))} after start",
        "before Enter",
        None,
    )
    for pace in (0, 5, 1):
        name = f"app {pace} ms 2k"
        if name not in fig:
            continue
        label = "unpaced" if pace == 0 else f"{pace} ms/chunk"
        add(
            f"first text byte → first text on screen, {label}",
            _fmt(get(name, "first_text_after_byte_ms")),
            f"minimal chat {_fmt(get(f'minimal chat {pace} ms 2k', 'first_text_after_byte_ms'))}",
            "≤ 16.7 ms (a frame)",
            check(med(name, "first_text_after_byte_ms"), FRAME_MS),
        )
        add(
            f"last byte → last word on screen, {label}",
            _fmt(get(name, "last_word_after_byte_ms")),
            f"minimal chat {_fmt(get(f'minimal chat {pace} ms 2k', 'last_word_after_byte_ms'))}",
            "≤ 20 ms",
            check(med(name, "last_word_after_byte_ms"), 20),
        )
    add(
        "Enter → first text on screen, unpaced 2k",
        _fmt(get("app 0 ms 2k", "first_text_after_enter_ms")),
        f"raw: first text {_fmt(get('raw 0 ms 2k', 'first_text_after_byte_ms'))} after its byte",
        "–",
        None,
    )
    for size in ("2k", "8k"):
        key = f"whole_reply_{size}_app_over_raw"
        add(
            f"Enter → whole reply, unpaced {size}",
            _fmt(get(f"app 0 ms {size}", "whole_reply_ms")),
            f"raw {_fmt(get(f'raw 0 ms {size}', 'whole_reply_ms'))}; ratio {_fmt(ratio[key], '')}"
            + (
                f"; minimal chat {_fmt(get('minimal chat 0 ms 2k', 'whole_reply_ms'))}"
                if size == "2k"
                else ""
            ),
            "≤ 1.0 x raw",
            check(rmed(key), 1.0),
        )
    add(
        "CPU at 5 ms/chunk, % of a core",
        _fmt(get("app 5 ms 2k", "cpu_percent"), " %"),
        f"raw {_fmt(get('raw 5 ms 2k', 'cpu_percent'), ' %')}; ratio "
        f"{_fmt(ratio['cpu_5ms_app_over_raw'], '')}; minimal chat "
        f"{_fmt(get('minimal chat 5 ms 2k', 'cpu_percent'), ' %')}",
        "≤ 2 x raw",
        check(rmed("cpu_5ms_app_over_raw"), 2.0),
    )
    idle = get("app 0 ms 2k", "echo_idle_ms")
    streaming = get("app 1 ms 2k", "echo_streaming_ms")
    add(
        "keystroke echo p50 / p95, streaming at 1 ms/chunk",
        _fmt(streaming),
        f"idle, same method {_fmt(idle)}",
        "p95 ≤ idle p95 + 20 ms",
        None if not (idle and streaming) else streaming["p95"] <= idle["p95"] + 20,
    )
    return rows


BEFORE_AFTER = [
    ("start → first frame", "app 0 ms 2k", "first_frame_ms"),
    ('start → status "online"', "app 0 ms 2k", "online_ms"),
    ("Enter → request on the wire (first message)", "app 0 ms 2k", "enter_to_wire_ms"),
    ("first text byte → on screen, unpaced", "app 0 ms 2k", "first_text_after_byte_ms"),
    ("first text byte → on screen, 5 ms/chunk", "app 5 ms 2k", "first_text_after_byte_ms"),
    ("first text byte → on screen, 1 ms/chunk", "app 1 ms 2k", "first_text_after_byte_ms"),
    ("last byte → last word on screen, unpaced", "app 0 ms 2k", "last_word_after_byte_ms"),
    ("last byte → last word on screen, 5 ms/chunk", "app 5 ms 2k", "last_word_after_byte_ms"),
    ("last byte → last word on screen, 1 ms/chunk", "app 1 ms 2k", "last_word_after_byte_ms"),
    ("Enter → whole reply, unpaced 2k", "app 0 ms 2k", "whole_reply_ms"),
    ("Enter → whole reply, unpaced 8k", "app 0 ms 8k", "whole_reply_ms"),
    ("CPU at 5 ms/chunk, % of a core", "app 5 ms 2k", "cpu_percent"),
    ("keystroke echo p50 / p95, idle", "app 0 ms 2k", "echo_idle_ms"),
    ("keystroke echo p50 / p95, streaming 1 ms/chunk", "app 1 ms 2k", "echo_streaming_ms"),
]


def before_after(summary: dict[str, Any]) -> list[dict[str, str]]:
    """The app's figures with the earlier code (--before) and with this one, same rounds."""
    figures = summary["figures"]
    rows = []
    for figure, name, key in BEFORE_AFTER:
        unit = " %" if key == "cpu_percent" else " ms"
        rows.append(
            {
                "figure": figure,
                "before": _fmt(figures.get(f"before {name}", {}).get(key), unit),
                "after": _fmt(figures.get(name, {}).get(key), unit),
            }
        )
    return rows


def markdown(rows: list[dict[str, str]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(row[key] for key in keys) + " |" for row in rows]
    return "\n".join(lines)


def run(
    runs: int = 5,
    smoke: bool = False,
    save: bool = True,
    minimal_chat: bool = True,
    before: Path | None = None,
    app_source: Path | None = None,
) -> dict[str, Any]:
    result = measure(
        1 if smoke else runs,
        smoke=smoke,
        minimal_chat=minimal_chat and not smoke,
        before=before,
        app_source=app_source,
    )
    result["table"] = table(result["summary"])
    if before is not None:
        result["before_after"] = before_after(result["summary"])
    if save and not smoke:
        result["path"] = str(write_results("outside", result))
    return result


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (every program once each)")
    parser.add_argument("--smoke", action="store_true", help="one tiny round, nothing saved")
    parser.add_argument(
        "--no-minimal-chat", action="store_true", help="leave out the minimal Textual chat app"
    )
    parser.add_argument(
        "--before",
        type=Path,
        metavar="DIR",
        help="also run the app from this source folder (holding tui_chat/ of an earlier commit, "
        "e.g. from `git archive <commit> tui_chat | tar -x -C DIR`), interleaved, for a before "
        "and after in the same minutes",
    )
    parser.add_argument(
        "--app-source",
        type=Path,
        metavar="DIR",
        help="run the app from this source folder instead of the installed one (as --before)",
    )
    arguments = parser.parse_args()
    try:
        import pyte  # noqa: F401
    except ImportError:
        parser.exit(2, "bench_outside.py reads the screen with pyte: pip install -e '.[bench]'\n")
    print(f"machine: {json.dumps(machine())}")
    result = run(
        arguments.runs,
        arguments.smoke,
        minimal_chat=not arguments.no_minimal_chat,
        before=arguments.before,
        app_source=arguments.app_source,
    )
    summary = result["summary"]
    print(
        f"\nBenchmark 6, seen from outside ({result['runs']} round(s), {result['seconds']} s, "
        f"load 1m {summary['load_1m']})\n"
    )
    print(markdown(result["table"]))
    if "before_after" in result:
        after = arguments.app_source or "the installed app"
        print(f"\nBefore ({arguments.before}) and after ({after}), the same rounds\n")
        print(markdown(result["before_after"]))
    if "path" in result:
        print(f"\nwrote {result['path']}")


if __name__ == "__main__":
    main()
