"""Our OpenAI-compatible gateway against llmock, a third-party fault server (issue 14).

llmock (tests/peers/conftest.py) serves OpenAI chat completions and injects the faults each
test queues on its control API; afterwards its verdict (``GET /_llmock/verdict``) grades how the
client coped. Each test checks the typed events our stream yields and then that verdict. Two
roads are driven: the bare gateway from ``build_gateway`` (what each failure is called) and the
app's own road, ``connection.connect`` (the gateway wrapped in ``RetryingGateway``), whose
verdict is the one that counts. Where llmock's verdict flags our client wrongly, the test pins
the exact finding and docs/reliability.md ("llmock") says why it is wrong.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import pytest

from tests.peers.conftest import LLMockPeer
from tui_chat import Agent
from tui_chat.config import GatewayProfile
from tui_chat.connection import connect
from tui_chat.core.conversation import Outcome
from tui_chat.core.events import (
    Done,
    Retrying,
    ServedEndpoint,
    StreamError,
    StreamEvent,
    TextDelta,
    Usage,
)
from tui_chat.gateways.base import Gateway
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import (
    AuthenticationError,
    GatewayError,
    MalformedResponse,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from tui_chat.gateways.factory import build_gateway
from tui_chat.gateways.openai_compat import OpenAICompatibleGateway
from tui_chat.gateways.retry import RetryingGateway, RetryPolicy

pytestmark = pytest.mark.xdist_group("llmock")

MODEL = "gpt-4o-mini"
HELLO = [{"role": "user", "content": "What is the capital of Spain?"}]
ANSWER = "The capital of Spain is Madrid, on the Manzanares river."


# -- driving the gateway ---------------------------------------------------------------------


def bare_gateway(peer: LLMockPeer, *, timeout: float = 10.0) -> Gateway:
    """The openai-compatible kind from the factory, pointed at llmock, without retries."""
    settings = GatewaySettings(base_url=peer.openai_base_url, api_key="llmock-key", timeout=timeout)
    gateway, account = build_gateway("openai-compatible", settings)
    account.close()
    assert isinstance(gateway, OpenAICompatibleGateway)
    return gateway


def app_gateway(peer: LLMockPeer, *, timeout: float = 10.0) -> Gateway:
    """What the app streams from for an openai-compatible profile: RetryingGateway-wrapped."""
    profile = GatewayProfile(name="llmock", kind="openai-compatible", base_url=peer.openai_base_url)
    connection = connect(profile, "llmock-key", timeout=timeout)
    connection.account.close()
    assert isinstance(connection.gateway, RetryingGateway)
    return connection.gateway


def stream(gateway: Gateway) -> list[StreamEvent]:
    async def collect() -> list[StreamEvent]:
        try:
            return [event async for event in gateway.stream_chat(MODEL, HELLO)]
        finally:
            await gateway.aclose()

    events = asyncio.run(collect())
    assert_contract(events)
    return events


def assert_contract(events: list[StreamEvent]) -> None:
    """core.events' order: exactly one Done or StreamError, last; at most one Usage."""
    assert events, "the stream yielded nothing"
    ends = [e for e in events if isinstance(e, Done | StreamError)]
    assert ends == [events[-1]], f"not one Done/StreamError, last: {events!r}"
    assert sum(isinstance(e, Usage) for e in events) <= 1, events


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def error_of(events: list[StreamEvent]) -> GatewayError:
    last = events[-1]
    assert isinstance(last, StreamError), f"expected a StreamError last: {events!r}"
    return last.error


def findings(peer: LLMockPeer) -> list[str]:
    """The codes of llmock's verdict findings on this test's requests, sorted."""
    return sorted(finding["code"] for finding in peer.verdict()["findings"])


def assert_verdict(peer: LLMockPeer, expected: list[str]) -> None:
    got = findings(peer)
    assert got == sorted(expected), peer.verdict_text()
    assert peer.pending() == [], "a queued fault was never used: the scenario did not happen"


def reply(text: str = ANSWER, **fields: Any) -> dict[str, Any]:
    return {"type": "reply", "text": text, **fields}


def stream_fault(kind: str, after_chunks: int = 3, **fields: Any) -> dict[str, Any]:
    return {"type": "stream_fault", "kind": kind, "after_chunks": after_chunks, **fields}


# -- a normal reply --------------------------------------------------------------------------


def test_a_normal_reply_streams_text_usage_and_done(peer: LLMockPeer) -> None:
    peer.script(reply())
    events = stream(app_gateway(peer))
    assert events[0] == ServedEndpoint(MODEL)
    assert text_of(events) == ANSWER
    [usage] = [e for e in events if isinstance(e, Usage)]
    assert usage.completion_tokens and usage.completion_tokens > 0
    assert usage.cost is None and not usage.estimated  # no price table: no cost, no guess
    done = events[-1]
    assert isinstance(done, Done) and done.finish_reason == "stop"
    assert done.ttft_ms is not None and done.duration_ms is not None
    sent = peer.requests()[-1]["body"]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["model"] == MODEL and sent["messages"] == HELLO
    assert_verdict(peer, [])


def test_finish_reason_length_is_passed_on(peer: LLMockPeer) -> None:
    peer.script(reply("Madrid is the capital and the largest", finish_reason="length"))
    events = stream(app_gateway(peer))
    assert text_of(events) == "Madrid is the capital and the largest"
    done = events[-1]
    assert isinstance(done, Done) and done.finish_reason == "length"
    assert_verdict(peer, [])


# -- the stream breaks -----------------------------------------------------------------------


def test_a_truncated_stream_is_a_cut_reply_not_a_finished_one(peer: LLMockPeer) -> None:
    # llmock ends the HTTP response cleanly after 3 events: no finish reason, no [DONE].
    peer.script(reply(), stream_fault("truncate"))
    events = stream(app_gateway(peer))
    partial = text_of(events)
    assert partial and ANSWER.startswith(partial) and partial != ANSWER
    assert not any(isinstance(e, Done | Retrying) for e in events)
    error = error_of(events)
    assert isinstance(error, StreamInterrupted)
    assert "without a finish reason" in error.detail and f"{len(partial)} characters" in str(error)
    # llmock counts any truncated call that was not retried as "accepted"; ours was refused
    # (docs/reliability.md, llmock). Once text has arrived nothing is retried (a second charge).
    assert_verdict(peer, ["truncated_stream_accepted"])


def test_a_stream_truncated_before_its_first_message_is_not_a_reply(peer: LLMockPeer) -> None:
    peer.script(stream_fault("truncate", after_chunks=0))
    events = stream(app_gateway(peer))
    assert len(events) == 1
    error = error_of(events)
    assert isinstance(error, StreamInterrupted | MalformedResponse)
    assert "ended without" in error.detail
    assert_verdict(peer, ["truncated_stream_accepted"])


def test_a_disconnect_mid_stream_is_a_cut_reply(peer: LLMockPeer) -> None:
    peer.script(reply(), stream_fault("disconnect"))
    events = stream(app_gateway(peer))
    partial = text_of(events)
    assert partial and ANSWER.startswith(partial) and partial != ANSWER
    assert not any(isinstance(e, Done | Retrying) for e in events)
    error = error_of(events)
    assert isinstance(error, StreamInterrupted)
    assert error.detail.startswith(f"the connection closed after {len(partial)} characters")
    # Not retried once text has arrived (it would be charged twice): llmock warns "gave_up".
    assert_verdict(peer, ["gave_up"])


def test_a_malformed_chunk_stops_the_reply_with_an_error(peer: LLMockPeer) -> None:
    # llmock cuts the JSON of the 4th event in half, keeping the SSE framing.
    peer.script(reply(), stream_fault("malformed"))
    events = stream(app_gateway(peer))
    partial = text_of(events)
    assert ANSWER.startswith(partial) and partial != ANSWER
    assert not any(isinstance(e, Done) for e in events)
    error = error_of(events)
    assert isinstance(error, MalformedResponse)
    assert "not valid JSON" in error.detail
    # We stopped reading at the bad chunk; llmock warns whenever no retry followed one.
    assert_verdict(peer, ["malformed_chunk_ignored"])


def test_a_stalled_stream_times_out_instead_of_hanging(peer: LLMockPeer) -> None:
    # llmock stops sending for 5 s after 3 events; our read timeout is 0.5 s.
    peer.script(reply(), stream_fault("stall", stall_seconds=5.0))
    started = time.monotonic()
    events = stream(app_gateway(peer, timeout=0.5))
    assert time.monotonic() - started < 4.5, "the client sat through the stall"
    partial = text_of(events)
    assert partial and ANSWER.startswith(partial) and partial != ANSWER
    error = error_of(events)
    assert isinstance(error, StreamInterrupted)
    assert error.detail == f"no data arrived for 0.5 s after {len(partial)} characters"
    assert_verdict(peer, [])  # no "no_read_timeout": it hung up during the stall


# -- slow first token ------------------------------------------------------------------------


def test_a_slow_first_token_is_waited_for_and_measured(peer: LLMockPeer) -> None:
    peer.script(reply(), {"type": "slow_first_token", "seconds": 1.0})
    events = stream(app_gateway(peer, timeout=5.0))
    assert text_of(events) == ANSWER
    done = events[-1]
    assert isinstance(done, Done) and done.finish_reason == "stop"
    assert done.ttft_ms is not None and done.ttft_ms >= 1000.0  # at least the injected wait
    assert_verdict(peer, [])


def test_a_first_token_slower_than_the_read_timeout_is_an_error(peer: LLMockPeer) -> None:
    peer.script(reply(), {"type": "slow_first_token", "seconds": 5.0})
    events = stream(app_gateway(peer, timeout=0.5))
    assert text_of(events) == ""
    error = error_of(events)
    assert isinstance(error, StreamInterrupted)
    assert error.detail == "no data arrived for 0.5 s"
    assert_verdict(peer, [])


# -- HTTP errors -----------------------------------------------------------------------------


def test_429_carries_retry_after_and_the_servers_words(peer: LLMockPeer) -> None:
    peer.script({"type": "fail", "status": 429, "retry_after": 1})
    events = stream(bare_gateway(peer))
    error = error_of(events)
    assert isinstance(error, RateLimitError)
    assert (error.status, error.retry_after) == (429, 1.0)
    assert error.detail == "Rate limit exceeded."
    assert_verdict(peer, ["gave_up"])  # the bare gateway never retries; the app's road does


def test_429_is_retried_after_retry_after_on_the_apps_road(peer: LLMockPeer) -> None:
    peer.script({"type": "fail", "status": 429, "retry_after": 1}, reply())
    events = stream(app_gateway(peer))
    retrying = [e for e in events if isinstance(e, Retrying)]
    assert [(e.attempt, e.delay_s, e.reason) for e in retrying] == [(2, 1.0, "429 rate limited")]
    assert events[0] == retrying[0]  # said before any text
    assert text_of(events) == ANSWER
    assert isinstance(events[-1], Done)
    requests = peer.requests()
    assert [r["status"] for r in requests] == [429, 200]
    assert_verdict(peer, [])  # in particular no "retry_after_ignored"


def test_a_retry_after_beyond_the_cap_is_shown_not_waited_for(peer: LLMockPeer) -> None:
    peer.script({"type": "fail", "status": 429, "retry_after": 120})
    started = time.monotonic()
    events = stream(app_gateway(peer))
    assert time.monotonic() - started < 10.0
    assert not any(isinstance(e, Retrying) for e in events)
    error = error_of(events)
    assert isinstance(error, RateLimitError) and error.retry_after == 120.0
    assert_verdict(peer, ["gave_up"])  # deliberate: docs/reliability.md, llmock


def test_401_is_an_authentication_error_and_never_retried(peer: LLMockPeer) -> None:
    peer.script({"type": "fail", "status": 401})
    events = stream(app_gateway(peer))
    assert len(events) == 1
    error = error_of(events)
    assert isinstance(error, AuthenticationError)
    assert (error.status, error.detail) == (401, "Unauthorized.")
    assert len(peer.requests()) == 1
    assert_verdict(peer, [])  # no "retried_non_retryable"


def test_500_is_a_server_error(peer: LLMockPeer) -> None:
    peer.script({"type": "fail", "status": 500})
    error = error_of(stream(bare_gateway(peer)))
    assert isinstance(error, ServerError)
    assert (error.status, error.detail) == (500, "Internal server error.")
    assert_verdict(peer, ["gave_up"])  # the bare gateway never retries; the app's road does


def test_500_is_retried_with_backoff_on_the_apps_road(peer: LLMockPeer) -> None:
    peer.script({"type": "fail", "status": 500}, reply())
    events = stream(app_gateway(peer))
    retrying = [e for e in events if isinstance(e, Retrying)]
    assert [(e.attempt, e.reason) for e in retrying] == [(2, "500 server error")]
    assert text_of(events) == ANSWER and isinstance(events[-1], Done)
    assert [r["status"] for r in peer.requests()] == [500, 200]
    assert_verdict(peer, [])


def test_an_outage_is_retried_a_bounded_number_of_times_then_shown(peer: LLMockPeer) -> None:
    # 500, not 503: llmock sends a Retry-After of 1 s with 429/503/504/529 unless told, and the
    # backoff is what is exercised here.
    peer.script({"type": "fail", "status": 500, "times": None})
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.2, max_delay_s=1.0)
    events = stream(RetryingGateway(bare_gateway(peer), policy))
    assert [(e.attempt, e.delay_s) for e in events if isinstance(e, Retrying)] == [
        (2, 0.2),
        (3, 0.4),
    ]
    error = error_of(events)
    assert isinstance(error, ServerError) and error.status == 500
    assert [r["status"] for r in peer.requests()] == [500, 500, 500]
    # Bounded, backed-off retries: no "retry_storm", "no_backoff" or "gave_up". (The outage
    # stays queued, permanent, until the next test's reset.)
    assert findings(peer) == [], peer.verdict_text()


# -- the seed-compatible Agent ---------------------------------------------------------------


def agent_on(peer: LLMockPeer, lines: str) -> tuple[Agent, io.StringIO]:
    out = io.StringIO()
    agent = Agent(
        MODEL,
        gateway=app_gateway(peer),
        gateway_kind="openai-compatible",
        stdin=io.StringIO(lines),
        stdout=out,
    )
    return agent, out


def test_the_agent_prints_a_reply_from_llmock(peer: LLMockPeer) -> None:
    peer.script(reply())
    agent, out = agent_on(peer, "What is the capital of Spain?\n")
    with agent:
        agent.run()
    assert ANSWER in out.getvalue()
    assert "Error" not in out.getvalue()
    [message] = [m for m in agent.conversation.messages if m.role == "assistant"]
    assert message.outcome is Outcome.COMPLETE and message.content == ANSWER
    assert_verdict(peer, [])


def test_the_agent_says_a_truncated_reply_was_cut_and_does_not_resend_it(
    peer: LLMockPeer,
) -> None:
    peer.script(reply(), stream_fault("truncate"), reply("Yes."))
    agent, out = agent_on(peer, "What is the capital of Spain?\nAre you sure?\n")
    with agent:
        agent.run()
    text = out.getvalue()
    cut, second = agent.conversation.messages[1], agent.conversation.messages[3]
    assert cut.content and ANSWER.startswith(cut.content) and cut.content != ANSWER
    assert cut.outcome is not Outcome.COMPLETE
    assert cut.error is not None and "without a finish reason" in cut.error
    after = text.split(cut.content, 1)[1].split("> ", 1)[0]
    assert "cut" in after, f"the terminal did not say the reply was cut: {after!r}"
    assert second.outcome is Outcome.COMPLETE and second.content == "Yes."
    # The half reply is not resent as if the model had said it.
    resent = peer.requests()[1]["body"]["messages"]
    assert resent == [{"role": "user", "content": "Are you sure?"}]
    assert_verdict(peer, ["truncated_stream_accepted"])


async def test_in_the_app_a_truncated_reply_is_cut_and_retry_makes_the_verdict_clean(
    peer: LLMockPeer,
) -> None:
    # The app's whole road against llmock's truncate fault: the half reply is shown as cut off
    # (not complete), with a Retry; the user's Retry sends the same request again, and llmock,
    # which grades the call by its last attempt, then finds nothing wrong.
    from tests.app.conftest import APP_SIZE, profiles_app, send, wait_until
    from tui_chat.ui.widgets.messages import ErrorCard

    profile = GatewayProfile(name="llmock", kind="openai-compatible", base_url=peer.openai_base_url)
    app = profiles_app({"llmock": profile}, first="llmock", model=MODEL, account=None)
    async with app.run_test(size=APP_SIZE) as pilot:
        # The app opens its connection before the first message (HEAD /v1/models), and llmock
        # hands the next queued behaviour to any request, a HEAD too: queue after it.
        await wait_until(
            pilot,
            lambda: any(r.get("method") == "HEAD" for r in peer.requests()),
            what="the app's connection opened ahead of the message",
        )
        peer.script(reply(), stream_fault("truncate"), reply())
        await send(pilot, HELLO[0]["content"])
        await wait_until(pilot, lambda: not app.streaming and bool(app.chat_log.query(ErrorCard)))
        cut = app.conversation.messages[-1]
        assert cut.outcome is Outcome.CUT and cut.content and cut.content != ANSWER
        card = app.chat_log.query_one(ErrorCard)
        assert card.title.startswith("The reply was cut off")
        provenance = str(app.chat_log.replies[-1].provenance.render())
        assert "incomplete: cut off" in provenance
        assert app.status.connection == "online"
        await pilot.click("#retry")
        await wait_until(
            pilot,
            lambda: not app.streaming and app.conversation.messages[-1].outcome is Outcome.COMPLETE,
            what="the retried reply",
        )
        assert app.conversation.messages[-1].content == ANSWER
        assert [m.role for m in app.conversation.messages] == ["user", "assistant"]
    assert peer.requests()[-1]["body"]["messages"] == HELLO  # the same request, again
    assert_verdict(peer, [])
