"""Comparing endpoints: parallel streams to the embedded gateway, each with its own figures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tui_chat.core.compare import (
    Comparison,
    ReplyFigures,
    comparison_problem,
    has_own_prices,
    send_estimate,
    stream_reply,
    total_estimate,
)
from tui_chat.core.conversation import Conversation, Message, Outcome
from tui_chat.core.events import Done, StreamEvent, TextDelta
from tui_chat.gateway_sim.faults import Fault
from tui_chat.gateways.base import EndpointDetails
from tui_chat.gateways.config import GatewaySettings, SecretStr
from tui_chat.gateways.errors import RateLimitError
from tui_chat.gateways.unify import UnifyGateway

ENDPOINTS = (
    "llama-3.1-8b-chat@groq",
    "llama-3.1-8b-chat@together-ai",
    "llama-3.1-8b-chat@deepinfra",
)
HELLO = [{"role": "user", "content": "Hello there"}]


def gateway_for(sim: Any) -> UnifyGateway:
    return UnifyGateway(
        GatewaySettings(base_url=sim.base_url, api_key=SecretStr("test-key"), timeout=10.0)
    )


async def compare(sim: Any, endpoints: tuple[str, ...] = ENDPOINTS) -> Comparison:
    gateway = gateway_for(sim)
    comparison = Comparison.start("Hello there", endpoints, gateway="unify")
    try:
        await comparison.run(gateway, HELLO)
    finally:
        await gateway.aclose()
    return comparison


def test_each_endpoint_gets_the_prompt_and_its_own_reply_with_figures(sim: Any) -> None:
    comparison = asyncio.run(compare(sim))
    assert sorted(r.body["model"] for r in sim.requests) == sorted(ENDPOINTS)
    assert all(r.body["messages"] == HELLO for r in sim.requests)
    assert comparison.finished and comparison.failures == [None, None, None]
    for endpoint, reply, figures in zip(
        ENDPOINTS, comparison.replies, comparison.figures(), strict=True
    ):
        assert reply.requested_endpoint == endpoint and reply.gateway == "unify"
        assert reply.outcome is Outcome.COMPLETE and reply.content
        assert figures.served_endpoint == endpoint
        assert figures.provider == endpoint.split("@")[1]
        assert figures.ttft_ms is not None and figures.cost.amount is not None
        assert figures.tokens == reply.completion_tokens and figures.tokens > 0
    spend = comparison.spend
    assert spend.amount == pytest.approx(sum(r.cost or 0 for r in comparison.replies))
    assert spend.amount is not None and spend.amount > max(r.cost or 0 for r in comparison.replies)


def test_the_streams_run_at_once(sim: Any) -> None:
    # Each reply takes 40 tokens x 20 ms; one after another the first would end before the
    # last began: at once, every one has started before any has ended.
    sim.controls.token_delay_s = 0.02
    sim.controls.reply_tokens = 40
    started: list[int] = []
    ended: list[int] = []
    order: list[str] = []

    async def run() -> Comparison:
        gateway = gateway_for(sim)
        comparison = Comparison.start("Hello there", ENDPOINTS)

        def seen(index: int, event: StreamEvent) -> None:
            if isinstance(event, TextDelta) and index not in started:
                started.append(index)
                order.append(f"start {index}")
            if isinstance(event, Done):
                ended.append(index)
                order.append(f"end {index}")

        try:
            await comparison.run(gateway, HELLO, on_event=seen)
        finally:
            await gateway.aclose()
        return comparison

    asyncio.run(run())
    assert sorted(started) == sorted(ended) == [0, 1, 2]
    assert all(item.startswith("start") for item in order[:3]), order


def test_a_failing_endpoint_leaves_the_others_streaming(sim: Any) -> None:
    sim.inject(Fault("status", status=429, detail="slow down", endpoint=ENDPOINTS[1]))
    sim.inject(Fault("truncate", after_tokens=3, endpoint=ENDPOINTS[2]))
    comparison = asyncio.run(compare(sim))
    first, refused, cut = comparison.replies
    assert first.outcome is Outcome.COMPLETE and first.content
    assert refused.outcome is Outcome.ERROR and not refused.content
    assert isinstance(comparison.failures[1], RateLimitError)
    assert cut.outcome is Outcome.CUT and cut.content
    assert comparison.failures[0] is None and comparison.failures[2] is not None
    figures = comparison.figures()
    assert figures[1].outcome is Outcome.ERROR and figures[1].error
    assert figures[1].line().endswith("· failed")


class Broken:
    """A gateway whose stream for one endpoint raises (a bug, not a gateway failure)."""

    def __init__(self, inner: UnifyGateway, broken: str) -> None:
        self.inner, self.broken = inner, broken

    async def stream_chat(
        self, endpoint: str, messages: list[dict[str, str]], **kw: Any
    ) -> AsyncIterator[StreamEvent]:
        if endpoint == self.broken:
            yield TextDelta("half")
            raise RuntimeError("boom")
        async for event in self.inner.stream_chat(endpoint, messages, **kw):
            yield event


def test_an_exception_in_one_stream_ends_that_reply_only(sim: Any) -> None:
    async def run() -> Comparison:
        gateway = gateway_for(sim)
        comparison = Comparison.start("Hello there", ENDPOINTS[:2])
        try:
            await comparison.run(Broken(gateway, ENDPOINTS[0]), HELLO)
        finally:
            await gateway.aclose()
        return comparison

    comparison = asyncio.run(run())
    assert comparison.replies[0].outcome is Outcome.ERROR
    assert "RuntimeError" in (comparison.replies[0].error or "")
    assert comparison.replies[1].outcome is Outcome.COMPLETE


def test_stopping_one_stream_keeps_its_text_and_the_others_go_on(sim: Any) -> None:
    sim.controls.token_delay_s = 0.01
    sim.controls.reply_tokens = 60

    async def run() -> Comparison:
        gateway = gateway_for(sim)
        comparison = Comparison.start("Hello there", ENDPOINTS[:2])
        first_text = asyncio.Event()

        def seen(event: StreamEvent) -> None:
            if isinstance(event, TextDelta):
                first_text.set()

        try:
            stopped = asyncio.create_task(comparison.stream_one(0, gateway, HELLO, on_event=seen))
            other = asyncio.create_task(comparison.stream_one(1, gateway, HELLO))
            await first_text.wait()
            stopped.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stopped
            await other
        finally:
            await gateway.aclose()
        return comparison

    comparison = asyncio.run(run())
    stopped, other = comparison.replies
    assert stopped.outcome is Outcome.STOPPED and stopped.content
    assert stopped.duration_ms is not None and stopped.completion_tokens  # end() ran
    assert other.outcome is Outcome.COMPLETE
    assert len(other.content) > len(stopped.content)


def test_stream_reply_times_on_the_given_clock() -> None:
    ticks = iter([10.0, 10.25, 10.5, 11.0])

    class Scripted:
        async def stream_chat(
            self, endpoint: str, messages: list[dict[str, str]], **kw: Any
        ) -> AsyncIterator[StreamEvent]:
            yield TextDelta("hi")
            yield Done("stop")

    reply = Message(role="assistant", content="", requested_endpoint="m@p")
    assert asyncio.run(stream_reply(Scripted(), reply, HELLO, clock=lambda: next(ticks))) is None
    assert reply.ttft_ms == pytest.approx(250.0)
    assert reply.duration_ms == pytest.approx(1000.0)
    assert reply.outcome is Outcome.COMPLETE


def test_comparison_problem_counts_and_checks_each_endpoint() -> None:
    assert comparison_problem("unify", ["a@b"]) == "Compare 2 to 4 endpoints, not 1."
    assert comparison_problem("unify", ["a@b"] * 5) == "Compare 2 to 4 endpoints, not 5."
    assert comparison_problem("unify", ["a@b", " ", "c@lowest-input-cost"]) is None
    problem = comparison_problem("unify", ["a@b", "no provider"])
    assert problem is not None and problem.startswith("Endpoint 2: ")
    assert comparison_problem("openai-compatible", ["gpt-4o-mini", "llama3.1:8b"]) is None


def test_send_estimate_is_the_input_price_of_the_history_and_unknown_for_routing() -> None:
    messages = [{"role": "user", "content": "x" * 4000}]  # about 1,000 tokens
    prices = EndpointDetails("m@p", input_cost=2.0, output_cost=8.0, context_window=None)
    assert send_estimate(messages, prices) == pytest.approx(0.002)
    assert send_estimate(messages, None) is None
    no_price = EndpointDetails("m@p", input_cost=None, output_cost=None, context_window=None)
    assert send_estimate(messages, no_price) is None
    assert str(total_estimate([0.002, 0.001])) == "~0.003000"
    assert str(total_estimate([0.002, None])) == "\u22650.002000"
    assert str(total_estimate([None, None])) == "\u2013"


def test_figures_while_streaming_use_the_live_speed() -> None:
    reply = Message(role="assistant", content="", requested_endpoint="m@lowest-ttft")
    reply.begin(0.0)
    reply.apply(TextDelta("word " * 40), 0.5)
    figures = ReplyFigures.of(reply, now=1.5)
    assert figures.outcome is None and figures.tokens_per_second == pytest.approx(50.0)
    assert figures.provider == "lowest-ttft"  # not served yet: the routing mode asked for
    assert figures.line().endswith("streaming")
    assert "~50 tok" in figures.line()


def test_keep_continues_the_conversation_with_the_picked_reply(sim: Any) -> None:
    comparison = asyncio.run(compare(sim))
    conversation = Conversation()
    kept = comparison.keep(conversation, 1)
    assert kept is comparison.replies[1] and comparison.kept == 1
    assert conversation.api_messages() == [
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": kept.content},
    ]
    assert conversation.alternates(kept) == comparison.replies
    assert conversation.alternate_position(kept) == (2, 3)
    every = sum(reply.cost or 0 for reply in comparison.replies)
    assert conversation.spend.amount == pytest.approx(every)
    assert conversation.branch_spend.amount == pytest.approx(kept.cost)
    with pytest.raises(IndexError):
        comparison.keep(Conversation(), 3)


def test_only_a_concrete_endpoint_has_prices_before_it_is_served() -> None:
    assert has_own_prices("llama-3.1-8b-chat@groq")
    assert not has_own_prices("llama-3.1-8b-chat@lowest-input-cost")
    assert not has_own_prices("router@q:1|c:0.5")
    assert not has_own_prices("a@p1->b@p2")
    assert not has_own_prices("gpt-4o-mini")
