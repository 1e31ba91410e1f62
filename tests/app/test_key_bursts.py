"""Keys typed in one burst take effect in the order they were typed (tui_chat/ui/ordered_keys.py).

Found at a real terminal: keys bound by the focused widget (backspace, enter in an input, the
arrows) ran after the printable keys typed behind them. In the command palette, "claude", six
backspaces and "sonnet" left "switch model"; in the endpoint field "gpt-4o@opx", a backspace,
"enai" and Enter switched to "gpt-4o@opxena"; in the prompt "hello", two backspaces and "p!"
left "hello". The bytes go through Textual's own parser, as a terminal sends them.
"""

from __future__ import annotations

from typing import Any

from textual.command import CommandPalette
from textual.widgets import Input

from tests.app.conftest import APP_SIZE, wait_until
from tests.app.test_terminal_keys import feed

BACKSPACE = b"\x7f"
LEFT = b"\x1b[D"


async def settled(pilot: Any) -> None:
    for _ in range(10):
        await pilot.pause(0.02)


async def test_backspaces_and_text_in_the_prompt_apply_in_order(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        app.prompt.focus()
        await pilot.pause()
        feed(app, b"hello" + BACKSPACE * 2 + b"p!")
        await wait_until(pilot, lambda: app.prompt.text == "help!", what="help!")
        feed(app, LEFT * 2 + b"X" + b"\x1b[H" + b">")  # two lefts, X, home, >
        await wait_until(pilot, lambda: app.prompt.text == ">helXp!", what=">helXp!")
        await settled(pilot)
        assert app.prompt.text == ">helXp!"
        assert app.conversation.messages == []


async def test_enter_in_a_burst_still_sends_and_keeps_what_follows(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        app.prompt.focus()
        await pilot.pause()
        feed(app, b"hix" + BACKSPACE + b"\rnext")
        await wait_until(pilot, lambda: bool(app.conversation.messages), what="the send")
        assert app.conversation.messages[0].content == "hi"
        await wait_until(pilot, lambda: app.prompt.text == "next", what="the rest kept")


async def test_the_endpoint_field_submits_what_was_typed_before_enter(
    make_app: Any, sim: Any
) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.selector.built, what="the panel")
        field = app.selector.query_one("#endpoint-input", Input)
        field.focus()
        field.value = ""
        await pilot.pause()
        feed(app, b"gpt-4o@opx" + BACKSPACE + b"enai\r")
        await wait_until(pilot, lambda: app.endpoint == "gpt-4o@openai", what="the switch")
        await settled(pilot)
        assert app.endpoint == "gpt-4o@openai"


async def test_backspaces_then_text_in_the_command_palette(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: len(app.known_models) > 300, what="the model list")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        field = app.screen.query_one(Input)
        feed(app, b"switch model claude")
        await wait_until(pilot, lambda: field.value == "switch model claude", what="typed")
        feed(app, BACKSPACE * 6 + b"sonnet")
        await wait_until(pilot, lambda: field.value == "switch model sonnet", what="sonnet")
        await settled(pilot)
        assert field.value == "switch model sonnet"
