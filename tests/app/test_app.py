"""Pilot tests of the full-screen app, each action tried against the embedded gateway."""

from __future__ import annotations

from typing import Any

from textual.command import CommandList
from textual.widgets import Button

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tui_chat.core.conversation import Outcome
from tui_chat.gateway_sim.faults import Fault, FaultKind
from tui_chat.ui.widgets.messages import ErrorCard, ModelMarker, ReplyView


def rendered_text(widget: Any) -> str:
    """What the widget shows, as plain text, line by line (the Line API's own output)."""
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


def _palette_hits(app: Any) -> int:
    lists = app.screen.query(CommandList)
    return lists.first().option_count if lists else 0


def replies(app: Any) -> list[Any]:
    return [m for m in app.conversation.messages if m.role == "assistant"]


async def test_send_streams_reply_with_served_endpoint_and_cost(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "What is the capital of Spain?")
        await wait_for_reply(pilot)
        reply = replies(app)[0]
        assert reply.outcome is Outcome.COMPLETE
        assert "Madrid" in reply.content
        assert reply.served_endpoint == "llama-3.1-8b-chat@groq"
        assert reply.cost is not None and reply.cost > 0
        view = app.chat_log.query_one(ReplyView)
        await wait_until(pilot, lambda: "Madrid" in rendered_text(view.body), what="reply shown")
        provenance = str(view.provenance.render())
        assert "llama-3.1-8b-chat@groq" in provenance
        assert f"{reply.cost:.6f} credits" in provenance
        assert app.prompt.text == ""
        assert app.status.last_cost == reply.cost


async def test_prompt_is_typed_and_sent_with_enter(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press(*"hello there")
        await pilot.press("enter")
        await wait_for_reply(pilot)
        assert sim.requests[-1].body["messages"][-1] == {"role": "user", "content": "hello there"}


async def test_newline_keys_do_not_send(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("a", "ctrl+j", "b", "alt+enter", "c")
        assert app.prompt.text == "a\nb\nc"
        assert app.conversation.messages == []


async def test_up_on_empty_prompt_recalls_earlier_prompts(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "first")
        await wait_for_reply(pilot, 1)
        await send(pilot, "second")
        await wait_for_reply(pilot, 2)
        await pilot.press("up")
        assert app.prompt.text == "second"
        await pilot.press("up")
        assert app.prompt.text == "first"
        await pilot.press("down")
        assert app.prompt.text == "second"
        await pilot.press("down")
        assert app.prompt.text == ""


async def test_stop_keeps_partial_reply(make_app: Any, sim: Any) -> None:
    sim.controls.reply_tokens = 2000
    sim.inject(Fault(FaultKind.STALL, after_tokens=60, seconds=None))
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Tell me a long story")
        await wait_until(pilot, lambda: len(replies(app)[0].content) > 60, what="some text")
        await pilot.press("escape")
        await wait_for_reply(pilot)
        reply = replies(app)[0]
        assert reply.outcome is Outcome.STOPPED
        assert len(reply.content) > 60
        assert reply.completion_tokens is not None and reply.completion_tokens <= 60
        view = app.chat_log.query_one(ReplyView)
        assert view.has_class("-stopped")
        assert "stopped" in str(view.provenance.render())
        assert app.focused is app.prompt
        # The stopped partial is part of the history the next turn resends.
        sim.controls.reply_tokens = None
        await send(pilot, "What did I just say?")
        await wait_for_reply(pilot, 2)
        sent = sim.requests[-1].body["messages"]
        assert sent[1] == {"role": "assistant", "content": reply.content}


async def test_stop_while_tokens_flow(make_app: Any, sim: Any) -> None:
    sim.controls.token_delay_s = 0.005
    sim.controls.reply_tokens = 3000
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Tell me a long story")
        await wait_until(pilot, lambda: len(replies(app)[0].content) > 40, what="some text")
        app.action_stop()
        await wait_for_reply(pilot)
        reply = replies(app)[0]
        assert reply.outcome is Outcome.STOPPED
        assert 0 < (reply.completion_tokens or 0) < 3000
        assert app.chat_log.query_one(ReplyView).body.source == reply.content


async def test_pause_holds_the_log_and_resume_shows_everything(make_app: Any, sim: Any) -> None:
    sim.controls.reply_tokens = 800
    sim.controls.markdown = True
    sim.inject(Fault(FaultKind.STALL, after_tokens=80, seconds=1.5))
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Write a long markdown answer")
        await wait_until(pilot, lambda: len(replies(app)[0].content) > 80, what="text")
        await pilot.press("ctrl+s")
        assert app.paused
        assert "PAUSED" in app.status.part("paused")
        view = app.chat_log.query_one(ReplyView)
        await pilot.pause(0.05)
        held = rendered_text(view.body)
        held_chars = len(replies(app)[0].content)
        # The stall ends and the rest of the reply arrives while the log holds still.
        await wait_for_reply(pilot)
        reply = replies(app)[0]
        assert reply.outcome is Outcome.COMPLETE
        assert len(reply.content) > held_chars + 500
        assert view.body.source == reply.content  # nothing lost while paused
        assert rendered_text(view.body) == held
        assert app.paused
        assert "complete" in app.status.part("paused")
        await pilot.press("ctrl+s")
        assert not app.paused
        last_line = reply.content.strip().splitlines()[-1].strip("`*|# ").split()[-1]
        await wait_until(
            pilot, lambda: last_line in rendered_text(view.body), what="the tail shown"
        )


async def test_pause_button_is_visible_while_streaming(make_app: Any, sim: Any) -> None:
    sim.controls.reply_tokens = 500
    sim.inject(Fault(FaultKind.STALL, after_tokens=30, seconds=None))
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        assert not app.query_one("#reply-controls").has_class("-visible")
        await send(pilot, "hello")
        await wait_until(pilot, lambda: len(replies(app)[0].content) > 30, what="streaming")
        assert app.query_one("#reply-controls").has_class("-visible")
        await pilot.click("#pause-button")
        assert app.paused
        assert "Resume" in str(app.query_one("#pause-button", Button).label)
        await pilot.click("#stop-button")
        await wait_for_reply(pilot)
        assert replies(app)[0].outcome is Outcome.STOPPED
        assert not app.paused


async def test_history_is_resent_after_model_switch(make_app: Any, sim: Any) -> None:
    app = make_app(model="llama-2-7b-chat@anyscale")
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Hi, my name is Foo Barrymore, and I am 25 years old.")
        await wait_for_reply(pilot, 1)
        assert app.switch_endpoint("gpt-4-turbo@openai")
        assert [m.endpoint for m in app.chat_log.query(ModelMarker)] == ["gpt-4-turbo@openai"]
        await send(pilot, "How old am I?")
        await wait_for_reply(pilot, 2)
        request = sim.requests[-1].body
        assert request["model"] == "gpt-4-turbo@openai"
        assert [m["role"] for m in request["messages"]] == ["user", "assistant", "user"]
        assert request["messages"][0]["content"].startswith("Hi, my name is Foo Barrymore")
        assert "25" in replies(app)[1].content
        assert replies(app)[1].served_endpoint == "gpt-4-turbo@openai"


async def test_switch_model_from_command_palette_with_typed_endpoint(
    make_app: Any, sim: Any
) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("ctrl+p")  # the palette (ctrl+l opens the model picker)
        await pilot.pause()
        await pilot.press(*"gpt-4o-mini@openai")
        await wait_until(pilot, lambda: _palette_hits(app) > 0, what="palette hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.endpoint == "gpt-4o-mini@openai", what="switch")
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        assert sim.requests[-1].body["model"] == "gpt-4o-mini@openai"


async def test_switch_model_from_selector_keeps_routing_mode(make_app: Any, sim: Any) -> None:
    app = make_app(model="llama-3.1-8b-chat@highest-tks-per-sec")
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: len(app.known_models) > 100, what="model list")
        await wait_until(pilot, lambda: app.selector.built, what="the panel's dropdowns")
        app.selector.query_one("#model-select").value = "llama-3.1-70b-chat"
        await wait_until(
            pilot,
            lambda: app.endpoint == "llama-3.1-70b-chat@highest-tks-per-sec",
            what="model switched",
        )
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        assert sim.requests[-1].body["model"] == "llama-3.1-70b-chat@highest-tks-per-sec"
        assert replies(app)[0].served_endpoint.startswith("llama-3.1-70b-chat@")


async def test_error_card_keeps_prompt_and_retry_succeeds(make_app: Any, sim: Any) -> None:
    sim.inject(Fault(FaultKind.STATUS, status=500, detail="upstream exploded"))
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "What is the capital of Portugal?")
        await wait_for_reply(pilot)
        card = app.chat_log.query_one(ErrorCard)
        assert "500" in card.title
        assert "upstream exploded" in card.detail
        assert app.prompt.text == "What is the capital of Portugal?"
        # Clicked once it is laid out: a button mounted but not yet placed has no area.
        await wait_until(
            pilot, lambda: any(b.region.area for b in app.query("#retry")), what="retry button"
        )
        await pilot.click("#retry")
        await wait_until(pilot, lambda: not app.chat_log.query(ErrorCard), what="card removed")
        await wait_for_reply(pilot)
        assert [m.role for m in app.conversation.messages] == ["user", "assistant"]
        assert "Lisbon" in replies(app)[0].content
        assert app.prompt.text == ""


async def test_bad_key_shows_gateway_detail(make_app: Any, sim: Any) -> None:
    from tui_chat.gateways.config import GatewaySettings
    from tui_chat.gateways.unify import UnifyAccount, UnifyGateway

    settings = GatewaySettings(base_url=sim.base_url, api_key="wrong-key")
    app = make_app(gateway=UnifyGateway(settings), account=UnifyAccount(settings))
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        card = app.chat_log.query_one(ErrorCard)
        assert "401" in card.title
        assert "Invalid API key" in card.detail
        assert "wrong-key" not in card.detail
        assert app.prompt.text == "hello"


async def test_unknown_provider_is_explained(make_app: Any, sim: Any) -> None:
    app = make_app(model="llama-3.1-8b-chat@nowhere-ai")
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        card = app.chat_log.query_one(ErrorCard)
        assert "400" in card.title
        assert "Invalid provider" in card.detail


async def test_invalid_endpoint_string_is_refused_with_format(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        assert not app.switch_endpoint("no provider here")
        assert app.endpoint == "llama-3.1-8b-chat@groq"
        await wait_until(pilot, lambda: app.selector.built, what="the panel's widgets")
        field = app.selector.query_one("#endpoint-input")
        field.value = "gpt-4o@"
        await pilot.pause()
        feedback = str(app.selector.query_one("#endpoint-feedback").render())
        assert "<model>@<provider>" in feedback


async def test_toggles_hide_credits_and_provider(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        view = app.chat_log.query_one(ReplyView)
        assert "credits" in str(view.provenance.render())
        await pilot.press("f3")
        assert not app.show_credits
        assert "credits" not in str(view.provenance.render())
        assert app.status.part("balance") == ""
        await pilot.press("f4")
        assert "llama-3.1-8b-chat@groq" not in str(view.provenance.render())
        assert app.status.part("served") == ""
        await pilot.press("f3", "f4")
        assert "credits" in str(view.provenance.render())
        assert "llama-3.1-8b-chat@groq" in str(view.provenance.render())


async def test_balance_goes_down_by_each_reply_cost(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.balance == 50.0, what="first balance")
        await send(pilot, "hello")
        await wait_for_reply(pilot, 1)
        await send(pilot, "What is the capital of Spain?")
        await wait_for_reply(pilot, 2)
        spent = sum(m.cost for m in replies(app))
        await wait_until(
            pilot, lambda: abs(app.status.balance - (50.0 - spent)) < 1e-9, what="balance"
        )
        assert app.status.total_cost == app.conversation.total_cost == spent


async def settled_scroll(pilot: Any, log: Any) -> float:
    """The log's scroll position once a page-up's smooth scroll has come to rest."""
    previous = None
    while previous != log.scroll_y:
        previous = log.scroll_y
        await pilot.pause(0.05)
    return float(log.scroll_y)


async def test_autoscroll_lets_go_when_user_scrolls_up(make_app: Any, sim: Any) -> None:
    sim.controls.reply_tokens = 1500
    sim.controls.markdown = True
    sim.inject(Fault(FaultKind.STALL, after_tokens=700, seconds=0.5))
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "long markdown please")
        log = app.chat_log
        await wait_until(pilot, lambda: log.max_scroll_y > 20, what="log taller than screen")
        await wait_until(pilot, lambda: log.scroll_y == log.max_scroll_y, what="at the bottom")
        assert log.following
        log.focus()
        await pilot.pause(0.1)  # let the anchored scroll settle, as a person's eye would
        await pilot.press("pageup")
        assert not log.following
        position = await settled_scroll(pilot, log)
        await wait_for_reply(pilot)  # the rest of the reply arrives after the stall
        await pilot.pause(0.1)
        assert log.max_scroll_y > position + 20
        assert log.scroll_y == position  # the view stays where the user put it
        await pilot.press("end")
        await wait_until(pilot, lambda: log.following, what="re-attached")
        assert log.scroll_y == log.max_scroll_y


async def test_copy_last_reply_and_code_block(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Show me some python code in markdown")
        await wait_for_reply(pilot)
        await pilot.press("f6")
        assert app.clipboard == replies(app)[0].content
        await pilot.press("f7")
        assert app.clipboard and app.clipboard in replies(app)[0].content
        assert "```" not in app.clipboard


async def test_new_conversation_starts_empty(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "My name is Ada.")
        await wait_for_reply(pilot)
        await pilot.press("ctrl+n")
        assert app.conversation.messages == []
        assert not app.chat_log.query(ReplyView)
        await send(pilot, "What is my name?")
        await wait_for_reply(pilot)
        assert len(sim.requests[-1].body["messages"]) == 1


async def test_quitting_mid_reply_exits_cleanly(make_app: Any, sim: Any) -> None:
    sim.controls.reply_tokens = 500
    sim.inject(Fault(FaultKind.STALL, after_tokens=20, seconds=None))
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_until(pilot, lambda: len(replies(app)[0].content) > 10, what="streaming")
        await pilot.press("ctrl+q")
    assert app.return_code in (0, None)


async def test_copy_code_takes_the_last_fenced_block_from_the_conversation(
    make_app: Any, sim: Any
) -> None:
    # Regression: f7 read the log's widgets, so a long log with its newest pages folded copied
    # an older reply's code. The conversation is the one source of truth.
    from tui_chat.ui.widgets.markdown_stream import code_blocks

    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Show me some python code in markdown")
        await wait_for_reply(pilot)
        expected = code_blocks(app.conversation.messages[-1].content)[-1]
        app.chat_log.clear_turns()  # the widgets are gone; the conversation is not
        await pilot.pause()
        await pilot.press("f7")
        await pilot.pause()
        assert app.clipboard == expected
        assert expected.strip()
        # A newer reply without code: f7 says so instead of copying the older reply's block.
        app.copy_to_clipboard("untouched")
        await send(pilot, "hello")
        await wait_for_reply(pilot, 2)
        assert not code_blocks(app.conversation.messages[-1].content)
        await pilot.press("f7")
        await pilot.pause()
        assert app.clipboard == "untouched"
        assert any("has no code block" in n.message for n in app._notifications)


async def test_f5_says_what_the_balance_is(make_app: Any, sim: Any) -> None:
    # Regression: f5 refreshed the balance with no word; unchanged, it looked like nothing.
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.balance is not None, what="the balance")
        await pilot.press("f5")
        await wait_until(
            pilot,
            lambda: any(n.message.startswith("Balance: ") for n in app._notifications),
            what="the balance said",
        )


async def test_after_a_pick_in_the_panel_typing_goes_to_the_prompt(make_app: Any, sim: Any) -> None:
    # Regression: focus stayed in the panel after a pick, so the next message typed went into
    # the dropdown and was lost.
    from textual.widgets import Select

    app = make_app(model="llama-3.1-8b-chat@groq")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.selector.built, what="the panel's dropdowns")
        providers = app.selector.query_one("#provider-select", Select)
        await wait_until(pilot, lambda: len(providers._options) > 3, what="the provider list")
        providers.focus()
        await pilot.press("enter")  # open the list
        await wait_until(pilot, lambda: providers.expanded, what="the list open")
        await pilot.press("down", "down", "enter")
        await wait_until(pilot, lambda: app.endpoint != "llama-3.1-8b-chat@groq", what="picked")
        await pilot.press(*"next question")
        assert app.prompt.text == "next question"
        assert app.focused is app.prompt


async def test_switch_model_keeps_a_provider_only_if_it_serves_the_new_model(
    make_app: Any, sim: Any
) -> None:
    # Regression: ctrl+l -> "Switch model: claude-3.5-sonnet" from llama-3.1-8b-chat@groq kept
    # groq, which does not serve it; the next send failed (and was retried four times).
    from textual.widgets import Select

    app = make_app(model="llama-3.1-8b-chat@groq")
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: len(app.known_models) > 100, what="model list")
        app.switch_model("llama-3.1-70b-chat")  # groq serves it: kept
        providers = app.selector.query_one("#provider-select", Select)
        await wait_until(
            pilot,
            lambda: any(value == "groq" for _, value in providers._options),
            what="the new model's providers",
        )
        await pilot.pause(0.2)
        assert app.endpoint == "llama-3.1-70b-chat@groq"
        app.switch_model("claude-3.5-sonnet")  # groq does not: a routing mode instead, said
        await wait_until(
            pilot,
            lambda: app.endpoint == "claude-3.5-sonnet@highest-tks-per-sec",
            what="the routing mode",
        )
        assert any("groq does not serve claude-3.5-sonnet" in n.message for n in app._notifications)
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        assert replies(app)[-1].served_endpoint.startswith("claude-3.5-sonnet@")


async def test_typing_in_the_model_dropdown_finds_a_model_and_enter_uses_it(
    make_app: Any, sim: Any
) -> None:
    # Regression: typing "gpt" in the open model list over the demo's 339 models found nothing
    # (Select's search skipped the options' labels), and Enter then kept the old model.
    from textual.widgets import OptionList, Select

    app = make_app(model="llama-3.1-8b-chat@highest-tks-per-sec")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.known_models) > 100, what="model list")
        await wait_until(pilot, lambda: app.selector.built, what="the panel")
        select = app.selector.query_one("#model-select", Select)
        await wait_until(pilot, lambda: len(select._options) > 100, what="the options")
        select.focus()
        await pilot.press("enter")  # open the list
        await wait_until(pilot, lambda: select.expanded, what="the list open")
        await pilot.press(*"gpt-4o-mini")
        overlay = select.query_one("SelectOverlay", OptionList)  # (by name: a private class)
        highlighted = overlay.highlighted
        assert highlighted is not None
        assert "gpt-4o-mini" in str(overlay.get_option_at_index(highlighted).prompt)
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: app.endpoint.startswith("gpt-4o-mini"),
            what="the model picked by typing",
        )
        assert app.endpoint == "gpt-4o-mini@highest-tks-per-sec"  # the routing mode kept
