"""The chat scrolls from the prompt, while a reply streams too: page up and page down as a
terminal sends them (ESC [ 5 ~, ESC [ 6 ~), ctrl+home and ctrl+end. Regression: the README's
scroll-back did not work from the keyboard while a reply streamed (shift+tab landed on Pause)."""

from __future__ import annotations

from typing import Any

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tests.app.test_terminal_keys import feed, keys
from tui_chat.ui.terminal_keys import KeyParser

PAGE_UP = b"\x1b[5~"
PAGE_DOWN = b"\x1b[6~"


def test_the_terminals_page_keys_are_page_keys() -> None:
    assert keys(KeyParser(), PAGE_UP + PAGE_DOWN) == ["pageup", "pagedown"]


async def test_page_up_from_the_prompt_scrolls_the_chat_while_a_reply_streams(
    make_app: Any, sim: Any
) -> None:
    sim.controls.reply_tokens = 200
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        for turn in range(4):  # more conversation than one screen
            await send(pilot, f"question {turn}")
            await wait_for_reply(pilot, turn + 1)
        log = app.chat_log
        await wait_until(pilot, lambda: log.max_scroll_y > log.size.height, what="a long log")
        sim.controls.token_delay_s = 0.02  # a reply streaming for a few seconds
        await send(pilot, "one more")
        await wait_until(pilot, lambda: app.streaming, what="streaming")
        assert app.focused is app.prompt
        app.prompt.load_text("half a thought")
        bottom = log.scroll_y
        feed(app, PAGE_UP)
        await wait_until(pilot, lambda: log.scroll_y < bottom - 5, what="scrolled up a page")
        assert not log.following
        up = log.scroll_y
        await pilot.pause(0.3)  # new text keeps coming: the view stays where the user put it
        assert app.streaming and abs(log.scroll_y - up) < 1
        assert app.prompt.text == "half a thought" and app.focused is app.prompt
        feed(app, PAGE_DOWN)
        await wait_until(pilot, lambda: log.scroll_y > up, what="scrolled down")
        await pilot.press("ctrl+home")
        await wait_until(pilot, lambda: log.scroll_y < 1, what="the first message")
        await pilot.press("ctrl+end")
        await wait_until(pilot, lambda: log.following, what="following again")
