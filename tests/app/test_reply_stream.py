"""The reply in flight (ui/reply_stream.py): figures come from the core message, not widgets."""

from __future__ import annotations

from typing import Any

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tui_chat.core.accounting import estimate_reply_cost
from tui_chat.core.conversation import Outcome
from tui_chat.gateway_sim.faults import Fault, FaultKind
from tui_chat.ui.widgets.messages import ReplyView


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
