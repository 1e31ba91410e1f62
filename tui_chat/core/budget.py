"""Daily and monthly budgets: what has been spent today and this month, against what limit.

Budgets sit beside the per-conversation spend cap and count every conversation: overall (every
gateway) and per gateway profile (only the replies that came through it). A day and a month are
the local calendar's. What was spent comes from two places that never overlap:

- the store: the replies saved before this session began (``session_started_at``), read once
  per day by SQL (``store.spend.spend_between``) and handed in with ``set_stored``;
- this session: every reply that ended since (``add_reply``), with its cost as shown, estimates
  included (and marked "~").

Replies another running copy of the app saves meanwhile are not seen until the next start.

No Textual, no store: the caller reads the store and the clock and passes them in.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from tui_chat.core.accounting import Spend

DEFAULT_WARN_PERCENT: Final = 80.0
"""The share of a budget (percent) from which the status bar warns, unless config says."""

Period = Literal["day", "month"]
Level = Literal["ok", "warn", "over"]


@dataclass(frozen=True)
class Budget:
    """Credits (USD) one may spend per local day and per calendar month; None: no limit."""

    daily: float | None = None
    monthly: float | None = None

    @property
    def is_set(self) -> bool:
        return self.daily is not None or self.monthly is not None

    def limit(self, period: Period) -> float | None:
        return self.daily if period == "day" else self.monthly


@dataclass(frozen=True)
class Budgets:
    """The budgets in force: ``overall`` over every gateway, ``per_gateway`` by profile name;
    ``warn_percent``: from how much of a budget the status bar warns (0 < p <= 100)."""

    overall: Budget = Budget()
    per_gateway: dict[str, Budget] = field(default_factory=dict)
    warn_percent: float = DEFAULT_WARN_PERCENT

    def for_gateway(self, gateway: str | None) -> Budget:
        return self.per_gateway.get(gateway or "", Budget())

    @property
    def any_set(self) -> bool:
        return self.overall.is_set or any(b.is_set for b in self.per_gateway.values())


def day_start(now: float) -> float:
    """Unix seconds of the local midnight that began the day of ``now``."""
    moment = datetime.fromtimestamp(now)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_start(now: float) -> float:
    """Unix seconds of the local midnight that began the month of ``now``."""
    moment = datetime.fromtimestamp(now)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def period_start(period: Period, now: float) -> float:
    """Unix seconds the local day or month of ``now`` began."""
    return day_start(now) if period == "day" else month_start(now)


_PERIODS: Final[tuple[tuple[Period, str], ...]] = (("day", "Today"), ("month", "This month"))

StoredKey = tuple[Period, float, str | None]
"""A stored spend: its period, the period's start (Unix seconds), its gateway (None: all)."""


def add_spend(first: Spend, second: Spend) -> Spend:
    """Two spends together, by the app's rules: unknown only when both are unknown."""
    if first.amount is None and second.amount is None:
        return Spend(None)
    amount = (first.amount or 0.0) + (second.amount or 0.0)
    estimated = (first.amount is not None and first.estimated) or (
        second.amount is not None and second.estimated
    )
    partial = first.partial or second.partial or first.amount is None or second.amount is None
    return Spend(amount, estimated=estimated, partial=partial)


@dataclass(frozen=True)
class BudgetCheck:
    """One budget against what was spent in its period."""

    label: str  # "Today", "This month", "Today on openrouter"
    period: Period
    gateway: str | None  # None: the overall budget
    spent: Spend
    limit: float
    warn_percent: float

    @property
    def fraction(self) -> float:
        return (self.spent.amount or 0.0) / self.limit

    @property
    def level(self) -> Level:
        if self.fraction >= 1.0:
            return "over"
        if self.fraction * 100 >= self.warn_percent:
            return "warn"
        return "ok"

    @property
    def short(self) -> str:
        """For the status bar: "Today 0.42/1.00", "Month ~3.10/20.00", "≥" for a lower bound."""
        word = "Today" if self.period == "day" else "Month"
        if self.gateway is not None:
            word += f" {self.gateway}"
        digits = 2 if self.limit >= 0.1 else 4
        amount = self.spent.amount or 0.0
        return f"{word} {self.spent.mark}{amount:.{digits}f}/{self.limit:.{digits}f}"


@dataclass(frozen=True)
class SessionReply:
    created_at: float  # Unix seconds the reply began
    gateway: str | None
    spend: Spend


class BudgetTracker:
    """What was spent per period, stored and this session's, and the checks against budgets."""

    def __init__(self, budgets: Budgets, *, session_started_at: float | None = None) -> None:
        self.budgets = budgets
        self.session_started_at = time.time() if session_started_at is None else session_started_at
        # (period, its start, gateway or None) -> the stored spend in it before the session
        self._stored: dict[StoredKey, Spend] = {}
        self._session: dict[int, SessionReply] = {}  # by the reply's id(): a reply counts once

    # -- what was spent ---------------------------------------------------------------------

    def stored_wanted(self, now: float, gateway: str | None) -> list[StoredKey]:
        """The (period, start, gateway) stored spends the checks at ``now`` need and that
        have not been read yet (read each with ``store.spend.spend_between``)."""
        wanted: list[StoredKey] = []
        for period, _ in _PERIODS:
            start = period_start(period, now)
            for who in (None, gateway):
                key: StoredKey = (period, start, who)
                if key not in self._stored and key not in wanted:
                    wanted.append(key)
        return wanted

    def set_stored(self, period: Period, start: float, gateway: str | None, spend: Spend) -> None:
        """What the store holds for ``period`` from ``start`` up to the session's start."""
        self._stored[(period, start, gateway)] = spend

    def add_reply(
        self, reply_id: int, created_at: float, gateway: str | None, spend: Spend
    ) -> None:
        """A reply of this session ended (again: the figure replaces the earlier one)."""
        self._session[reply_id] = SessionReply(created_at, gateway, spend)

    def spent(self, period: Period, now: float, gateway: str | None = None) -> Spend:
        """Credits spent in the ``period`` of ``now`` (through ``gateway``, or all), stored and
        this session's. Before the store has been read the figure is a lower bound ("≥")."""
        start = period_start(period, now)
        stored = self._stored.get((period, start, gateway))
        if stored is None:
            stored = Spend(0.0, partial=True)  # not read yet: what this session saw, at least
        if start >= self.session_started_at:
            stored = Spend(0.0)  # the period began during the session: the store has nothing
        session = _sum(
            reply.spend
            for reply in self._session.values()
            if reply.created_at >= start and (gateway is None or reply.gateway == gateway)
        )
        return add_spend(stored, session)

    # -- against the budgets ----------------------------------------------------------------

    def checks(self, now: float, gateway: str | None) -> list[BudgetCheck]:
        """Every budget in force for a reply through ``gateway`` at ``now``, tightest first."""
        found: list[BudgetCheck] = []
        warn = self.budgets.warn_percent
        budgets: list[tuple[str | None, Budget]] = [(None, self.budgets.overall)]
        if gateway is not None:
            budgets.append((gateway, self.budgets.for_gateway(gateway)))
        for who, budget in budgets:
            for period, label in _PERIODS:
                limit = budget.limit(period)
                if limit is None:
                    continue
                shown = label if who is None else f"{label} on {who}"
                spent = self.spent(period, now, who)
                found.append(BudgetCheck(shown, period, who, spent, limit, warn))
        found.sort(key=lambda check: -check.fraction)
        return found

    def status(self, now: float, gateway: str | None) -> tuple[str, Level]:
        """The status bar's budget part and its level: the daily figure, and any other budget
        that warns; "" when no budget is set."""
        checks = self.checks(now, gateway)
        if not checks:
            return "", "ok"
        shown = [c for c in checks if c.level != "ok"]
        daily = next((c for c in checks if c.period == "day"), None)
        if not shown:
            shown = [daily or checks[0]]
        level: Level = "over" if any(c.level == "over" for c in shown) else shown[0].level
        mark = {"ok": "", "warn": "⚠ ", "over": "⛔ "}[level]
        return mark + " · ".join(c.short for c in shown[:2]), level

    def refusal(
        self, now: float, gateway: str | None, next_prompt: float | None = None
    ) -> str | None:
        """A sentence when a budget is spent (or the next prompt alone, ``next_prompt``
        credits, would pass it); None when sending is within every budget."""
        for check in self.checks(now, gateway):
            spent = check.spent.amount or 0.0
            what = "daily budget" if check.period == "day" else "monthly budget"
            if check.gateway is not None:
                what += f" on {check.gateway}"
            figure = f"{check.spent.mark}{spent:.6f}"
            if spent >= check.limit:
                return (
                    f"The {what} of {check.limit:.2f} credits is spent ({figure} so far). "
                    "Raise it in config.toml, or send this one anyway."
                )
            if next_prompt is not None and spent + next_prompt > check.limit:
                return (
                    f"Sending this would pass the {what} of {check.limit:.2f} credits: {figure} "
                    f"spent, and the prompt alone costs about {next_prompt:.6f}. Raise it in "
                    "config.toml, or send this one anyway."
                )
        return None


def _sum(spends: Iterable[Spend]) -> Spend:
    total = Spend(0.0)
    for spend in spends:
        total = add_spend(total, spend)
    return total
