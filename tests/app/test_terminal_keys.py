"""Keys as a terminal sends them: the bytes through Textual's own parser, then into the app.

A Pilot key name ("alt+enter") says what the app does with a key Textual has already named;
it cannot tell whether a real terminal's bytes ever get that name. These tests start from the
bytes: terminals and tmux send alt+enter as ESC CR, which Textual 8.2 names plain "enter".
"""

from __future__ import annotations

from typing import Any

import pytest
from textual import events
from textual._xterm_parser import XTermParser

from tests.app.conftest import APP_SIZE, wait_until
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.terminal_keys import KeyParser
from tui_chat.ui.widgets.prompt_stand_in import PromptStandIn


def parse(parser: XTermParser, data: bytes) -> list[events.Key]:
    """The key events a parser makes of ``data`` read in one go, then the end of input."""
    found = [*parser.feed(data.decode()), *parser.feed("")]
    return [event for event in found if isinstance(event, events.Key)]


def keys(parser: XTermParser, data: bytes) -> list[str]:
    return [event.key for event in parse(parser, data)]


def test_textual_alone_names_esc_cr_plain_enter() -> None:
    """Why KeyParser exists. If this fails, Textual tells alt+enter apart itself, and
    tui_chat/ui/terminal_keys.py (with its row in CONTRIBUTING.md) can go."""
    (event,) = parse(XTermParser(), b"\x1b\r")
    assert (event.key, event.character) == ("enter", "\r")
    (plain,) = parse(XTermParser(), b"\r")
    assert (plain.key, plain.character) == (event.key, event.character)  # nothing tells them apart


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x1b\r", ["alt+enter"]),  # xterm, tmux, most terminals
        (b"\x1b\n", ["alt+enter"]),  # a few send ESC LF
        (b"\x1b[13;3u", ["alt+enter"]),  # the kitty keyboard protocol: Textual's own name
        (b"\r", ["enter"]),  # a lone CR still sends
        (b"\n", ["ctrl+j"]),
        (b"\x1b", ["escape"]),
        (b"\x1ba", ["alt+a"]),
        (b"\x1b[A", ["up"]),
        # typed in one burst: each key where it was (Textual alone gave "a", "^", "enter", "b")
        (b"a\x1b\rb\r", ["a", "alt+enter", "b", "enter"]),
        (b"one\x1b\ntwo", ["o", "n", "e", "alt+enter", "t", "w", "o"]),
    ],
)
def test_key_parser_names_alt_enter_and_nothing_else_changes(
    data: bytes, expected: list[str]
) -> None:
    assert keys(KeyParser(), data) == expected


def test_alt_enter_from_the_parser_is_not_printable() -> None:
    (event,) = parse(KeyParser(), b"\x1b\r")
    assert event.character is None and not event.is_printable


def test_the_app_reads_a_real_terminal_with_the_key_parser() -> None:
    from textual.drivers import linux_driver

    app = UnifyTUI(gateway=None, account=None)
    assert issubclass(app.driver_class, linux_driver.LinuxDriver)
    # The driver's input thread makes its parser from this name when it starts.
    assert linux_driver.XTermParser is KeyParser


def feed(app: UnifyTUI, data: bytes) -> None:
    """Hand the app what the terminal driver would for ``data``: parsed, then processed."""
    driver = app._driver
    assert driver is not None
    for event in parse(KeyParser(), data):
        driver.process_message(event)


async def test_esc_cr_adds_a_line_in_the_prompt_and_cr_sends(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        prompt = app.prompt
        prompt.focus()
        await pilot.pause()
        feed(app, b"first\x1b\rsecond\x1b\nthird")
        await wait_until(pilot, lambda: prompt.text == "first\nsecond\nthird", what="3 lines")
        assert app.conversation.messages == []  # not sent
        feed(app, b"\r")
        await wait_until(pilot, lambda: bool(app.conversation.messages), what="the send")
        assert app.conversation.messages[0].content == "first\nsecond\nthird"


async def test_esc_cr_adds_a_line_in_the_stand_in(
    make_app: Any, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keys typed before the prompt is built land on the first frame's stand-in.
    monkeypatch.setattr(UnifyTUI, "on_ready", lambda self, event: None)
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        stand_in = app.query_one(PromptStandIn)
        feed(app, b"hi\x1b\rthere")
        await wait_until(pilot, lambda: stand_in.typed == "hi\nthere", what="the typed text")
        assert not stand_in.submit
        feed(app, b"\r")
        await wait_until(pilot, lambda: stand_in.submit, what="Enter")
        app.prompt  # noqa: B018 (first use builds it, in the stand-in's place, and sends)
        await wait_until(pilot, lambda: bool(app.conversation.messages), what="the send")
        assert app.conversation.messages[0].content == "hi\nthere"


async def test_text_typed_right_after_enter_in_one_write_is_kept(make_app: Any, sim: Any) -> None:
    # Regression: keys typed in the same burst after Enter (fast typing, a paste with a newline)
    # reached the box before the message was sent, and sending cleared the box: they were lost.
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        app.prompt.focus()
        await pilot.pause()
        feed(app, b"first message\rsecond thought")
        await wait_until(pilot, lambda: app.conversation.messages, what="the first sent")
        await pilot.pause()
        assert app.conversation.messages[0].content == "first message"
        assert app.prompt.text == "second thought"
