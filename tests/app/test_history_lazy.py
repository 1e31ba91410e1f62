"""ChatLog.load_history mounts a long conversation lazily, newest first, in order, and folds
pages far from the view back into placeholders of the same height."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult

from tests.app.conftest import wait_until
from tui_chat.app import UnifyTUI
from tui_chat.core.conversation import Message, Outcome
from tui_chat.widgets.chat_log import HISTORY_PAGE, ChatLog, FoldedTurns
from tui_chat.widgets.messages import ModelMarker, UserTurn


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
    CSS_PATH = UnifyTUI.CSS_PATH

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
    for _ in range(400):
        if not log.older_count and log.scroll_y < 1:
            break
        log.scroll_home(animate=False)
        await pilot.pause(0.02)
    await wait_until(pilot, lambda: log.older_count == 0, what="all turns mounted")

    def at_top() -> bool:
        if log.scroll_y >= 1 or _user_texts(log)[:1] != ["question 0"]:
            log.scroll_home(animate=False)  # the view was kept still as the last page came
            return False
        return True

    for _ in range(20):
        await wait_until(pilot, at_top, what="the first turn at the top")
        await pilot.pause(0.1)
        if at_top():
            break


async def test_long_history_mounts_only_the_newest_page() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        messages = _conversation(200)
        log.load_history(messages)
        await pilot.pause()
        assert len(log.children) <= HISTORY_PAGE
        assert log.older_count == len(messages) - HISTORY_PAGE
        assert _user_texts(log)[-1] == "question 199"


async def test_scrolling_up_mounts_every_older_turn_in_order() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        messages = _conversation(60)
        log.load_history(messages)
        await pilot.pause()
        for _ in range(60):
            if not log.older_count:
                break
            log.scroll_home(animate=False)
            await pilot.pause(0.05)
        await wait_until(pilot, lambda: log.older_count == 0, what="all turns mounted")
        await pilot.pause()
        # pages far below may be folded by now; those mounted are in order from the first
        texts = _user_texts(log)
        assert texts == [f"question {turn}" for turn in range(len(texts))]
        log.scroll_end(animate=False)
        await wait_until(pilot, lambda: _user_texts(log)[-1] == "question 59", what="the end")
        await pilot.pause()
        # those mounted are in order up to the last (pages far from the view may be folded)
        numbers = [int(text.split()[1]) for text in _user_texts(log)]
        assert numbers == sorted(set(numbers)) and numbers[-1] == 59
        # the model changed once half-way: exactly one marker, by turn 30. Pages far from the
        # view (the end is in view now) may be folded, so bring turn 30 back into view first.
        assert log.reveal(messages[60])
        await pilot.pause()
        markers = list(log.query(ModelMarker))
        assert [marker.endpoint for marker in markers] == ["c@d"]


async def test_reveal_mounts_an_old_message_first() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        messages = _conversation(100)
        log.load_history(messages)
        await pilot.pause()
        assert log.reveal(messages[4])  # "question 2", far above the first page
        await pilot.pause()
        shown: Any = log._message_widgets[id(messages[4])]
        assert shown.is_mounted and shown.has_class("-search-hit")
        texts = _user_texts(log)
        # from it on, a contiguous run in order; the newest pages, far below the view now, may
        # already be folded away (FOLD_SCREENS), so the run may stop before the end
        start = texts.index("question 2")
        run = texts[start:]
        assert run == [f"question {turn}" for turn in range(2, 2 + len(run))]
        assert len(run) > 10
        assert texts == sorted(texts, key=lambda text: int(text.split()[1]))


async def test_pages_far_from_the_view_fold_and_come_back_in_place() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        messages = _conversation(200)
        log.load_history(messages)
        await pilot.pause()
        await _scroll_to_top(pilot, log)
        # at the top, the pages far below are folded: far fewer widgets than turns (folding
        # goes on page by page, so under load it may take a few more frames)
        await wait_until(
            pilot,
            lambda: len(log.query(FoldedTurns)) >= 5 and len(log.children) < 200,
            what="far pages folded",
        )
        await pilot.pause()
        turn, _ = _first_visible(log)
        assert turn.text == "question 0" and log.scroll_y == 0
        # folding changed nothing on screen: same height, same scroll range
        height = log.virtual_size.height
        # back to the end: the pages there are mounted again, the last turn shows
        log.scroll_end(animate=False)
        await wait_until(
            pilot,
            lambda: (
                _user_texts(log)[-1:] == ["question 199"] and log.scroll_y >= log.max_scroll_y - 1
            ),
            what="the newest turns back at the end",
        )
        assert log.virtual_size.height == height
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
