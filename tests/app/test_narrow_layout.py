"""The layout holds at 80x24: the status bar keeps balance, spend and provider in view."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len

from tests.app.conftest import send, wait_for_reply, wait_until
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
