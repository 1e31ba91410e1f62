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
from tui_chat.ui import reply_stream
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.reply_stream import CONTINUE_PROMPT
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


CLOSE_DELIMITED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
)


def scripted_app(scripted: ScriptedServer) -> UnifyTUI:
    """The app on the Unify client, talking to ``scripted``; no account."""
    settings = GatewaySettings(base_url=scripted.base_url, api_key=SecretStr("k"), timeout=5.0)
    return UnifyTUI(gateway=UnifyGateway(settings), account=None, model="m@p")


async def test_a_reply_cut_without_a_finish_reason_is_shown_as_cut_and_not_resent(
    scripted: ScriptedServer,
) -> None:
    # Regression: the half reply got a normal provenance line and outcome "complete", and was
    # resent as context with the next message.
    head = CLOSE_DELIMITED_HEAD
    scripted.script(Send(head), Send(sse(chunk("The first half"))), Close())
    app = scripted_app(scripted)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Tell me everything")
        await wait_for_reply(pilot)
        reply = app.conversation.messages[-1]
        assert reply.content == "The first half"  # kept on screen
        assert reply.outcome is Outcome.CUT
        card = app.chat_log.query_one(ErrorCard)
        assert card.title.startswith("The reply was cut off; the partial reply above is kept")
        assert app.conversation.api_messages() == []  # the cut turn is not resent
        view = app.chat_log.replies[-1]
        assert "incomplete: cut off" in str(view.provenance.render())
        assert view.has_class("-failed")
        assert app.status.connection == "online"  # the server answered: not "offline"


async def test_a_reply_at_the_token_limit_says_so_and_continue_asks_for_the_rest(
    make_app: Any, sim: Any
) -> None:
    # Regression: finish_reason "length" looked like a finished reply.
    sim.controls.reply_tokens = 60
    app = make_app(max_tokens=10)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Tell me a long story")
        await wait_for_reply(pilot)
        reply = app.conversation.messages[-1]
        assert reply.outcome is Outcome.LENGTH
        view = app.chat_log.replies[-1]
        assert "incomplete: stopped at the token limit" in str(view.provenance.render())
        assert view.has_class("-incomplete")
        card = app.chat_log.query_one(ErrorCard)
        assert card.title == "The reply reached the token limit (max_tokens 10)"
        # the cut-short reply is still context: the model wrote it
        assert app.conversation.api_messages()[-1]["content"] == reply.content
        app.prompt.load_text("a draft")  # typed meanwhile: Continue must leave it alone
        await pilot.click("#continue")
        await wait_for_reply(pilot, count=2)
        sent = [r for r in sim.requests if r.path.endswith("/chat/completions")][-1]
        assert sent.messages[-2:] == [
            {"role": "assistant", "content": reply.content},
            {"role": "user", "content": CONTINUE_PROMPT},
        ]
        assert app.prompt.text == "a draft"
        assert not [c for c in app.chat_log.query(ErrorCard) if c.can_continue and c is card]


async def test_a_filtered_reply_says_so(scripted: ScriptedServer) -> None:
    scripted.script(
        Send(CLOSE_DELIMITED_HEAD),
        Send(sse(chunk("I can tell you th"))),
        Send(sse(chunk(finish_reason="content_filter"))),
        Send(b"data: [DONE]\n\n"),
        Close(),
    )
    app = scripted_app(scripted)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        reply = app.conversation.messages[-1]
        assert reply.outcome is Outcome.FILTERED
        card = app.chat_log.query_one(ErrorCard)
        assert card.title == "The provider's content filter stopped the reply"
        line = str(app.chat_log.replies[-1].provenance.render())
        assert "stopped by the provider's content filter" in line


async def test_last_shows_no_figure_when_the_new_reply_has_none(scripted: ScriptedServer) -> None:
    # Regression: Last kept the previous reply's cost when the next one reported none.
    head = CLOSE_DELIMITED_HEAD
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "cost": 0.25}
    scripted.script(Send(head), Send(sse(chunk("one", usage=usage, finish_reason="stop"))), Close())
    scripted.script(Send(head), Send(sse(chunk("two", finish_reason="stop"))), Close())
    app = scripted_app(scripted)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "first")
        await wait_for_reply(pilot)
        assert app.status.last_cost == 0.25
        await send(pilot, "second")
        await wait_for_reply(pilot, count=2)
        assert app.conversation.messages[-1].cost is None
        assert app.status.last_cost is None
        assert "Last \u2013" in app.status.text


async def test_an_estimated_cost_is_marked_in_the_reply_and_the_status_bar(
    make_app: Any, sim: Any
) -> None:
    # Regression: a cost estimated from the prices showed like a billed one ("0.000037 credits").
    sim.controls.reply_tokens = 200
    sim.inject(Fault(FaultKind.STALL, after_tokens=40, seconds=None))  # no usage ever comes
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await send(pilot, "Tell me a long story")
        reply = app.conversation.messages[-1]
        await wait_until(pilot, lambda: len(reply.content) > 40, what="some text")
        served = reply.served_endpoint or ""
        await wait_until(pilot, lambda: served in app.account_watch.details, what="prices")
        await pilot.press("escape")
        await wait_for_reply(pilot)
        assert reply.cost is not None and reply.cost_estimated
        line = str(app.chat_log.replies[-1].provenance.render())
        assert f"~{reply.cost:.6f} credits" in line
        assert f"Last ~{reply.cost:.6f}" in app.status.text
        assert f"Chat ~{reply.cost:.6f}" in app.status.text


async def test_a_quiet_gateway_is_said_with_the_seconds_counting(
    make_app: Any, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: a stall shorter than the read timeout showed nothing at all.
    monkeypatch.setattr(reply_stream, "QUIET_AFTER_S", 0.3)
    sim.controls.reply_tokens = 30
    sim.inject(Fault(FaultKind.STALL, after_tokens=5, seconds=2.0))
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Tell me a story")
        reply = app.conversation.messages[-1]
        view = app.chat_log.replies[-1]

        def note() -> str:
            return str(view.provenance.render()) if view.provenance.display else ""

        await wait_until(pilot, lambda: "waiting for the gateway" in note(), what="the note")
        assert "esc stops" in note() and reply.outcome is None
        await wait_until(pilot, lambda: " 1 s " in note(), what="the seconds counting")
        await wait_for_reply(pilot)
        assert reply.outcome is Outcome.COMPLETE
        assert "waiting for the gateway" not in note()  # the provenance line took its place


async def test_ctrl_r_continues_a_reply_at_the_token_limit_even_when_reopened(
    make_app: Any, sim: Any
) -> None:
    sim.controls.reply_tokens = 60
    app = make_app(max_tokens=10)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Tell me a long story")
        await wait_for_reply(pilot)
        assert app.conversation.messages[-1].outcome is Outcome.LENGTH
        await app.chat_log.query_one(ErrorCard).remove()  # as when reopened from history
        app.prompt.focus()
        await pilot.press("ctrl+r")
        await wait_for_reply(pilot, count=2)
        sent = [r for r in sim.requests if r.path.endswith("/chat/completions")][-1]
        assert sent.messages[-1] == {"role": "user", "content": CONTINUE_PROMPT}
