"""The fault matrix in the app (Pilot): every fault survived, nothing typed or received is lost.

For each fault: the app stays up and answers keys; the error card names what happened in plain
words with the status and the gateway's detail; the typed prompt is back in the box; a partial
reply stays on screen, marked; the failed turn is not sent as context; retry works.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tests.reliability.faults import PARAMS, SLOW_MACHINE_TIMEOUT_S, Case
from tui_chat.core.conversation import Outcome
from tui_chat.gateway_sim import Fault
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.retry import RetryingGateway, RetryPolicy
from tui_chat.gateways.unify import UnifyAccount, UnifyGateway
from tui_chat.ui.widgets.messages import ErrorCard

PROMPT = "hello"
FULL_REPLY = "Hello! How can I help you today?"


def chat_requests(sim: Any) -> list[Any]:
    return [r for r in sim.requests if r.path.endswith("/chat/completions")]


def replies(app: Any) -> list[Any]:
    return [m for m in app.conversation.messages if m.role == "assistant"]


def build(
    make_app: Any,
    sim: Any,
    *,
    retry: RetryPolicy | None = None,
    timeout: float = SLOW_MACHINE_TIMEOUT_S,
) -> Any:
    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=timeout)
    gateway: Any = UnifyGateway(settings)
    if retry is not None:
        gateway = RetryingGateway(gateway, retry)
    return make_app(gateway=gateway, account=UnifyAccount(settings))


@pytest.mark.parametrize("case", PARAMS)
async def test_app_survives_fault_and_retry_works(make_app: Any, sim: Any, case: Case) -> None:
    sim.inject(case.fault)
    app = build(make_app, sim, timeout=case.read_timeout_s)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, PROMPT)
        await wait_for_reply(pilot, timeout=20)
        reply = replies(app)[0]
        if case.error is None:
            assert reply.outcome is Outcome.COMPLETE
            assert not app.chat_log.query(ErrorCard)
            assert "Hello! How can I" in reply.content
            assert reply.content.endswith("help you today?")
            if case.fault.kind == "huge_chunk":
                assert len(reply.content) > case.fault.size  # arrived whole
            return

        card = app.chat_log.query_one(ErrorCard)
        assert case.title in card.title
        if case.status is not None:
            assert f"HTTP {case.status}" in card.title
        assert case.detail in card.detail
        assert "test-key" not in card.title + card.detail
        assert app.prompt.text == PROMPT  # the typed prompt is kept
        view = app.chat_log.replies[0]
        if case.partial:
            assert reply.content == "Hello! How can I"
            assert view.display and view.has_class("-failed")
            assert "incomplete" in str(view.provenance.render())
            assert "partial reply above is kept" in card.title
        else:
            assert reply.content == ""
            assert not view.display

        # Still responsive: keys reach the prompt.
        await pilot.press("end", "!")
        assert app.prompt.text == PROMPT + "!"
        app.prompt.load_text(PROMPT)

        sent_before = len(chat_requests(sim))
        # Clicked once it is laid out: a button mounted but not yet placed has no area.
        await wait_until(
            pilot, lambda: any(b.region.area for b in app.query("#retry")), what="retry button"
        )
        await pilot.click("#retry")
        await wait_until(pilot, lambda: not app.chat_log.query(ErrorCard), what="card removed")
        await wait_for_reply(pilot, timeout=20)
        assert replies(app)[-1].outcome is Outcome.COMPLETE
        assert replies(app)[-1].content == FULL_REPLY
        assert [m.role for m in app.conversation.messages] == ["user", "assistant"]
        retried = chat_requests(sim)[sent_before:]
        assert len(retried) == 1
        # The failed turn (and any partial text) is not sent as context.
        assert retried[0].messages == [{"role": "user", "content": PROMPT}]
        assert app.prompt.text == ""


async def test_failed_turn_is_not_sent_with_the_next_prompt(make_app: Any, sim: Any) -> None:
    sim.inject(Fault("drop", after_tokens=5))
    app = build(make_app, sim)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "What is the capital of Portugal?")
        await wait_for_reply(pilot)
        assert replies(app)[0].outcome is Outcome.CUT  # some text came, then the connection broke
        await send(pilot, PROMPT)
        await wait_for_reply(pilot, count=2)
        assert chat_requests(sim)[-1].messages == [{"role": "user", "content": PROMPT}]
        # The failed turn stays on screen (and in the conversation) for the user to read.
        assert [m.role for m in app.conversation.messages] == [
            "user",
            "assistant",
            "user",
            "assistant",
        ]


@pytest.mark.parametrize("failure", ["refused", "dns"])
async def test_unreachable_gateway_in_the_app(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    import socket

    if failure == "refused":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        base_url, reason = f"http://127.0.0.1:{port}/v0", "Connection refused"
    else:
        guarded = socket.getaddrinfo

        def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host)
            if name.endswith(".invalid"):  # answered here: nothing leaves the machine
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return guarded(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", resolve)
        base_url, reason = "http://gateway.example.invalid/v0", "Name or service not known"
    settings = GatewaySettings(base_url=base_url, api_key="k")
    app = make_app(gateway=UnifyGateway(settings), account=None)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, PROMPT)
        await wait_for_reply(pilot)
        card = app.chat_log.query_one(ErrorCard)
        assert "Could not reach the gateway" in card.title
        assert reason in card.detail
        assert app.prompt.text == PROMPT
        assert "offline" in app.status.part("gateway")


# -- automatic retries, seen from the app ------------------------------------------------------


async def test_429_with_retry_after_counts_down_then_succeeds(make_app: Any, sim: Any) -> None:
    sim.inject(Fault("status", status=429, retry_after=1))
    app = build(make_app, sim, retry=RetryPolicy())
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, PROMPT)
        await wait_until(
            pilot, lambda: "retrying in" in app.status.retry_countdown, what="countdown"
        )
        countdown = app.status.retry_countdown
        assert countdown.startswith("429 rate limited, retrying in ")
        assert "(attempt 2/4" in countdown
        assert "429 rate limited" in str(app.chat_log.replies[0].provenance.render())
        await wait_for_reply(pilot)
        assert replies(app)[0].outcome is Outcome.COMPLETE
        assert replies(app)[0].content == FULL_REPLY
        assert app.status.retry_countdown == ""
        assert not app.chat_log.query(ErrorCard)
        assert len(chat_requests(sim)) == 2


async def test_stop_cancels_the_retry_wait(make_app: Any, sim: Any) -> None:
    sim.inject(Fault("status", status=503, retry_after=25))
    app = build(make_app, sim, retry=RetryPolicy())
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, PROMPT)
        await wait_until(pilot, lambda: "503 server error" in app.status.retry_countdown)
        await pilot.press("escape")
        await wait_for_reply(pilot)
        assert replies(app)[0].outcome is Outcome.STOPPED
        assert app.status.retry_countdown == ""
        assert len(chat_requests(sim)) == 1  # no second attempt after stop


async def test_retry_after_beyond_the_cap_shows_the_wait(make_app: Any, sim: Any) -> None:
    sim.inject(Fault("status", status=429, retry_after=600))
    app = build(make_app, sim, retry=RetryPolicy(max_retry_after_s=30))
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, PROMPT)
        await wait_for_reply(pilot)
        card = app.chat_log.query_one(ErrorCard)
        assert "HTTP 429" in card.title
        assert "asked to wait 10 min" in card.detail
        assert len(chat_requests(sim)) == 1


async def test_mid_stream_server_error_is_never_retried(make_app: Any, sim: Any) -> None:
    sim.inject(Fault("drop", after_tokens=5))
    app = build(make_app, sim, retry=RetryPolicy())
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, PROMPT)
        await wait_for_reply(pilot)
        assert replies(app)[0].content == "Hello! How can I"
        assert len(chat_requests(sim)) == 1  # no silent duplicate charge
