"""A long session's older turns fold away like a stored conversation's (ChatLog.page_live_turns).

Found by benchmarks/bench_session_memory.py: every reply of a session kept its widgets mounted
(and their rendered rows, painted lines), so memory grew with each reply for as long as the app
ran. After each reply the turns older than the newest LIVE_KEPT messages become pages; far
from the view they are folded and rebuilt from the messages when scrolled back to.
"""

from __future__ import annotations

from typing import Any

from tests.app.conftest import send, wait_for_reply, wait_until
from tui_chat.ui.widgets.chat_log import HISTORY_PAGE, LIVE_KEPT, FoldedTurns
from tui_chat.ui.widgets.messages import ReplyView, UserTurn

TURNS = 20


async def chat(pilot: Any, turns: int) -> None:
    for number in range(turns):
        await send(pilot, f"question {number}")
        await wait_for_reply(pilot, count=number + 1)


def shown_user_texts(app: Any) -> list[str]:
    return [turn.text for turn in app.chat_log.query(UserTurn)]


async def test_older_turns_of_a_session_become_pages_and_fold_away(make_app: Any, sim: Any) -> None:
    sim.controls.reply_tokens = 120
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await chat(pilot, TURNS)
        log = app.chat_log
        messages = app.conversation.messages
        assert len(messages) == 2 * TURNS
        paged = sum(len(page.messages) for page in log._pages)
        # Every full run of HISTORY_PAGE messages but the newest LIVE_KEPT is a page.
        assert paged == (len(messages) - LIVE_KEPT) // HISTORY_PAGE * HISTORY_PAGE
        assert [m for page in log._pages for m in page.messages] == messages[:paged]
        # Following the newest reply, the far pages fold: their widgets are gone.
        await wait_until(pilot, lambda: log.folded_count > 0, what="pages folded")
        assert any(isinstance(child, FoldedTurns) for child in log.children)
        mounted = len(log.query(ReplyView))
        assert mounted < TURNS
        # The newest turns are still shown as they came.
        assert shown_user_texts(app)[-LIVE_KEPT // 2 :] == [
            f"question {n}" for n in range(TURNS - LIVE_KEPT // 2, TURNS)
        ]


async def test_a_folded_page_of_the_session_comes_back_when_scrolled_to(
    make_app: Any, sim: Any
) -> None:
    sim.controls.reply_tokens = 120
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await chat(pilot, TURNS)
        log = app.chat_log
        await wait_until(pilot, lambda: log.folded_count > 0, what="pages folded")
        assert "question 0" not in shown_user_texts(app)
        log.focus()
        await pilot.press("home")
        await wait_until(pilot, lambda: "question 0" in shown_user_texts(app), what="the top")
        first_reply = app.conversation.messages[1]
        views = [view for view in log.query(ReplyView) if view.message is first_reply]
        assert views, "the first reply is shown again, from its message"
        texts = shown_user_texts(app)
        start = texts.index("question 0")
        assert texts[start : start + 3] == ["question 0", "question 1", "question 2"]
        await pilot.press("end")
        await wait_until(
            pilot,
            lambda: "question 0" not in shown_user_texts(app) and log.folded_count > 0,
            what="folded again at the end",
        )
        # and the conversation goes on as before
        await send(pilot, "one more")
        await wait_for_reply(pilot, count=TURNS + 1)
        assert shown_user_texts(app)[-1] == "one more"
