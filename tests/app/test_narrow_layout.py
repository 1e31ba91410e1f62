"""The layout holds at 80x24: the status bar keeps balance, spend and provider in view."""

from __future__ import annotations

from typing import Any

from textual.widgets import Label

from tests.app.conftest import send, wait_for_reply


async def test_status_bar_fits_an_80_column_terminal(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await send(pilot, "What is the capital of Spain?")
        await wait_for_reply(pilot)
        await pilot.pause()
        shown = [label for label in app.status.query(Label) if label.display]
        texts = " ".join(str(label.render()) for label in shown)
        assert "Balance" in texts and "Chat" in texts and "via groq" in texts
        for label in shown:
            assert label.region.right <= 80, f"{label.id} is cut off at {label.region}"


async def test_wide_status_bar_names_the_whole_served_endpoint(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=(140, 30)) as pilot:
        await send(pilot, "What is the capital of Spain?")
        await wait_for_reply(pilot)
        await pilot.pause()
        texts = " ".join(str(label.render()) for label in app.status.query(Label))
        assert "via llama-3.1-8b-chat@groq" in texts
        assert "tok/s" in texts
