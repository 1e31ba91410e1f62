"""The compare screen (ctrl+t): endpoints chosen, replies streaming in columns, one picked."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input

from tests.app.conftest import wait_until
from tui_chat.core.conversation import Outcome
from tui_chat.gateway_sim.faults import Fault
from tui_chat.ui.screens.compare import CompareScreen, CompareSetupScreen
from tui_chat.ui.widgets.messages import ErrorCard

ENDPOINTS = [
    "llama-3.1-8b-chat@groq",
    "llama-3.1-8b-chat@together-ai",
    "llama-3.1-8b-chat@deepinfra",
]


async def open_comparison(pilot: Any, endpoints: list[str] = ENDPOINTS, prompt: str = "Hi") -> Any:
    """ctrl+t with ``prompt`` in the box, the fields set to ``endpoints``, then Compare."""
    app = pilot.app
    app.prompt.load_text(prompt)
    await pilot.press("ctrl+t")
    await wait_until(pilot, lambda: isinstance(app.screen, CompareSetupScreen), what="setup")
    setup = app.screen
    await pilot.pause()
    for index in range(4):
        field = setup.query_one(f"#compare-endpoint-{index}", Input)
        field.value = endpoints[index] if index < len(endpoints) else ""
    await pilot.pause()
    setup.query_one("#compare-prompt", Input).focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare screen")
    return app.screen


def all_ended(screen: CompareScreen) -> bool:
    return screen.comparison.finished


async def test_columns_side_by_side_at_120_and_each_reply_its_figures(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_comparison(pilot)
        await wait_until(pilot, lambda: all_ended(screen), what="all replies")
        await pilot.pause()
        assert screen.has_class("-side-by-side")
        columns = screen.columns
        assert len({column.region.y for column in columns}) == 1
        assert [column.region.x for column in columns] == sorted(c.region.x for c in columns)
        for endpoint, column in zip(ENDPOINTS, columns, strict=True):
            reply = column.reply
            assert reply.requested_endpoint == endpoint and reply.outcome is Outcome.COMPLETE
            line = str(column.figures.render())
            assert line.startswith(endpoint.split("@")[1]) and "TTFT" in line
            assert f"{reply.completion_tokens} tok" in line and "credits" in line
            assert column.view.body.source == reply.content
            assert not column.view.provenance.display  # the figures line is not repeated
        assert app.conversation.messages == []  # nothing kept before a pick


async def test_columns_stack_at_80(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_comparison(pilot, ENDPOINTS[:2])
        await wait_until(pilot, lambda: all_ended(screen), what="all replies")
        await pilot.pause()
        assert screen.has_class("-stacked")
        first, second = screen.columns
        assert first.region.x == second.region.x
        assert second.region.y >= first.region.bottom


async def test_stopping_one_column_leaves_the_others_streaming(make_app: Any, sim: Any) -> None:
    sim.controls.token_delay_s = 0.01
    sim.controls.tokens_per_chunk = 1
    sim.controls.reply_tokens = 3000  # 30 s each: stopped long before
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_comparison(pilot)
        first = screen.comparison.replies[0]
        await wait_until(pilot, lambda: bool(first.content), what="text in column 1")
        await pilot.press("exclamation_mark")  # shift+1, as a terminal sends it
        await wait_until(pilot, lambda: first.outcome is not None, what="column 1 stopped")
        assert first.outcome is Outcome.STOPPED
        assert [r.outcome for r in screen.comparison.replies[1:]] == [None, None]
        assert screen.columns[0].stop_button.disabled
        assert not screen.columns[1].stop_button.disabled
        others = screen.comparison.replies[1:]
        grown = [len(reply.content) for reply in others]
        await wait_until(
            pilot,
            lambda: all(len(r.content) > n for r, n in zip(others, grown, strict=True)),
            what="the others still growing",
        )
        assert first.outcome is Outcome.STOPPED
        await pilot.press("escape")  # stops the rest
        await wait_until(pilot, lambda: all_ended(screen), what="all stopped")
        assert [r.outcome for r in others] == [Outcome.STOPPED] * 2


async def test_a_failure_shows_its_card_in_its_column_only(make_app: Any, sim: Any) -> None:
    sim.inject(Fault("status", status=429, detail="slow down", endpoint=ENDPOINTS[1]))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_comparison(pilot)
        await wait_until(pilot, lambda: all_ended(screen), what="all replies")
        await pilot.pause()
        cards = [list(column.query(ErrorCard)) for column in screen.columns]
        assert [len(found) for found in cards] == [0, 1, 0]
        assert "Rate limited" in cards[1][0].title
        assert screen.columns[1].pick_button.disabled
        outcomes = [reply.outcome for reply in screen.comparison.replies]
        assert outcomes == [Outcome.COMPLETE, Outcome.ERROR, Outcome.COMPLETE]


async def test_picking_one_continues_with_it_and_the_spend_counts_all(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_comparison(pilot, prompt="Tell me a fact")
        comparison = screen.comparison
        screen.query_one("#compare-next", Input).value = "And why?"  # typed meanwhile
        await wait_until(pilot, lambda: all_ended(screen), what="all replies")
        assert screen.focused is None or screen.focused.id != "compare-next"
        await pilot.press("2")
        await wait_until(pilot, lambda: not isinstance(app.screen, CompareScreen), what="back")
        conversation = app.conversation
        second = comparison.replies[1]
        assert [m.content for m in conversation.messages] == ["Tell me a fact", second.content]
        assert conversation.messages[1] is second
        assert conversation.alternates(second) == comparison.replies
        every = sum(reply.cost or 0 for reply in comparison.replies)
        assert every > (second.cost or 0) > 0
        assert app.status.total_cost == every
        assert app.status.last_cost == second.cost
        assert app.prompt.text == "And why?"  # the next message, waiting in the box
        # the next message goes on from the picked reply
        assert app.conversation.api_messages()[-1]["content"] == second.content


async def test_refused_fields_say_why_and_nothing_is_sent(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.prompt.load_text("Hi")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareSetupScreen), what="setup")
        setup = app.screen
        await pilot.pause()
        for index in range(4):
            setup.query_one(f"#compare-endpoint-{index}", Input).value = ""
        setup.query_one("#compare-endpoint-0", Input).value = "no provider here"
        await pilot.pause()
        setup.query_one("#compare-prompt", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CompareSetupScreen)
        problem = str(setup.query_one("#compare-problem").render())
        assert problem.startswith("Endpoint 1: ")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, CompareSetupScreen))
        assert app.prompt.text == "Hi"
    assert [r for r in sim.requests if r.path.endswith("/chat/completions")] == []


async def test_a_picked_comparison_is_saved_with_its_alternates(
    make_app: Any, tmp_path: Any
) -> None:
    import asyncio

    from tui_chat.store import Store

    path = tmp_path / "compare.db"
    app = make_app(store=Store.open(path))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_comparison(pilot, prompt="Saved?")
        comparison = screen.comparison
        await wait_until(pilot, lambda: all_ended(screen), what="all replies")
        await pilot.press("3")
        await wait_until(pilot, lambda: not isinstance(app.screen, CompareScreen), what="back")
        assert app.recorder is not None
        assert await asyncio.to_thread(app.recorder.flush)
        conversation_id = app.conversation_id
    assert conversation_id is not None
    with Store.open(path) as check:
        loaded = check.load_conversation(conversation_id)
    assert [m.content for m in loaded.messages] == ["Saved?", comparison.replies[2].content]
    shown = loaded.messages[1]
    assert [m.content for m in loaded.alternates(shown)] == [r.content for r in comparison.replies]
    assert [m.served_endpoint for m in loaded.alternates(shown)] == ENDPOINTS
    assert loaded.spend.amount == pytest.approx(comparison.spend.amount)


async def test_on_a_plain_openai_compatible_server_model_names_compare(sim: Any) -> None:
    from tests.app.conftest import profiles_app
    from tui_chat.config import GatewayProfile

    profiles = {
        "local": GatewayProfile(
            "local", "openai-compatible", base_url=sim.openai_base_url, key_env=""
        )
    }
    app = profiles_app(profiles, first="local", model="llama-3.1-8b-chat")
    async with app.run_test(size=(120, 40)) as pilot:
        app.prompt.load_text("Hi")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareSetupScreen), what="setup")
        setup = app.screen
        await pilot.pause()
        fields = [setup.query_one(f"#compare-endpoint-{i}", Input) for i in range(4)]
        # no routing modes on such a server: the current model, then empty fields
        assert [field.value for field in fields] == ["llama-3.1-8b-chat", "", "", ""]
        fields[1].value = "claude-3.5-sonnet"
        await pilot.pause()
        assert str(setup.query_one("#compare-estimate-1").render()) == "\u2013"  # no prices
        setup.query_one("#compare-prompt", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        screen = app.screen
        await wait_until(pilot, lambda: all_ended(screen), what="all replies")
        assert [r.outcome for r in screen.comparison.replies] == [Outcome.COMPLETE] * 2
        assert sorted(r.body["model"] for r in sim.requests_for("openai")) == [
            "claude-3.5-sonnet",
            "llama-3.1-8b-chat",
        ]
        await pilot.press("1")
        await wait_until(pilot, lambda: not isinstance(app.screen, CompareScreen), what="back")
        assert len(app.conversation.messages) == 2
