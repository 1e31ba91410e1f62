"""Two apps on one database never write into the same conversation (tui_chat/store/holders.py).

Found from outside: two instances both appended into the same conversation, interleaved, and
neither showed the other's turns. The conversation an app writes to is held; another app does
not reopen it at start (it starts a new one and says why) nor open it from the list. "Another
app" here is a hold taken by the test itself, as a second process's would be (flock locks are
per open file, so a second holder in the same process conflicts as another process does).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tui_chat.core.conversation import Message
from tui_chat.store import Store
from tui_chat.store.holders import ConversationHolds


def notices(app: Any) -> str:
    return " ".join(str(n.render()) for n in app.chat_log.query(".notice"))


def seeded(db: Path, titles: list[str]) -> list[int]:
    ids = []
    with Store.open(db) as store:
        for title in titles:
            record = store.create_conversation(title)
            store.append_message(record.id, Message("user", f"{title}?"))
            store.append_message(record.id, Message("assistant", f"{title}!"))
            store.mark_opened(record.id)
            ids.append(record.id)
    return ids


async def settled(app: Any, pilot: Any) -> None:
    await wait_until(
        pilot,
        lambda: (
            app.recorder is not None
            and not any(w.group == "store-load" and not w.is_finished for w in app.workers)
        ),
        what="the start-up restore",
    )


async def test_a_conversation_held_by_another_app_is_not_reopened_at_start(
    make_app: Any, sim: Any, tmp_path: Path
) -> None:
    db = tmp_path / "conversations.db"
    (last,) = seeded(db, ["Held elsewhere"])
    other = ConversationHolds(db)
    assert other.hold(last)  # another window has it open
    store = Store.open(db)
    app = make_app(store=store)
    try:
        async with app.run_test(size=APP_SIZE) as pilot:
            await settled(app, pilot)
            assert app.conversation.messages == []
            assert "“Held elsewhere” is open in another unify-tui window" in notices(app)
            assert "starts a new conversation" in notices(app)
            await send(pilot, "a question of my own")
            await wait_for_reply(pilot)
            assert await asyncio.to_thread(app.recorder.flush)
            assert app.conversation_id is not None and app.conversation_id != last
            assert other.held_elsewhere(app.conversation_id)  # this app holds its own now
    finally:
        store.close()
    with Store.open(db) as check:
        assert [m.content for m in check.load_conversation(last).messages] == [
            "Held elsewhere?",
            "Held elsewhere!",
        ]
    other.close()


async def test_opening_a_held_conversation_from_the_list_is_refused_and_says_why(
    make_app: Any, sim: Any, tmp_path: Path
) -> None:
    db = tmp_path / "conversations.db"
    busy, mine = seeded(db, ["Busy one", "Mine"])  # "Mine" was opened last
    other = ConversationHolds(db)
    assert other.hold(busy)
    store = Store.open(db)
    app = make_app(store=store)
    try:
        async with app.run_test(size=APP_SIZE) as pilot:
            await settled(app, pilot)
            await wait_until(pilot, lambda: app.conversation_id == mine, what="Mine reopened")
            assert other.held_elsewhere(mine)  # held by the app from the moment it is shown
            app.open_conversation(busy)
            await wait_until(
                pilot,
                lambda: any("Busy one" in str(n.message) for n in app._notifications),
                what="the notice",
            )
            assert app.conversation_id == mine
            assert [m.content for m in app.conversation.messages] == ["Mine?", "Mine!"]
            other.release(busy)  # closed there: now it opens
            app.open_conversation(busy)
            await wait_until(pilot, lambda: app.conversation_id == busy, what="opened")
            assert other.held_elsewhere(busy) and not other.held_elsewhere(mine)
    finally:
        store.close()
    # The app quit: it holds nothing.
    assert not other.held_elsewhere(busy) and not other.held_elsewhere(mine)
    other.close()
