"""Start, stop (promptly, even mid-stream or mid-hang), and the standalone entry point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import openai
import pytest
import requests

from tests.gateway_sim.conftest import AUTH, chat_body, post_chat
from tui_chat.gateway_sim import Fault, GatewaySim

REPO = Path(__file__).resolve().parents[2]


def read_in_background(sim: GatewaySim) -> tuple[threading.Thread, dict[str, object]]:
    outcome: dict[str, object] = {}

    def read() -> None:
        try:
            response = post_chat(sim, chat_body(stream=True), stream=True)
            for line in response.iter_lines():
                if line.startswith(b"data: "):
                    outcome["chunks"] = int(str(outcome.get("chunks", 0))) + 1
            outcome["ended"] = "eof"
        except Exception as error:
            outcome["ended"] = error

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, outcome


@pytest.mark.serial  # a wall-clock limit
def test_stop_while_a_client_streams_returns_promptly() -> None:
    sim = GatewaySim(api_key="test-key").start()
    sim.controls.ttft_s = 0.0
    sim.controls.token_delay_s = 0.05
    sim.controls.reply_tokens = 1000
    thread, outcome = read_in_background(sim)
    deadline = time.monotonic() + 5
    while "chunks" not in outcome and time.monotonic() < deadline:
        time.sleep(0.01)

    started = time.perf_counter()
    sim.stop()
    assert time.perf_counter() - started < 1.0
    thread.join(3)
    assert not thread.is_alive()
    assert isinstance(outcome["ended"], Exception)  # cut off, not a clean end
    assert int(str(outcome["chunks"])) < 1000


@pytest.mark.serial  # a wall-clock limit
@pytest.mark.parametrize("before_headers", [False, True])
def test_stop_while_a_fault_hangs_returns_promptly(before_headers: bool) -> None:
    sim = GatewaySim(api_key="test-key").start()
    sim.controls.ttft_s = sim.controls.token_delay_s = 0.0
    sim.inject(Fault("stall", seconds=None, before_headers=before_headers))
    thread, outcome = read_in_background(sim)
    time.sleep(0.2)
    assert "ended" not in outcome  # hanging

    started = time.perf_counter()
    sim.stop()
    assert time.perf_counter() - started < 1.0
    thread.join(3)
    assert not thread.is_alive()


@pytest.mark.serial  # a wall-clock limit
def test_stop_with_idle_keep_alive_connections(sim: GatewaySim, client: openai.OpenAI) -> None:
    client.chat.completions.create(
        model="gpt-4o-mini@openai", messages=[{"role": "user", "content": "Hi"}]
    )
    started = time.perf_counter()
    sim.stop()
    sim.stop()  # idempotent
    assert time.perf_counter() - started < 1.0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sim.base_url}/credits", headers=AUTH, timeout=1)


def test_context_manager_and_urls() -> None:
    with GatewaySim(api_key="k", port=0) as sim:
        assert sim.base_url == f"http://127.0.0.1:{sim.port}/v0"
        response = requests.get(
            f"{sim.base_url}/credits", headers={"Authorization": "Bearer k"}, timeout=5
        )
        assert response.json()["credits"] == 50.0


def test_refuses_a_non_loopback_host() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        GatewaySim(host="0.0.0.0")
    with pytest.raises(ValueError):
        GatewaySim(api_key="")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_standalone_module_serves_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tui_chat.gateway_sim", "--port", "0", "--key", "cli-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Simulated Unify API at http://127.0.0.1:")
        base_url = first.split(" at ")[1].strip()
        assert "cli-key" in process.stdout.readline()

        headers = {"Authorization": "Bearer cli-key"}
        requests.post(
            base_url.removesuffix("/v0") + "/_sim/control",
            json={"token_delay_s": 0, "ttft_s": 0},
            timeout=5,
        )
        credits = requests.get(f"{base_url}/credits", headers=headers, timeout=5).json()
        assert credits["credits"] == 50.0
        reply = requests.post(
            f"{base_url}/chat/completions",
            headers=headers,
            json=chat_body("What is the capital of Spain?"),
            timeout=5,
        )
        assert reply.json()["choices"][0]["message"]["content"] == "The capital of Spain is Madrid."
    finally:
        process.send_signal(stop_signal)
        code = process.wait(timeout=5)
    assert code == 0
    assert process.stdout.read().strip().endswith("Stopped.")


def test_standalone_module_refuses_a_remote_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui_chat.gateway_sim", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO,
        timeout=10,
    )
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr


def test_state_reports_controls(sim: GatewaySim) -> None:
    state = requests.get(f"{sim.url}/_sim/state", timeout=5).json()
    assert state["controls"]["token_delay_s"] == 0.0
    assert state["base_url"] == sim.base_url
    assert json.dumps(state)
