"""The reply in flight (ui/reply_stream.py): figures come from the core message, not widgets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tests.gateways.scripted_server import Close, ScriptedServer, Send, chunk, serve, sse
from tui_chat.core.accounting import estimate_reply_cost
from tui_chat.core.conversation import Outcome
from tui_chat.gateway_sim.faults import Fault, FaultKind
from tui_chat.gateways.config import GatewaySettings, SecretStr
from tui_chat.gateways.unify import UnifyGateway
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.widgets.messages import ErrorCard, ReplyView


async def test_a_stopped_reply_gets_its_estimate_from_the_prices_and_its_text(
    make_app: Any, sim: Any
) -> None:
    sim.controls.reply_tokens = 200
    sim.inject(Fault(FaultKind.STALL, after_tokens=40, seconds=None))  # no usage ever comes
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Tell me a long story")
        reply = app.conversation.messages[-1]
        await wait_until(pilot, lambda: len(reply.content) > 40, what="some text")
        served = reply.served_endpoint or ""
        await wait_until(pilot, lambda: served in app.account_watch.details, what="prices")
        app.status.live_cost = 123.0  # what the bar shows must not flow back into the reply
        await pilot.press("escape")
        await wait_for_reply(pilot)
        assert reply.outcome is Outcome.STOPPED
        assert reply.tokens_estimated
        assert reply.completion_tokens == reply.output_tokens  # from the text, about 4 chars each
        prompt_chars = len("Tell me a long story")
        details = app.account_watch.details[served]
        expected = estimate_reply_cost(prompt_chars, reply.completion_tokens, details)
        assert reply.cost == expected
        assert reply.cost_estimated
        line = str(app.chat_log.query(ReplyView).last().provenance.render())
        assert f"~{reply.completion_tokens} tok" in line


async def test_a_reported_usage_is_shown_without_a_mark(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        reply = app.conversation.messages[-1]
        assert reply.outcome is Outcome.COMPLETE
        assert not reply.tokens_estimated and not reply.cost_estimated
        line = str(app.chat_log.query(ReplyView).last().provenance.render())
        assert f" {reply.completion_tokens} tok" in line and "~" not in line


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    yield from serve()


async def test_a_reply_cut_without_a_finish_reason_is_shown_as_cut_and_not_resent(
    scripted: ScriptedServer,
) -> None:
    # Regression: the half reply got a normal provenance line and outcome "complete", and was
    # resent as context with the next message.
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    scripted.script(Send(head), Send(sse(chunk("The first half"))), Close())
    settings = GatewaySettings(base_url=scripted.base_url, api_key=SecretStr("k"), timeout=5.0)
    app = UnifyTUI(gateway=UnifyGateway(settings), account=None, model="m@p")
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Tell me everything")
        await wait_for_reply(pilot)
        reply = app.conversation.messages[-1]
        assert reply.content == "The first half"  # kept on screen
        assert reply.outcome is Outcome.ERROR
        card = app.chat_log.query_one(ErrorCard)
        assert card.title.startswith("The reply was cut off; the partial reply above is kept")
        assert app.conversation.api_messages() == []  # the cut turn is not resent
