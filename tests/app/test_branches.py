"""Regenerate, flip between alternates, edit an earlier message and branch: what is shown,
what is resent (the request the embedded gateway received) and what is saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tui_chat.store import Store
from tui_chat.ui.widgets.messages import ReplyView, UserTurn


def _idle_with(app: Any, count: int) -> bool:
    """The last reply has ``count`` alternates and nothing streams."""
    branch = app.conversation.messages
    if not branch or app.streaming or branch[-1].role != "assistant":
        return False
    return len(app.conversation.alternates(branch[-1])) == count and branch[-1].outcome is not None


def _sent(sim: Any) -> list[str]:
    return [m["content"] for m in sim.requests_for("unify")[-1].messages]


async def test_regenerate_keeps_the_earlier_reply_and_the_one_shown_is_resent(
    make_app: Any, sim: Any
) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        first = app.conversation.messages[-1]
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: _idle_with(app, 2), what="a second alternate")
        second = app.conversation.messages[-1]
        assert second is not first and app.conversation.alternates(second) == [first, second]
        assert _sent(sim) == ["hello"]  # the earlier reply is not context for its alternate
        views = app.chat_log.replies
        assert [view.message for view in views] == [second]  # one reply on screen
        await pilot.pause()
        assert str(views[0].provenance.render()).startswith("2/2")

        await pilot.press("alt+left")
        await wait_until(pilot, lambda: app.conversation.messages[-1] is first, what="flip")
        await wait_until(
            pilot,
            lambda: [view.message for view in app.chat_log.replies] == [first],
            what="the log rebuilt on the first alternate",
        )
        await send(pilot, "and then?")
        await wait_for_reply(pilot, count=2)
        assert _sent(sim) == ["hello", first.content, "and then?"]
        # Both replies were paid for: the status bar's Chat counts them both.
        assert app.conversation.spend.amount == sum(
            m.cost or 0.0 for m in app.conversation.all_messages() if m.role == "assistant"
        )
        assert app.conversation.spend.amount > app.conversation.branch_spend.amount


async def test_ctrl_r_after_a_finished_reply_regenerates(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: _idle_with(app, 2), what="a regenerated reply")


async def test_edit_an_earlier_message_branches_and_flips_back(
    make_app: Any, sim: Any, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "c.db")
    try:
        app = make_app(store=store)
        async with app.run_test(size=APP_SIZE) as pilot:
            await send(pilot, "one")
            await wait_for_reply(pilot)
            await send(pilot, "two")
            await wait_for_reply(pilot, count=2)
            old_branch = list(app.conversation.messages)
            await pilot.press("alt+up", "alt+up")  # the last reply, then "two"
            assert app.branches.selected is old_branch[2]
            await pilot.press("alt+e")
            assert app.prompt.text == "two"
            app.prompt.load_text("two, edited")
            await pilot.press("enter")
            await wait_for_reply(pilot, count=2)
            assert _sent(sim) == ["one", old_branch[1].content, "two, edited"]
            edited = app.conversation.messages[2]
            assert edited.content == "two, edited"
            assert app.conversation.alternates(edited) == [old_branch[2], edited]
            users = [w for w in app.chat_log.query(UserTurn)]
            assert [u.text for u in users] == ["one", "two, edited"]
            assert users[-1].alternate == (2, 2)

            await pilot.press("alt+up", "alt+up", "alt+left")  # at the edited message: back
            await wait_until(
                pilot, lambda: app.conversation.messages == old_branch, what="the old branch"
            )
            await wait_until(
                pilot,
                lambda: [v.message for v in app.chat_log.query(ReplyView)] == old_branch[1::2],
                what="the log on the old branch",
            )
            app.saved.recorder.flush()
            conversation_id = app.saved.conversation_id
        reopened = store.load(conversation_id).conversation
        assert [m.content for m in reopened.messages] == [m.content for m in old_branch]
        assert len(reopened.all_messages()) == 6
    finally:
        store.close()


async def test_nothing_to_flip_says_so_and_keeps_the_branch(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        branch = list(app.conversation.messages)
        await pilot.press("alt+right")
        await pilot.pause()
        assert app.conversation.messages == branch


async def test_alt_e_from_a_terminal_edits_and_types_no_e(make_app: Any) -> None:
    """Regression: alt+e as a terminal sends it (ESC e) typed an "e" into the prompt."""
    from tests.app.test_terminal_keys import feed

    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        app.prompt.focus()
        await pilot.pause()
        feed(app, b"\x1be")
        await wait_until(pilot, lambda: app.replies.editing is not None, what="editing")
        await pilot.pause()
        assert app.prompt.text == "hello"
