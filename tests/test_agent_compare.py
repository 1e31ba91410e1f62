"""Agent.compare: one prompt to several endpoints from Python, against the embedded gateway."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tui_chat import Agent
from tui_chat.core.conversation import Outcome
from tui_chat.core.endpoint import EndpointError
from tui_chat.gateway_sim.faults import Fault

ENDPOINTS = [
    "llama-3.1-8b-chat@groq",
    "llama-3.1-8b-chat@lowest-input-cost",
    "llama-3.1-8b-chat@highest-tks-per-sec",
]


def agent_for(sim: Any) -> Agent:
    return Agent(
        "llama-3.1-8b-chat@groq",
        api_key="test-key",
        base_url=sim.base_url,
        stdin=io.StringIO(""),
        stdout=io.StringIO(),
    )


def test_compare_returns_each_reply_with_figures_and_leaves_the_history(sim: Any) -> None:
    with agent_for(sim) as agent:
        comparison = agent.compare("What is 2+2?", ENDPOINTS)
        assert agent.history == []  # nothing kept yet
        assert [r.requested_endpoint for r in comparison.replies] == ENDPOINTS
        for figures in comparison.figures():
            assert figures.outcome is Outcome.COMPLETE
            assert figures.served_endpoint and "@" in figures.served_endpoint
            assert figures.ttft_ms is not None and figures.tokens > 0
            assert figures.cost.amount is not None
        # the routing modes were served by a concrete provider
        assert comparison.replies[1].served_endpoint != ENDPOINTS[1]
        assert sorted(r.body["model"] for r in sim.requests) == sorted(ENDPOINTS)
        kept = agent.keep(comparison, 1)
        assert agent.history == [
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": kept.content},
        ]
        agent.compare("And 3+3?", ENDPOINTS[:2], keep=0)
        assert len(agent.history) == 4
        assert all(len(r.body["messages"]) == 3 for r in sim.requests[3:])


def test_one_failing_endpoint_is_one_failed_reply(sim: Any) -> None:
    sim.inject(Fault("status", status=503, detail="down", endpoint=ENDPOINTS[0]))
    with agent_for(sim) as agent:
        comparison = agent.compare("Hi", ENDPOINTS[:2])
    failed, served = comparison.replies
    assert failed.outcome is Outcome.ERROR and failed.error
    assert served.outcome is Outcome.COMPLETE and served.content


def test_endpoints_are_checked_before_anything_is_sent(sim: Any) -> None:
    with agent_for(sim) as agent:
        with pytest.raises(EndpointError, match="Endpoint 2"):
            agent.compare("Hi", ["llama-3.1-8b-chat@groq", "no provider here"])
        with pytest.raises(EndpointError, match="2 to 4"):
            agent.compare("Hi", ["llama-3.1-8b-chat@groq"])
    assert sim.requests == []


def test_estimates_price_concrete_endpoints_and_not_routing_modes(sim: Any) -> None:
    with agent_for(sim) as agent:
        estimates = agent.compare_estimates("x" * 4000, ENDPOINTS)
    assert estimates[0] is not None and estimates[0] > 0
    assert estimates[1:] == [None, None]
