"""Budgets, low balance, billed vs reported and the routing presets in the app, against the
embedded gateway: every figure on screen checked against the stored replies and the sim."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tests.store.conftest import reply
from tui_chat.config import AppConfig, GatewayProfile
from tui_chat.core.billing import differs
from tui_chat.store import Store
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.widgets.budget_card import BudgetCard
from tui_chat.ui.widgets.messages import ReplyView

MODEL = "llama-3.1-8b-chat"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "data" / "conversations.db")
    try:
        yield opened
    finally:
        opened.close()


def spent_today(store: Store, *costs: float, gateway: str = "Test gateway") -> None:
    """Replies saved earlier today (before the app starts), costing ``costs``."""
    conversation = store.create_conversation("earlier").id
    for cost in costs:
        message = reply("earlier", cost=cost, created_at=time.time() - 30)
        message.gateway = gateway
        store.append_message(conversation, message)


def stored_cost_today(store: Store) -> float:
    conn = sqlite3.connect(store.path)
    try:
        (total,) = conn.execute(
            "SELECT SUM(cost) FROM messages WHERE role = 'assistant' AND created_at >= ?",
            (time.time() - 3600,),
        ).fetchone()
    finally:
        conn.close()
    return float(total)


async def test_the_status_bar_shows_the_days_spend_against_the_budget(
    make_app: Any, store: Store
) -> None:
    spent_today(store, 0.30, 0.12)
    app: UnifyTUI = make_app(store=store, config=AppConfig(daily_budget=1.0))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(
            pilot, lambda: app.status.part("budget") == "Today 0.42/1.00", what="budget"
        )
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        (_, answer) = app.conversation.messages
        assert answer.cost is not None and not answer.cost_estimated

        def shows_stored_and_session() -> bool:
            return app.status.part("budget") == f"Today {0.42 + answer.cost:.2f}/1.00"

        await wait_until(pilot, shows_stored_and_session, what="the reply counted")
        await wait_until(
            pilot,
            lambda: stored_cost_today(store) == pytest.approx(0.42 + answer.cost),
            what="the reply stored",
        )


async def test_the_warning_comes_from_the_threshold(make_app: Any, store: Store) -> None:
    spent_today(store, 0.85)
    config = AppConfig(daily_budget=1.0)
    app: UnifyTUI = make_app(store=store, config=config)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.budget_level == "warn", what="a warning")
        assert app.status.part("budget") == "⚠ Today 0.85/1.00"
    app = make_app(store=store, config=AppConfig(daily_budget=1.0, budget_warning=90))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(
            pilot, lambda: app.status.part("budget") == "Today 0.85/1.00", what="no warning"
        )
        assert app.status.budget_level == "ok"


async def test_a_spent_budget_refuses_keeps_the_text_and_send_anyway_sends_once(
    make_app: Any, store: Store, sim: Any
) -> None:
    spent_today(store, 1.50)
    app: UnifyTUI = make_app(store=store, config=AppConfig(daily_budget=1.0))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.budget_level == "over", what="over budget")
        assert app.status.part("budget") == "⛔ Today 1.50/1.00"
        await send(pilot, "please answer")
        await wait_until(pilot, lambda: bool(app.query(BudgetCard)), what="the refusal")
        assert app.prompt.text == "please answer"  # kept
        assert app.conversation.messages == [] and sim.requests == []
        await pilot.press("enter")  # refused again: still one card, the text still kept
        await pilot.pause()
        (card,) = app.query(BudgetCard)
        assert "daily budget of 1.00 credits is spent (1.500000 so far)" in card.detail
        assert app.prompt.text == "please answer" and sim.requests == []

        await pilot.click("#send-anyway")
        await wait_for_reply(pilot)
        assert [m.content for m in app.conversation.messages][:1] == ["please answer"]
        assert len(sim.requests) == 1 and app.prompt.text == ""
        assert not app.query(BudgetCard)

        # once: the next send is refused again
        await send(pilot, "and again")
        await wait_until(pilot, lambda: bool(app.query(BudgetCard)), what="refused again")
        assert len(sim.requests) == 1 and app.prompt.text == "and again"


async def test_a_gateways_own_budget_counts_only_its_replies(make_app: Any, store: Store) -> None:
    spent_today(store, 0.50, gateway="elsewhere")
    spent_today(store, 0.05, gateway="work")
    config = AppConfig(gateways={"work": GatewayProfile("work", "unify", monthly_budget=0.1)})
    app: UnifyTUI = make_app(store=store, config=config, profile_name="work")
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(
            pilot, lambda: app.status.part("budget") == "Month work 0.05/0.10", what="budget"
        )


async def test_low_balance_warns_once_per_crossing(make_app: Any, sim: Any) -> None:
    sim.credits = 0.5
    app: UnifyTUI = make_app(config=AppConfig(low_balance=1.0))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.balance_low, what="the low balance")
        assert app.status.part("balance") == "Balance 0.500000 ⚠ low"
        warnings = [n for n in app._notifications if n.title == "Low balance"]
        assert len(warnings) == 1 and "0.500000 credits, below the 1" in warnings[0].message
        app.account_watch.refresh_balance()
        await pilot.pause(0.3)
        await wait_until(pilot, lambda: not app.workers, what="the second read")
        assert len([n for n in app._notifications if n.title == "Low balance"]) == 1
        sim.credits = 5.0  # topped up: the mark goes, and the next crossing warns again
        app.account_watch.refresh_balance()
        await wait_until(pilot, lambda: not app.status.balance_low, what="topped up")


async def test_billed_beside_reported_with_a_markup(make_app: Any, sim: Any, store: Store) -> None:
    sim.controls.markup = 0.05
    sim.controls.reply_tokens = 300  # a cost well above the balance's rounding
    app: UnifyTUI = make_app(store=store, model="gpt-4-turbo@openai")
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.balance == 50.0, what="the first balance")
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        (_, answer) = app.conversation.messages
        await wait_until(pilot, lambda: answer.billed_cost is not None, what="the bill")
        assert answer.cost is not None
        assert answer.billed_cost == pytest.approx(answer.cost * 1.05, rel=1e-6)
        assert differs(answer.cost, answer.billed_cost)
        (view,) = app.query(ReplyView)
        line = str(view.provenance.render())
        assert f"{answer.cost:.6f} credits · billed {answer.billed_cost:.6f}" in line
        assert app.status.billed_note == f"billed {answer.billed_cost:.6f}"
        summary = app.spend_watch.reconciliation()
        assert f"Reported: {answer.cost:.6f} credits" in summary
        assert f"Billed: {answer.billed_cost:.6f} credits" in summary
        assert "Measured replies: 1" in summary

        def saved_bill() -> object:
            conn = sqlite3.connect(store.path)
            try:
                return conn.execute(
                    "SELECT billed_cost FROM messages WHERE role = 'assistant'"
                ).fetchone()
            finally:
                conn.close()

        await wait_until(
            pilot,
            lambda: (saved_bill() or (None,))[0] == pytest.approx(answer.billed_cost),
            what="the bill saved",
        )


async def test_without_a_markup_no_billed_figure_is_shown(make_app: Any, sim: Any) -> None:
    app: UnifyTUI = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.balance == 50.0, what="the first balance")
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        (_, answer) = app.conversation.messages
        await wait_until(pilot, lambda: answer.billed_cost is not None, what="the bill")
        assert answer.billed_cost == pytest.approx(answer.cost)
        (view,) = app.query(ReplyView)
        assert "billed" not in str(view.provenance.render())
        assert app.status.billed_note == ""


def _history(store: Store) -> None:
    """Three finished replies per provider: groq the fastest (400 tok/s), together-ai 100."""
    conversation = store.create_conversation("history").id
    for provider, duration in (("groq", 1100.0), ("together-ai", 4100.0)):
        for _ in range(3):
            message = reply("x", requested=f"{MODEL}@{provider}", served=f"{MODEL}@{provider}")
            message.ttft_ms, message.duration_ms = 100.0, duration
            message.prompt_tokens, message.completion_tokens, message.cost = 10, 400, 0.0001
            store.append_message(conversation, message)


async def test_my_fastest_sends_to_the_fastest_provider_and_says_why(
    make_app: Any, sim: Any, store: Store
) -> None:
    _history(store)
    app: UnifyTUI = make_app(store=store, model=f"{MODEL}@my-fastest")
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        assert sim.requests[-1].model == f"{MODEL}@groq"
        answer = app.conversation.messages[-1]
        assert answer.requested_endpoint == f"{MODEL}@my-fastest"
        assert answer.served_endpoint == f"{MODEL}@groq"
        assert answer.routing_note == "my-fastest → groq, 400 tok/s median of 3"
        view = app.query(ReplyView).last()
        assert "my-fastest → groq, 400 tok/s median of 3" in str(view.provenance.render())


async def test_my_fastest_without_history_uses_the_gateways_routing(
    make_app: Any, sim: Any, store: Store
) -> None:
    app: UnifyTUI = make_app(store=store, model=f"{MODEL}@my-fastest")
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        assert sim.requests[-1].model == f"{MODEL}@highest-tks-per-sec"
        note = app.conversation.messages[-1].routing_note or ""
        assert note.startswith("my-fastest → highest-tks-per-sec: not enough history")


async def test_the_budget_part_fits_80_columns_before_the_billed_note(
    make_app: Any, store: Store
) -> None:
    spent_today(store, 0.20)
    app: UnifyTUI = make_app(
        store=store, config=AppConfig(daily_budget=0.1, low_balance=100.0), gateway_label="Demo"
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.status.budget_level == "over", what="over budget")
        await wait_until(pilot, lambda: app.status.balance_low, what="the low balance")
        app.status.billed_note = "billed 0.000937"
        await pilot.pause()
        assert app.status.text.endswith("⛔ Today 0.20/0.10")
        assert "billed" not in app.status.text
    wide: UnifyTUI = make_app(store=store)
    async with wide.run_test(size=(160, 24)) as pilot:
        # (after the start-up reopen, which shows the reopened conversation's own figures)
        await wait_until(
            pilot,
            lambda: (
                wide.recorder is not None
                and not any(w.group == "store-load" and not w.is_finished for w in wide.workers)
            ),
            what="the start-up reopen",
        )
        await pilot.pause()
        pilot.app.status.billed_note = "billed 0.000937"
        await pilot.pause()
        assert "Chat 0.000000 (billed 0.000937)" in pilot.app.status.text


async def test_on_openrouter_my_fastest_is_sent_as_a_provider_order(sim: Any, store: Store) -> None:
    from tests.app.conftest import profiles_app

    model = "meta-llama/llama-3.1-70b-instruct"
    conversation = store.create_conversation("history").id
    for provider, duration in (("groq", 1100.0), ("together", 4100.0)):
        for _ in range(3):
            message = reply("x", requested=f"{model}@{provider}", served=f"{model}@{provider}")
            message.ttft_ms, message.duration_ms = 100.0, duration
            message.prompt_tokens, message.completion_tokens, message.cost = 10, 400, 0.0001
            message.gateway = "or"
            store.append_message(conversation, message)
    profiles = {"or": GatewayProfile("or", "openrouter", base_url=sim.openrouter_base_url)}
    app = profiles_app(profiles, first="or", store=store, model=f"{model}@my-fastest")
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        body = sim.requests[-1].body
        assert body["model"] == model
        assert body["provider"]["order"] == ["groq"]
        answer = app.conversation.messages[-1]
        assert answer.routing_note == "my-fastest → groq, 400 tok/s median of 3"
        assert answer.gateway == "or" and answer.outcome is not None
