"""ChatLog.load_history mounts a long conversation lazily, newest first, in order, and folds
pages far from the view back into placeholders of the same height."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult

import tui_chat.ui.app
from tests.app.conftest import wait_until
from tui_chat.core.conversation import Message, Outcome
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.widgets.chat_log import HISTORY_PAGE, ChatLog, FoldedTurns
from tui_chat.ui.widgets.messages import ModelMarker, UserTurn


def _conversation(turns: int) -> list[Message]:
    messages: list[Message] = []
    for turn in range(turns):
        endpoint = "a@b" if turn < turns // 2 else "c@d"
        messages.append(Message(role="user", content=f"question {turn}"))
        messages.append(
            Message(
                role="assistant",
                content=f"answer {turn}\n\n```python\nprint({turn})\n```",
                requested_endpoint=endpoint,
                served_endpoint=endpoint,
                outcome=Outcome.COMPLETE,
            )
        )
    return messages


class LogApp(App[None]):
    # The app's stylesheets, which UnifyTUI names relative to its own module.
    CSS_PATH = [Path(tui_chat.ui.app.__file__).parent / path for path in UnifyTUI.CSS_PATH]

    def compose(self) -> ComposeResult:
        yield ChatLog()


def _user_texts(log: ChatLog) -> list[str]:
    return [child.text for child in log.children if isinstance(child, UserTurn)]


def _first_visible(log: ChatLog) -> tuple[Any, int]:
    """The first widget in view and its row on screen."""
    for child in log.children:
        if child.virtual_region.bottom > log.scroll_y:
            return child, child.virtual_region.y - round(log.scroll_y)
    raise AssertionError("nothing in view")


async def _scroll_to_top(pilot: Any, log: ChatLog) -> None:
    """Home, as the user presses it: the first turn at the top of the view."""
    log.focus()
    await pilot.press("home")

    def at_top() -> bool:
        return log.scroll_y < 1 and _user_texts(log)[:1] == ["question 0"]

    await wait_until(pilot, at_top, what="the first turn at the top")
    await pilot.pause(0.1)
    assert at_top(), "the view stays on the first turn once its page is mounted"


async def _press_end(pilot: Any, log: ChatLog, last: str) -> None:
    """End, as the user presses it: the newest turn `last` at the end of the view."""
    await pilot.press("end")
    await wait_until(
        pilot,
        lambda: _user_texts(log)[-1:] == [last] and log.scroll_y >= log.max_scroll_y - 1,
        what=f"{last} at the end",
    )


async def test_long_history_mounts_only_the_newest_page() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        messages = _conversation(200)
        log.load_history(messages)
        await pilot.pause()
        # widgets for the newest page only (and, once the view settled at the end, the pages
        # above it within reach), one placeholder for all the older pages
        assert len(log.query(FoldedTurns)) == 1
        assert len(log.children) <= 1 + 4 * HISTORY_PAGE
        assert log.folded_count >= len(messages) - 4 * HISTORY_PAGE
        assert _user_texts(log)[-1] == "question 199"
        assert log.following and log.scroll_y == log.max_scroll_y
        # the scroll range already covers the whole conversation (estimated): ~200 turns of
        # 8+ rows each, not the 24 messages mounted
        assert log.virtual_size.height > 200 * 8


async def test_scrolling_up_shows_every_older_turn_in_order() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        messages = _conversation(60)
        log.load_history(messages)
        await pilot.pause()
        seen: list[str] = []
        for _ in range(400):
            in_view = [
                child.text
                for child in log.children
                if isinstance(child, UserTurn)
                and log.scroll_y <= child.virtual_region.y < log.scroll_y + log.size.height
            ]
            seen.extend(text for text in reversed(in_view) if text not in seen)
            if log.scroll_y < 1 and "question 0" in seen:
                break
            log.scroll_to(y=max(0, log.scroll_y - 5), animate=False)
            await pilot.pause(0.02)
        # every turn came into view on the way up, newest first: none skipped, none twice
        assert seen == [f"question {turn}" for turn in reversed(range(60))]
        await _press_end(pilot, log, "question 59")
        assert log.following
        # the model changed once half-way: exactly one marker, by turn 30. Pages far from the
        # view (the end is in view now) may be folded, so bring turn 30 back into view first.
        assert log.reveal(messages[60])
        await pilot.pause()
        markers = list(log.query(ModelMarker))
        assert [marker.endpoint for marker in markers] == ["c@d"]


# End right after Home used to time out now and then: the pages near the top, settling after
# End, stopped the following (test_pages_above_settling_while_following_keep_the_log_following).
# Fixed; it stays in the serial pass, where its waits are not stretched by other workers.
@pytest.mark.serial
async def test_home_shows_the_first_turn_in_one_press_and_end_returns() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        log.load_history(_conversation(300))
        await pilot.pause()
        await _scroll_to_top(pilot, log)  # one Home press
        assert not log.following
        turn, row = _first_visible(log)
        assert turn.text == "question 0" and row <= 1
        await _press_end(pilot, log, "question 299")
        assert log.following  # new text scrolls into view again


async def test_pages_above_settling_while_following_keep_the_log_following() -> None:
    # Home mounts the pages near the top one per frame; End before they are all in place used
    # to stop the following (1 run in ~10): their height correction moved the view with
    # Textual's scroll_to(immediate=True), which releases the anchor whatever it is told.
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        log.load_history(_conversation(300))
        await pilot.pause()
        assert log.following
        # Folded pages wholly above the view, estimated 5 rows short each: once mounted they
        # come out taller, as far-off estimates do.
        pages = [page for page in log._pages if page.placeholder is not None][:3]
        assert len(pages) == 3
        for page in pages:
            page.rows -= 5
            assert page.placeholder is not None
            page.placeholder.update_height()
        await pilot.pause()
        log._unfold(pages)
        await wait_until(
            pilot, lambda: not log._settling and not log._swaps, what="the pages laid out"
        )
        await pilot.pause()
        assert log.following
        assert log.scroll_y == log.max_scroll_y
        # and new text still scrolls into view
        log.add_user("question 300")
        await wait_until(
            pilot,
            lambda: _user_texts(log)[-1:] == ["question 300"] and log.scroll_y == log.max_scroll_y,
            what="the new turn at the end",
        )


async def test_scrolling_up_into_estimated_pages_keeps_the_view_still() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        log.load_history(_conversation(200))
        await pilot.pause(0.2)
        shown_pages: set[int] = set()
        for _ in range(60):  # up a few rows at a time: the pages above are mounted on the way
            log.scroll_to(y=log.scroll_y - 7, animate=False, immediate=True)
            before = _first_visible(log)  # what the user sees, before any page is mounted
            await pilot.pause()
            await wait_until(
                pilot,
                lambda: not log._settling and not log._unfold_pending,
                what="the pages mounted above laid out",
            )
            await pilot.pause()
            assert _first_visible(log) == before
            shown_pages.update(id(page) for page in log._pages if page.widgets)
        assert len(shown_pages) >= 4, "pages above were mounted on the way"


async def test_placeholders_are_estimated_again_for_a_new_width() -> None:
    app = LogApp()
    async with app.run_test(size=(120, 30)) as pilot:
        log = app.query_one(ChatLog)
        messages = _conversation(200)
        for message in messages:
            message.content += " " + "words that wrap " * 8
        log.load_history(messages)
        await pilot.pause()
        wide = log.virtual_size.height
        await pilot.resize_terminal(50, 30)
        await pilot.pause(0.2)
        # narrower: the same text wraps onto more rows, in the placeholders' estimates too
        placeholders = list(log.query(FoldedTurns))
        assert placeholders
        assert all(
            page.rows_width == log._view_size().width
            for page in log._pages
            if page.placeholder is not None
        )
        assert log.virtual_size.height > wide


async def test_reveal_mounts_an_old_message_first() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        messages = _conversation(100)
        log.load_history(messages)
        await pilot.pause()
        assert log.reveal(messages[4])  # "question 2", on the oldest page, never mounted
        await pilot.pause()
        await pilot.pause()
        shown: Any = log._message_widgets[id(messages[4])]
        assert shown.is_mounted and shown.has_class("-search-hit")
        region = shown.virtual_region
        assert log.scroll_y <= region.y < log.scroll_y + log.size.height
        # its page is mounted whole, in order; the turns mounted are in order everywhere
        texts = _user_texts(log)
        start = texts.index("question 2")
        assert texts[start - 2 : start + 4] == [f"question {turn}" for turn in range(6)]
        assert texts == sorted(texts, key=lambda text: int(text.split()[1]))


async def test_pages_far_from_the_view_fold_and_come_back_in_place() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        messages = _conversation(200)
        log.load_history(messages)
        await pilot.pause()
        await wait_until(  # the pages near the end shown, then folded once the view is away
            pilot, lambda: log._pages[-2].widgets and not log._settling, what="shown"
        )
        await _scroll_to_top(pilot, log)
        # at the top, the pages far below are folded: far fewer widgets than turns (folding
        # goes on page by page, so under load it may take a few more frames)
        await wait_until(
            pilot,
            lambda: log._pages[-2].placeholder is not None and len(log.children) < 100,
            what="far pages folded",
        )
        await pilot.pause()
        turn, _ = _first_visible(log)
        assert turn.text == "question 0" and log.scroll_y == 0
        # the pages folded after they were shown kept their height to the row
        measured = {id(page): page.rows for page in log._pages if page.rows_measured}
        assert measured
        # back to the end: the pages there are mounted again, the last turn shows
        await _press_end(pilot, log, "question 199")
        await wait_until(
            pilot, lambda: not log._settling and not log._unfold_pending, what="pages near"
        )
        await pilot.pause()
        regions = log._child_regions()
        shown_again = [
            (measured[id(page)], page.widgets)
            for page in log._pages
            if id(page) in measured and page.widgets
        ]
        assert shown_again
        for rows, widgets in shown_again:
            first, last = regions[widgets[0]], regions[widgets[-1]]
            assert last.bottom - first.y + widgets[0].styles.margin.top == rows
        # top pages fold in turn; scrolling half-way keeps the turn in view where it was
        await wait_until(pilot, lambda: "question 0" not in _user_texts(log), what="top folded")
        log.scroll_to(y=log.max_scroll_y // 2, animate=False)
        await pilot.pause()
        await wait_until(
            pilot, lambda: not isinstance(_first_visible(log)[0], FoldedTurns), what="in view"
        )
        await pilot.pause()
        before = _first_visible(log)
        await pilot.pause(0.7)  # the fold timer runs (half a second after a scroll)
        assert _first_visible(log) == before


async def test_reveal_unfolds_a_folded_page() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        messages = _conversation(150)
        log.load_history(messages)
        await pilot.pause()
        await _scroll_to_top(pilot, log)
        target = messages[-20]  # "question 140": on a page folded while at the top
        await wait_until(
            pilot, lambda: id(target) not in log._message_widgets, what="its page folded"
        )
        assert log.reveal(target)
        await pilot.pause()
        await pilot.pause()
        shown: Any = log._message_widgets[id(target)]
        assert shown.is_mounted and shown.has_class("-search-hit")
        assert shown.text == "question 140"
        region = shown.virtual_region
        assert log.scroll_y <= region.y < log.scroll_y + log.size.height


async def test_no_frame_shows_the_view_shifted_while_pages_above_are_mounted() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        messages = _conversation(200)
        for turn, message in enumerate(messages):  # text whose estimate is off by a few rows
            if message.role == "assistant":
                message.content += "\n\n" + "| a | b |\n|---|---|\n| 1 | 2 |\n" * (turn % 3)
                message.content += "\n\n" + "- item " * (turn % 17) * 3
        log.load_history(messages)
        await wait_until(pilot, lambda: not log._settling, what="the newest pages shown")
        shifted: list[int] = []
        expected: dict[str, Any] = {}
        display = app._display

        def check_frame(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            now, before = _first_visible(log), expected.get("view")
            if before is not None and now[0] is before[0] and now[1] != before[1]:
                shifted.append(now[1] - before[1])
            expected["view"] = now

        app._display = check_frame  # type: ignore[method-assign]
        for _ in range(150):  # up 3 rows at a time, as a wheel does
            log.scroll_to(y=max(0, log.scroll_y - 3), animate=False, immediate=True)
            expected["view"] = _first_visible(log)  # what this step should show, every frame
            await pilot.pause(0.02)
        assert len({id(page) for page in log._pages if page.widgets}) >= 3
        assert shifted == [], "a frame showed the turns in view moved by a page mounted above"
