"""Budgets (tui_chat/core/budget.py): the day's and month's spend, stored and this session's,
against the overall and per-gateway limits; the warning level and the refusal. And config.toml's
budget keys."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tui_chat.config import load_config
from tui_chat.core.accounting import Spend
from tui_chat.core.budget import (
    Budget,
    Budgets,
    BudgetTracker,
    add_spend,
    day_start,
    month_start,
)

NOON = datetime(2026, 12, 4, 12, 0).timestamp()  # local time
SESSION = NOON - 3600


def tracker(**budgets: Budget) -> BudgetTracker:
    overall = budgets.pop("overall", Budget())
    return BudgetTracker(Budgets(overall=overall, per_gateway=budgets), session_started_at=SESSION)


def test_day_and_month_start_are_local_midnights() -> None:
    assert datetime.fromtimestamp(day_start(NOON)) == datetime(2026, 12, 4)
    assert datetime.fromtimestamp(month_start(NOON)) == datetime(2026, 12, 1)


def test_the_days_spend_is_the_stored_and_the_sessions() -> None:
    budget = tracker(overall=Budget(daily=1.0))
    assert budget.stored_wanted(NOON, None) == [
        ("day", day_start(NOON), None),
        ("month", month_start(NOON), None),
    ]
    budget.set_stored("day", day_start(NOON), None, Spend(0.30))
    budget.add_reply(1, NOON, "demo", Spend(0.12))
    budget.add_reply(1, NOON, "demo", Spend(0.10))  # the same reply again: replaced
    budget.add_reply(2, NOON - 86_400, "demo", Spend(5.0))  # yesterday: not today
    assert budget.spent("day", NOON).amount == 0.30 + 0.10
    assert budget.status(NOON, "demo") == ("Today 0.40/1.00", "ok")


def test_before_the_store_is_read_the_figure_is_a_lower_bound() -> None:
    budget = tracker(overall=Budget(daily=1.0))
    budget.add_reply(1, NOON, "demo", Spend(0.5))
    assert budget.spent("day", NOON) == Spend(0.5, partial=True)
    assert budget.status(NOON, None)[0] == "Today ≥0.50/1.00"


def test_an_estimate_marks_the_figure_and_the_warning_comes_at_80_percent() -> None:
    budget = tracker(overall=Budget(daily=1.0))
    budget.set_stored("day", day_start(NOON), None, Spend(0.70))
    budget.add_reply(1, NOON, "demo", Spend(0.05, estimated=True))
    assert budget.status(NOON, None) == ("Today ~0.75/1.00", "ok")
    budget.add_reply(2, NOON, "demo", Spend(0.05))
    assert budget.status(NOON, None) == ("⚠ Today ~0.80/1.00", "warn")
    assert budget.refusal(NOON, None) is None


def test_a_spent_budget_refuses_and_says_which() -> None:
    budget = tracker(overall=Budget(daily=1.0), demo=Budget(monthly=0.5))
    budget.set_stored("day", day_start(NOON), None, Spend(0.2))
    budget.set_stored("month", month_start(NOON), "demo", Spend(0.45))
    budget.add_reply(1, NOON, "demo", Spend(0.05))
    problem = budget.refusal(NOON, "demo")
    assert problem is not None and problem.startswith(
        "The monthly budget on demo of 0.50 credits is spent (0.500000 so far)."
    )
    assert "send this one anyway" in problem
    text, level = budget.status(NOON, "demo")
    assert level == "over" and text.startswith("⛔ Month demo 0.50/0.50")
    # another gateway's replies do not count against demo's budget
    assert tracker(demo=Budget(monthly=0.5)).refusal(NOON, "openrouter") is None


def test_the_next_prompt_alone_may_pass_the_budget() -> None:
    budget = tracker(overall=Budget(daily=1.0))
    budget.set_stored("day", day_start(NOON), None, Spend(0.9))
    assert budget.refusal(NOON, None, next_prompt=0.05) is None
    problem = budget.refusal(NOON, None, next_prompt=0.2)
    assert problem is not None and problem.startswith("Sending this would pass the daily budget")


def test_a_day_begun_during_the_session_has_nothing_stored() -> None:
    budget = BudgetTracker(Budgets(overall=Budget(daily=1.0)), session_started_at=NOON)
    tomorrow = NOON + 86_400
    budget.add_reply(1, NOON, None, Spend(0.5))
    assert budget.spent("day", tomorrow) == Spend(0.0)


def test_no_budget_no_status() -> None:
    assert tracker().status(NOON, "demo") == ("", "ok")
    assert tracker().refusal(NOON, "demo") is None


def test_add_spend_follows_the_app_rules() -> None:
    assert add_spend(Spend(None), Spend(None)) == Spend(None)
    assert add_spend(Spend(1.0), Spend(None)) == Spend(1.0, partial=True)
    assert add_spend(Spend(1.0, estimated=True), Spend(2.0)) == Spend(3.0, estimated=True)


def test_config_reads_the_budgets_overall_and_per_gateway(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "daily_budget = 1.5\nmonthly_budget = 20\nbudget_warning = 90\nlow_balance = 2\n"
        "[gateways.openrouter]\ndaily_budget = 0.5\nlow_balance = 1\n",
        encoding="utf-8",
    )
    config, problems = load_config(path)
    assert problems == []
    assert (config.daily_budget, config.monthly_budget) == (1.5, 20)
    assert (config.budget_warning, config.low_balance) == (90, 2)
    openrouter = config.gateways["openrouter"]
    assert (openrouter.daily_budget, openrouter.monthly_budget, openrouter.low_balance) == (
        0.5,
        None,
        1,
    )


def test_config_refuses_a_bad_budget_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("daily_budget = -1\nbudget_warning = 150\nmonthly_budget = 9\n", "utf-8")
    config, problems = load_config(path)
    assert config.daily_budget is None and config.budget_warning == 80.0
    assert config.monthly_budget == 9
    assert [p.line for p in problems] == [1, 2]
