"""llmock, a third-party fault server, run as a real peer for the gateway tests.

llmock (https://pypi.org/project/llmock/, a declared test tool in the ``test`` extra) mocks
OpenAI-compatible chat completions, injects the faults a test queues on its control API
(``POST /_llmock/scenario``) and grades the client's resilience (``GET /_llmock/verdict``).
It runs as ``llmock serve`` in a child process on 127.0.0.1, once per test module; each test
starts from ``POST /_llmock/reset`` (no queued faults, an empty journal).

A missing llmock fails these tests (with how to install it) instead of skipping them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_START_TIMEOUT_S = 30.0  # import of fastapi and uvicorn on a loaded 2-core machine
_STOP_TIMEOUT_S = 5.0


class LLMockPeer:
    """A running ``llmock serve``: where it listens and its control API."""

    def __init__(self, url: str) -> None:
        self.url = url  # the root, e.g. http://127.0.0.1:41234
        self.openai_base_url = url + "/v1"  # what an OpenAI-compatible client is pointed at

    def _call(self, method: str, path: str, payload: object | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10.0) as response:
            body = response.read()
        return json.loads(body) if body.strip().startswith((b"{", b"[")) else body.decode()

    def reset(self) -> None:
        """Forget queued behaviours and recorded requests."""
        self._call("POST", "/_llmock/reset", {})

    def script(self, *behaviors: dict[str, Any]) -> None:
        """Queue behaviours in llmock's JSON form, e.g. ``{"type": "fail", "status": 429}``."""
        self._call("POST", "/_llmock/scenario", {"behaviors": list(behaviors)})

    def pending(self) -> list[dict[str, Any]]:
        """Behaviours queued and not yet consumed by a request."""
        return list(self._call("GET", "/_llmock/scenario")["pending"])

    def requests(self) -> list[dict[str, Any]]:
        """Every request llmock served since the last reset, oldest first."""
        return list(self._call("GET", "/_llmock/requests")["requests"])

    def verdict(self) -> dict[str, Any]:
        """llmock's verdict on the client, as JSON (passed, errors, warnings, findings)."""
        return dict(self._call("GET", "/_llmock/verdict"))

    def verdict_text(self) -> str:
        """The same verdict as llmock's text report, for assertion messages."""
        return str(self._call("GET", "/_llmock/verdict?format=text"))


def _llmock_command() -> list[str]:
    if importlib.util.find_spec("llmock") is None:
        pytest.fail(
            "llmock is not installed, and these tests need it (it is in the [test] extra): "
            "run `.venv/bin/pip install -e '.[test]'` (or `.venv/bin/pip install llmock`)",
            pytrace=False,
        )
    script = Path(sys.executable).parent / "llmock"
    if not script.exists():
        pytest.fail(f"llmock is importable but its console script {script} is missing")
    return [str(script)]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT_S)


def _start(command: list[str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``llmock serve`` on a free loopback port, once it answers ``/health``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMOCK_")}
    env["NO_COLOR"] = "1"
    last_log = ""
    for _attempt in range(3):  # another process may take the free port before llmock binds it
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        # Tools off: our client never offers any, and no fault then depends on tool_mode.
        options = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*command, "serve", *options, "--tool-mode", "off"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while process.poll() is None and time.monotonic() < deadline:
            if _answers(url):
                return process, url
            time.sleep(0.1)
        _stop(process)
        last_log = log_path.read_text(errors="replace")
        if "address already in use" not in last_log.lower():
            break
    pytest.fail(f"llmock serve did not answer within {_START_TIMEOUT_S:g} s:\n{last_log}")


@pytest.fixture(scope="module")
def llmock_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LLMockPeer]:
    """One ``llmock serve`` child process for the module, stopped (terminate, then kill) after."""
    command = _llmock_command()
    process, url = _start(command, tmp_path_factory.mktemp("llmock") / "serve.log")
    try:
        yield LLMockPeer(url)
    finally:
        _stop(process)


@pytest.fixture
def peer(llmock_peer: LLMockPeer) -> LLMockPeer:
    """The module's llmock, reset: no queued behaviours, no recorded requests."""
    llmock_peer.reset()
    return llmock_peer
