"""The plain-terminal Agent on every gateway kind: OpenRouter ids, plain model names, retries."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tui_chat import Agent
from tui_chat.core.endpoint import EndpointError
from tui_chat.gateway_sim.faults import Fault, FaultKind
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.factory import build_gateway
from tui_chat.gateways.retry import RetryingGateway, RetryPolicy

INTRODUCTION = "Hi, nice to meet you. My name is Foo Barrymore, and I am 25 years old."


def root_of(sim: Any) -> str:
    return sim.base_url.rsplit("/", 1)[0]  # .../v0 -> the server's root


def agent_on(sim: Any, kind: str, model: str, lines: str, **kw: Any) -> tuple[Agent, io.StringIO]:
    base = {"openrouter": "/api/v1", "openai-compatible": "/v1", "unify": "/v0"}[kind]
    settings = GatewaySettings(base_url=root_of(sim) + base, api_key="test-key", timeout=5.0)
    gateway, _account = build_gateway(kind, settings)
    out = io.StringIO()
    agent = Agent(
        model,
        gateway=kw.pop("wrap", lambda g: g)(gateway),
        gateway_kind=kind,
        stdin=io.StringIO(lines),
        stdout=out,
    )
    return agent, out


def test_openrouter_ids_are_taken_and_the_seed_dialogue_works(sim: Any) -> None:
    agent, out = agent_on(
        sim, "openrouter", "openai/gpt-4o-mini", f"{INTRODUCTION}\nHow old am I?\nquit\n"
    )
    with agent:
        agent.run(show_credits=True, show_provider=True)
    text = out.getvalue()
    assert "25" in text.split("> ")[2]
    assert "(spent " in text and "(provider: " in text
    sent = sim.requests[-1].body
    assert sent["model"] == "openai/gpt-4o-mini"
    assert len(sent["messages"]) == 3  # the whole history, resent


def test_plain_server_model_names_are_taken(sim: Any) -> None:
    agent, out = agent_on(sim, "openai-compatible", "llama-3.1-8b-chat", "How old am I?\nquit\n")
    with agent:
        agent.run()
    assert sim.requests[-1].body["model"] == "llama-3.1-8b-chat"
    assert "Error" not in out.getvalue()


def test_unify_kind_still_wants_model_at_provider(sim: Any) -> None:
    with pytest.raises(EndpointError, match="<model>@<provider>"):
        agent_on(sim, "unify", "llama-3.1-8b-chat", "quit\n")


def test_model_switch_keeps_the_kinds_rules(sim: Any) -> None:
    agent, _ = agent_on(sim, "openrouter", "openai/gpt-4o-mini", "quit\n")
    agent.model = "meta-llama/llama-3.1-70b-instruct"
    assert agent.model == "meta-llama/llama-3.1-70b-instruct"
    with pytest.raises(EndpointError):
        agent.model = "two words"
    assert agent.model == "meta-llama/llama-3.1-70b-instruct"  # unchanged after a refusal


def test_retry_before_the_first_token_is_said_on_the_terminal(sim: Any) -> None:
    sim.inject(Fault(FaultKind.STATUS, status=503))
    fast = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02)
    agent, out = agent_on(
        sim,
        "unify",
        "llama-3.1-8b-chat@groq",
        "What is the capital of Spain?\nquit\n",
        wrap=lambda g: RetryingGateway(g, fast),
    )
    with agent:
        agent.run()
    text = out.getvalue()
    assert "retrying in" in text and "attempt 2 of 3" in text
    assert "Madrid" in text
