"""A reply that was stopped, or whose app was killed, still counts what it cost.

Found from outside: the gateway charges for a reply cut short, but a reply killed mid-stream
came back with no cost (the saves while it streamed carried none), so the conversation's total
left it out. The live estimate (from the endpoint's prices and the text so far) now rides on
the reply, marked "~", and goes into every save.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tui_chat.core.accounting import estimate_reply_cost
from tui_chat.core.conversation import Outcome
from tui_chat.store import Store

PROMPT = "Tell me a long story"


def saved_reply(db: Path) -> Any:
    with Store.open(db) as store:
        record = store.last_opened_conversation()
        if record is None:
            return None
        messages = store.load_conversation(record.id).messages
    return messages[-1] if len(messages) == 2 else None


async def test_a_reply_saved_while_it_streams_carries_its_estimate(
    make_app: Any, sim: Any, tmp_path: Path
) -> None:
    sim.controls.reply_tokens = 5000
    sim.controls.token_delay_s = 0.02  # streams for 100 s, unless stopped
    db = tmp_path / "conversations.db"
    store = Store.open(db)
    app = make_app(store=store)
    try:
        async with app.run_test(size=APP_SIZE) as pilot:
            await send(pilot, PROMPT)
            reply = app.conversation.messages[-1]
            await wait_until(pilot, lambda: len(reply.content) > 60, what="some text")
            served = reply.served_endpoint or ""
            await wait_until(pilot, lambda: served in app.account_watch.details, what="prices")
            app.replies.tick_live()  # (the app ticks by itself every few tenths of a second)

            # What a kill now would leave in the database: the text so far and its estimate.
            def estimate_saved() -> bool:
                saved = saved_reply(db)
                return saved is not None and saved.cost is not None

            deadline = time.monotonic() + 20
            while not estimate_saved():
                assert time.monotonic() < deadline, "no estimate reached the database"
                await pilot.pause(0.1)
            saved = saved_reply(db)
            assert app.streaming  # still streaming: this is what a kill -9 would leave
            assert saved.outcome is Outcome.STOPPED  # loaded back as stopped
            assert saved.cost_estimated
            details = app.account_watch.details[served]
            # the estimate at some tick: the prompt and the text as far as it had come then
            assert (
                estimate_reply_cost(len(PROMPT), 1, details)
                < saved.cost
                <= estimate_reply_cost(len(PROMPT), reply.output_tokens, details)
            )
            # Reopened, the conversation's total counts it, marked as an estimate.
            with Store.open(db) as check:
                record = check.last_opened_conversation()
                assert record is not None
                spend = check.load_conversation(record.id).spend
            assert spend.amount == saved.cost and spend.amount > 0
            assert spend.mark == "~"

            await pilot.press("escape")  # stopped: the figure is made again from the whole text
            await wait_for_reply(pilot)
            assert reply.outcome is Outcome.STOPPED
            assert reply.cost == estimate_reply_cost(len(PROMPT), reply.output_tokens, details)
            assert reply.cost_estimated
            assert app.conversation.spend.amount == reply.cost
            assert app.conversation.spend.mark == "~"
    finally:
        store.close()


async def test_a_reported_cost_is_never_replaced_by_the_estimate(make_app: Any, sim: Any) -> None:
    sim.controls.reply_tokens = 120
    sim.controls.token_delay_s = 0.01
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, PROMPT)
        await wait_for_reply(pilot)
        reply = app.conversation.messages[-1]
        assert reply.outcome is Outcome.COMPLETE
        assert not reply.cost_estimated  # the sim reports usage.cost: that figure stands
        assert reply.cost is not None and reply.cost > 0


async def test_a_refused_request_is_not_charged_an_estimate(make_app: Any, sim: Any) -> None:
    # Found by the long-session benchmark: a request the gateway refused (HTTP 400, the
    # history longer than the context window) showed "~0.0176 credits" (its prompt at the
    # input price), though nothing was served.
    from tui_chat.gateway_sim.faults import Fault, FaultKind

    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, PROMPT)
        await wait_for_reply(pilot)
        served = app.conversation.messages[-1].served_endpoint or ""
        assert served in app.account_watch.details  # prices are known
        sim.inject(Fault(FaultKind.STATUS, status=400))
        await send(pilot, "and again")
        await wait_for_reply(pilot, count=2)
        refused = app.conversation.messages[-1]
        assert refused.outcome is Outcome.ERROR and not refused.content
        assert refused.cost is None and not refused.cost_estimated
        first = app.conversation.messages[1]
        assert app.conversation.spend.amount == first.cost  # only what was served
