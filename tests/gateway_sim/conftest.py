"""Helpers for the embedded-gateway tests: clients, a controllable clock, raw SSE reading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import requests

from tests.conftest import start_sim
from tui_chat.gateway_sim import GatewaySim

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
START_TIME = 1_730_000_000.0


class FakeClock:
    """A clock the test moves by hand (unix seconds)."""

    def __init__(self, now: float = START_TIME) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def client(sim: GatewaySim) -> Iterator[openai.OpenAI]:
    # no SDK retries: a test's fault must reach the test, not be retried away
    with openai.OpenAI(base_url=sim.base_url, api_key=KEY, max_retries=0, timeout=10) as oai:
        yield oai


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clocked_sim(clock: FakeClock) -> Iterator[GatewaySim]:
    """A gateway whose time (and so its drift) moves only when the test says."""
    with start_sim(api_key=KEY, clock=clock) as gateway:
        yield gateway


def chat_body(
    text: str = "Hello", model: str = "gpt-4o-mini@openai", **extra: Any
) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def post_chat(sim: GatewaySim, body: Any, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", AUTH)
    return requests.post(
        f"{sim.base_url}/chat/completions", json=body, headers=headers, timeout=10, **kwargs
    )


def sse_payloads(raw: bytes) -> list[str]:
    """The data of each SSE event; a trailing piece without its blank line is kept as is."""
    pieces = raw.decode().split("\n\n")
    payloads = []
    for piece in pieces:
        if not piece:
            continue
        assert piece.startswith("data: "), piece[:80]
        payloads.append(piece.removeprefix("data: "))
    return payloads


def stream_chunks(sim: GatewaySim, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = post_chat(sim, {**body, "stream": True})
    assert response.status_code == 200, response.text
    return [json.loads(payload) for payload in sse_payloads(response.content)]


def content_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(
        chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks if chunk["choices"]
    )


def get(sim: GatewaySim, path: str, **params: str) -> requests.Response:
    return requests.get(f"{sim.base_url}/{path}", headers=AUTH, params=params, timeout=10)
