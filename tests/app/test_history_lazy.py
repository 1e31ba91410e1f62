"""ChatLog.load_history mounts a long conversation lazily, newest first, in order."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult

from tests.app.conftest import wait_until
from tui_chat.app import UnifyTUI
from tui_chat.core.conversation import Message, Outcome
from tui_chat.widgets.chat_log import HISTORY_PAGE, ChatLog
from tui_chat.widgets.messages import ModelMarker, ReplyView, UserTurn


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
        assert _user_texts(log) == [f"question {turn}" for turn in range(60)]
        assert len(log.query(ReplyView)) == 60
        # the model changed once half-way: exactly one marker, before "answer 30"
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
        # everything from it to the end is mounted, in order (pages above may follow it)
        start = texts.index("question 2")
        assert texts[start:] == [f"question {turn}" for turn in range(2, 100)]
        assert texts == sorted(texts, key=lambda text: int(text.split()[1]))
