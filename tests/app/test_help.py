"""The help screen: f1 (as a terminal sends it) or the palette opens it, it lists the app's own
keys from the bindings table (config.toml's where it set them), it fits small terminals, and
esc, q or f1 closes it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from tests.app.conftest import APP_SIZE, terminal_output, wait_until
from tests.app.test_terminal_keys import feed, keys
from tui_chat.bindings import KEY_BINDINGS, SCOPE_TITLES
from tui_chat.ui.screens.help import HelpScreen
from tui_chat.ui.terminal_keys import KeyParser

F1 = b"\x1bOP"  # what xterm, tmux and most terminals send for F1
ESC = b"\x1b"

_CURSOR_MOVE = re.compile(r"\x1b\[\d+;\d+H")
_OTHER_CODES = re.compile(r"\x1b\[[0-9;:?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def screen_lines(app: Any) -> list[str]:
    """The screen as plain text lines, as the terminal would show it."""
    text = _OTHER_CODES.sub("", _CURSOR_MOVE.sub("\n", terminal_output(app)))
    return [line.rstrip() for line in text.split("\n")]


def line_with(app: Any, text: str) -> str:
    found = [line for line in screen_lines(app) if text in line]
    assert found, f"{text!r} not on screen:\n" + "\n".join(screen_lines(app))
    return found[0]


def showing_help(app: Any) -> bool:
    return isinstance(app.screen, HelpScreen)


def test_terminals_f1_is_f1() -> None:
    assert keys(KeyParser(), F1) == ["f1"]
    assert keys(KeyParser(), b"\x1b[11~") == ["f1"]  # rxvt's F1


async def test_f1_from_the_terminal_opens_help_and_esc_closes_it(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        app.prompt.focus()
        await pilot.pause()
        feed(app, F1)
        await wait_until(pilot, lambda: showing_help(app), what="the help screen")
        await pilot.pause()
        row = line_with(app, "Stop the reply")
        assert re.search(r"\besc\b", row), row
        assert re.search(r"\bctrl\+q\b", line_with(app, "Quit unify-tui"))
        shown = " ".join(str(widget.render()) for widget in app.screen.query(Static))
        for title in SCOPE_TITLES.values():  # (the later ones below the fold: scrolled to)
            assert title in shown, title
        feed(app, ESC)
        await wait_until(pilot, lambda: not showing_help(app), what="help closed")
        assert app.focused is app.prompt  # back to typing
        feed(app, b"hi")
        await wait_until(pilot, lambda: app.prompt.text == "hi", what="typing")


async def test_help_lists_every_table_row_with_the_keys_config_set(make_app: Any) -> None:
    app = make_app(keymap={"stop": "f9", "conversations_delete": "ctrl+d,delete"})
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("f1")
        await wait_until(pilot, lambda: showing_help(app), what="the help screen")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        row = line_with(app, "Stop the reply")
        assert re.search(r"\bf9\b", row) and "esc" not in row, row
        body = screen.query_one("#help-body", VerticalScroll)
        # (further down than one screen holds: scrolled to)
        while "Delete the conversation" not in "\n".join(screen_lines(app)):
            assert body.scroll_y < body.max_scroll_y, "no 'Delete the conversation' row"
            body.scroll_down(animate=False)
            await pilot.pause()
        assert "ctrl+d, del" in line_with(app, "Delete the conversation")
        body.scroll_home(animate=False)
        await pilot.pause()
        for binding in KEY_BINDINGS:  # each row's sentence is there, scrolled to if need be
            shown = "\n".join(screen_lines(app))
            while binding.help not in shown and body.scroll_y < body.max_scroll_y:
                body.scroll_down(animate=False)
                await pilot.pause()
                shown = "\n".join(screen_lines(app))
            assert binding.help in shown, binding.id
        await pilot.press("q")
        await wait_until(pilot, lambda: not showing_help(app), what="q closes")
        await pilot.press("f1")
        await wait_until(pilot, lambda: showing_help(app), what="open again")
        await pilot.press("f1")
        await wait_until(pilot, lambda: not showing_help(app), what="f1 closes")


async def test_a_remapped_help_key_opens_and_closes_it(make_app: Any) -> None:
    app = make_app(keymap={"help": "f10"})
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("f10")
        await wait_until(pilot, lambda: showing_help(app), what="the help screen")
        assert re.search(r"\bf10\b", line_with(app, "List the keys and actions"))
        await pilot.press("f10")
        await wait_until(pilot, lambda: not showing_help(app), what="closed")


async def test_f1_opens_help_over_the_settings_screen(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SettingsScreen", what="f2")
        settings = app.screen
        feed(app, F1)
        await wait_until(pilot, lambda: showing_help(app), what="the help screen")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is settings, what="back to the settings")


async def test_the_palette_entry_opens_help(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: app.screen.id == "--command-palette", what="palette")
        await pilot.press(*"Help: keys")
        await wait_until(
            pilot,
            lambda: "Help: keys and actions" in "\n".join(screen_lines(app)),
            what="the entry listed",
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: showing_help(app), what="the help screen")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not showing_help(app), what="closed")


@pytest.mark.parametrize("size", [(80, 24), (50, 20)])
async def test_help_fits_and_scrolls_in_a_small_terminal(
    make_app: Any, size: tuple[int, int]
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("f1")
        await wait_until(pilot, lambda: showing_help(app), what="the help screen")
        await pilot.pause()
        screen = app.screen
        panel = screen.query_one("#help-panel").region
        assert panel.x >= 0 and panel.y >= 0
        assert panel.right <= size[0] and panel.bottom <= size[1]
        for label_id in ("#help-title", "#help-hint"):  # the title and how to close stay in view
            region = screen.query_one(label_id, Label).region
            assert region.height == 1 and panel.contains_region(region), label_id
        lines = screen_lines(app)
        assert len(lines) >= size[1] and all(len(line) <= size[0] for line in lines)
        body = screen.query_one("#help-body", VerticalScroll)
        assert body.max_scroll_y > 0 and app.focused is body
        await pilot.press("end")
        await wait_until(pilot, lambda: body.scroll_y == body.max_scroll_y, what="scrolled")
        line_with(app, "command palette")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not showing_help(app), what="closed")
