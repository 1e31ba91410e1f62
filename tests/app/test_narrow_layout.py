"""The layout holds at 80x24: the status bar keeps balance, spend and provider in view; and
narrower, with the panel shown, the app keeps running (the prompt squeezed to no width)."""

from __future__ import annotations

from typing import Any

import pytest
from rich.cells import cell_len

from tests.app.conftest import send, wait_for_reply, wait_until
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.widgets.prompt_stand_in import PromptStandIn
from tui_chat.ui.widgets.status_bar import PARTS, StatusBar


def shown_parts(status: StatusBar) -> list[str]:
    return [status.part(name) for name in PARTS if status.part(name)]


def assert_nothing_cut_off(status: StatusBar, columns: int) -> None:
    """The bar spans the terminal and its whole line fits inside it (padding excluded)."""
    assert status.region.right <= columns
    assert cell_len(status.text) <= status.size.width, f"cut off: {status.text!r}"


async def test_status_bar_fits_an_80_column_terminal(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await send(pilot, "What is the capital of Spain?")
        await wait_for_reply(pilot)
        await pilot.pause()
        texts = " ".join(shown_parts(app.status))
        assert "Balance" in texts and "Chat" in texts and "via groq" in texts
        assert_nothing_cut_off(app.status, 80)


async def test_wide_status_bar_names_the_whole_served_endpoint(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=(140, 30)) as pilot:
        await send(pilot, "What is the capital of Spain?")
        await wait_for_reply(pilot)
        await pilot.pause()
        texts = " ".join(shown_parts(app.status))
        assert "via llama-3.1-8b-chat@groq" in texts
        assert "tok/s" in texts


async def test_paused_note_still_fits_at_120_columns(make_app: Any, sim: Any) -> None:
    from tui_chat.gateway_sim.faults import Fault, FaultKind

    sim.inject(Fault(FaultKind.STALL, after_tokens=20, seconds=None))
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await send(pilot, "Write a long markdown answer with code")
        await wait_until(pilot, lambda: len(app.conversation.messages[-1].content) > 20)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.paused, what="paused")
        await pilot.pause()
        texts = " ".join(shown_parts(app.status))
        assert "PAUSED" in texts and "via groq" in texts
        assert_nothing_cut_off(app.status, 120)
        await pilot.press("escape")


async def test_narrow_terminal_with_the_panel_shown_does_not_crash(make_app: Any, sim: Any) -> None:
    """Regression: at <= 46 columns with the panel shown the prompt had no width left, and
    TextArea's placeholder wrap raised ``ValueError: range() arg 3 must not be zero``."""
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.selector.built, what="the panel")
        assert app.selector.display  # shown by default on a wide terminal
        for columns in range(60, 29, -1):  # the placeholder showing
            await pilot.resize_terminal(columns, 20)
            await pilot.pause()
        app.prompt.load_text("some text\nand more")
        for columns in range(30, 61):  # text in the prompt
            await pilot.resize_terminal(columns, 20)
            await pilot.pause()
        app.prompt.load_text("")
        await pilot.pause()
        assert app.is_running and app.return_code is None


async def test_ctrl_b_on_a_narrow_terminal_does_not_crash(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=(40, 20)) as pilot:
        await wait_until(pilot, lambda: app.selector.built, what="the panel")
        await pilot.press("ctrl+b")  # the panel shown
        await pilot.pause()
        for columns in (46, 35, 30):
            await pilot.resize_terminal(columns, 20)
            await pilot.pause()
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert app.is_running and app.return_code is None


async def test_the_prompt_draws_at_no_width() -> None:
    """The prompt squeezed to no columns, as a shown panel leaves it on a narrow terminal."""
    from textual.app import App, ComposeResult
    from textual.containers import Horizontal
    from textual.widgets import Static

    from tui_chat.ui.widgets.prompt_input import PromptInput

    class Squeezed(App[None]):
        CSS = "#wide { width: 40; } PromptInput { width: 1fr; }"

        def compose(self) -> ComposeResult:
            with Horizontal():
                yield Static("panel", id="wide")
                yield PromptInput(id="prompt")

    app = Squeezed()
    async with app.run_test(size=(40, 10)) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.pause()
        assert prompt.content_size.width == 0 and not prompt.text  # the placeholder's turn
        assert [prompt.render_line(y).cell_length for y in range(2)] == [0, 0]
        prompt.load_text("text")
        await pilot.pause()
        await pilot.resize_terminal(60, 10)
        await pilot.pause()
        assert prompt.content_size.width > 0 and prompt.render_line(0).cell_length > 0
    assert app.return_code is None


async def test_the_first_frames_stand_in_draws_at_no_width(
    make_app: Any, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same squeeze before the real prompt is built: the stand-in, hint or typed text."""
    monkeypatch.setattr(UnifyTUI, "on_ready", lambda self, event: None)  # the stand-in stays
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await app.selector.build()
        stand_in = app.query_one(PromptStandIn)
        for columns in (46, 40, 30):
            await pilot.resize_terminal(columns, 20)
            await pilot.pause()
        await pilot.press(*"hi", "ctrl+j", *"there")
        await pilot.pause()
        assert stand_in.typed == "hi\nthere"
        assert app.is_running and app.return_code is None


async def test_the_panel_gives_way_to_a_narrow_chat_and_comes_back(make_app: Any, sim: Any) -> None:
    # Regression: on resize the panel kept its 42 columns, leaving a 16-column chat at 60x20.
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.selector.built, what="the panel")
        assert app.selector.display and app.selector.outer_size.width == 42
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        assert not app.selector.display
        assert app.chat_log.size.width > 50
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        assert app.selector.display  # room again: back, as the user left it
        await pilot.press("ctrl+b")  # hidden by the user: a resize does not bring it back
        await pilot.pause()
        await pilot.resize_terminal(130, 30)
        await pilot.pause()
        assert not app.selector.display
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.press("ctrl+b")  # asked for on a narrow terminal: shown, narrower
        await pilot.pause()
        assert app.selector.display and app.selector.outer_size.width == 30
