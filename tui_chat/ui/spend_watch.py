"""The spend watch: budgets, the low-balance warning, billed vs reported, and the routing presets.

A collaborator of the App (like ``AccountWatch``): it keeps

- the day's and month's spend against the budgets of config.toml (``core.budget``): the stored
  spend read once per period by SQL in a thread (``store.spend.spend_between``), this session's
  from each reply that ends; the status bar's budget part, and the refusal ``ReplyStreamer``
  shows with a one-time "Send anyway";
- the low-balance warning: once per crossing below the threshold, in the status bar and a
  notification;
- billed vs reported (``core.billing``): each balance reading settles the replies between it and
  the one before; a measured bill is kept on the reply (``Message.billed_cost``, saved), shown
  in its provenance line when it differs, and summed in the session's reconciliation;
- the routing presets (``core.my_routing``): ``model@my-...`` resolved from the store's figures
  to a concrete endpoint before a reply is sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from textual.message import Message as TextualMessage

from tui_chat.core.accounting import Spend, format_credits
from tui_chat.core.billing import BillingLedger, differs
from tui_chat.core.budget import Budget, Budgets, BudgetTracker, StoredKey
from tui_chat.core.conversation import Message
from tui_chat.core.my_routing import LAST_REPLIES, RoutingChoice, choose, preset_of
from tui_chat.ui.host import AppHost

if TYPE_CHECKING:
    from tui_chat.config import AppConfig, GatewayProfile
    from tui_chat.core.conversation import Conversation
    from tui_chat.store import Store


class StoredSpendLoaded(TextualMessage):
    """The store's spend per budget period, read in a thread (``SpendWatch.load_stored``)."""

    def __init__(self, spends: dict[StoredKey, Spend]) -> None:
        super().__init__()
        self.spends = spends


class SpendHost(AppHost, Protocol):
    """What the watch needs of the app."""

    config: AppConfig | None
    conversation: Conversation
    gateway_label: str
    clock: Callable[[], float]
    show_credits: bool
    show_provider: bool

    @property
    def profile_name(self) -> str | None: ...

    @property
    def profiles(self) -> Mapping[str, GatewayProfile]: ...

    @property
    def store(self) -> Store | None: ...


def budgets_from(config: AppConfig | None, profiles: Mapping[str, GatewayProfile]) -> Budgets:
    """The budgets config.toml sets: overall, and per profile (its table or the app's)."""
    if config is None:
        return Budgets()
    per_gateway: dict[str, Budget] = {}
    for source in (config.gateways, profiles):
        for name, profile in source.items():
            budget = Budget(profile.daily_budget, profile.monthly_budget)
            if budget.is_set:
                per_gateway[name] = budget
    return Budgets(
        overall=Budget(config.daily_budget, config.monthly_budget),
        per_gateway=per_gateway,
        warn_percent=config.budget_warning,
    )


class SpendWatch:
    """Budgets, low balance, billed vs reported and the routing presets (see the module)."""

    def __init__(self, host: SpendHost, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.host = host
        self.wall_clock = wall_clock  # Unix seconds: which day and month it is
        self._tracker: BudgetTracker | None = None
        self.ledger = BillingLedger()
        self._live: dict[int, Message] = {}  # replies the ledger may still settle, by id()
        self._override_once = False  # "Send anyway": the next send passes the budgets once
        self._low_warned = False  # the low-balance warning was given for this crossing
        self._loading = False

    # -- budgets ----------------------------------------------------------------------------

    @property
    def tracker(self) -> BudgetTracker:
        if self._tracker is None:
            budgets = budgets_from(self.host.config, self.host.profiles)
            self._tracker = BudgetTracker(budgets, session_started_at=self.wall_clock())
        return self._tracker

    @property
    def gateway(self) -> str:
        """The profile replies go through now, as ``Message.gateway`` names it."""
        return self.host.profile_name or self.host.gateway_label

    def start(self) -> None:
        """The app is up (and the store open, if there is one): read what the budgets need."""
        self.update_status()
        self.load_stored()

    def load_stored(self) -> None:
        """Read the stored spend the budgets at this moment need and have not read, in a thread."""
        host = self.host
        store = host.store
        if store is None or self._loading or not self.tracker.budgets.any_set:
            return
        wanted = self.tracker.stored_wanted(self.wall_clock(), self.gateway)
        if not wanted:
            return
        self._loading = True
        until = self.tracker.session_started_at
        path = store.path

        def read() -> None:
            from tui_chat.store.spend import open_read_only, spend_between

            spends: dict[StoredKey, Spend] = {}
            try:
                conn = open_read_only(path)
                try:
                    for key in wanted:
                        _, start, gateway = key
                        spends[key] = spend_between(conn, start, until, gateway)
                finally:
                    conn.close()
            except Exception as error:  # the budget shows "≥" (a lower bound) meanwhile
                host.log.warning(f"budget: could not read the stored spend: {error}")
            host.post_message(StoredSpendLoaded(spends))

        host.run_worker(read, thread=True, group="budget", exit_on_error=False)

    def stored_loaded(self, event: StoredSpendLoaded) -> None:
        self._loading = False
        for (period, start, gateway), spend in event.spends.items():
            self.tracker.set_stored(period, start, gateway, spend)
        self.update_status()

    def update_status(self) -> None:
        """The status bar's budget part, and the billed total beside the chat's."""
        status = self.host.status
        text, level = self.tracker.status(self.wall_clock(), self.gateway)
        status.budget, status.budget_level = text, level
        status.billed_note = self.billed_note(self.host.conversation)

    def budget_problem(self, next_prompt: float | None = None) -> str | None:
        """Why sending now would pass a budget (None: it would not, or "Send anyway" was
        pressed, which lets this one send through)."""
        if self._override_once:
            self._override_once = False
            return None
        return self.tracker.refusal(self.wall_clock(), self.gateway, next_prompt)

    def allow_once(self) -> None:
        """ "Send anyway": the next send is not refused for a budget."""
        self._override_once = True

    # -- replies ----------------------------------------------------------------------------

    def reply_started(self, reply: Message) -> None:
        self.ledger.reply_started(id(reply), self.host.clock())
        self._live[id(reply)] = reply

    def reply_finished(self, reply: Message) -> None:
        """A reply ended: its cost counts in the budgets, and its bill waits for a reading."""
        spend = reply.spend
        if spend.amount is None and not reply.content:
            spend = Spend(0.0)  # a failure that sent nothing costs nothing
        self.tracker.add_reply(id(reply), reply.created_at, reply.gateway, spend)
        reported = None if reply.cost_estimated else reply.cost
        self.ledger.reply_ended(id(reply), self.host.clock(), reported)
        self.update_status()
        self.load_stored()  # a new day or month may have begun

    def reply_removed(self, reply: Message) -> None:
        self.ledger.forget(id(reply))
        self._live.pop(id(reply), None)

    # -- the balance ------------------------------------------------------------------------

    def low_balance_threshold(self) -> float | None:
        profile = self.host.profiles.get(self.host.profile_name or "")
        if profile is not None and profile.low_balance is not None:
            return profile.low_balance
        config = self.host.config
        return None if config is None else config.low_balance

    def balance_loaded(
        self,
        balance: float,
        requested_at: float | None,
        *,
        save: Callable[[Message], None],
    ) -> None:
        """A balance reading: the low-balance warning, and the bills it settles (each saved
        with ``save`` and shown under its reply)."""
        host = self.host
        threshold = self.low_balance_threshold()
        low = threshold is not None and balance < threshold
        host.status.balance_low = low
        if low and not self._low_warned:
            host.notify(
                f"The balance is {format_credits(balance)} credits, below the "
                f"{threshold:g} set as low_balance in config.toml.",
                title="Low balance",
                severity="warning",
                timeout=8,
            )
        self._low_warned = low
        for billing in self.ledger.reading(balance, requested_at, host.clock()):
            reply = self._live.pop(id_of(billing.key), None)
            if reply is None or billing.billed is None:
                continue
            reply.billed_cost = billing.billed
            save(reply)
            if not differs(reply.cost, reply.billed_cost):
                continue  # the provenance line reads the same
            for view in host.chat_log.replies:
                if view.message is reply:
                    view.refresh_provenance(
                        show_credits=host.show_credits, show_provider=host.show_provider
                    )
        self.update_status()

    def billed_note(self, conversation: Conversation) -> str:
        """ "billed 0.001234" beside the chat's total when a measured bill differs from what a
        reply reported: the replies' billed figures where measured, their reported ones else."""
        replies = [m for m in conversation.messages if m.role == "assistant"]
        if not any(differs(m.cost, m.billed_cost) for m in replies):
            return ""
        total = sum(
            (m.billed_cost if m.billed_cost is not None else (m.cost or 0.0)) for m in replies
        )
        return f"billed {format_credits(total)}"

    def reconciliation(self) -> str:
        """The session's summary: reported, billed and the difference over the measured
        replies, and how many could not be attributed."""
        totals = self.ledger.totals
        if totals.measured == 0 and totals.not_attributable == 0:
            return (
                "No reply of this session has been measured against the balance yet "
                "(gateways that report a balance only)."
            )
        lines = [
            f"Measured replies: {totals.measured}",
            f"Reported: {format_credits(totals.reported)} credits",
            f"Billed: {format_credits(totals.billed)} credits",
            f"Difference: {totals.difference:+.6f} credits"
            + (f" ({totals.difference / totals.reported:+.1%})" if totals.reported else ""),
            f"Differing beyond rounding: {totals.differing}",
            f"Not attributable (replies overlapping a balance read, or several between two): "
            f"{totals.not_attributable}",
        ]
        return "\n".join(lines)

    # -- the routing presets ----------------------------------------------------------------

    def route(self, endpoint: str) -> RoutingChoice | None:
        """``endpoint`` resolved when it is a routing preset (None: it is not one). Blocking:
        reads the store; call it from a thread."""
        preset = preset_of(endpoint)
        if preset is None:
            return None
        model, mode = preset
        figures = []
        store = self.host.store
        store_path = None if store is None else store.path
        if store_path is not None:
            from tui_chat.store.spend import open_read_only, provider_figures

            try:
                conn = open_read_only(store_path)
                try:
                    figures = provider_figures(conn, model, gateway=self.gateway, last=LAST_REPLIES)
                finally:
                    conn.close()
            except Exception:  # no history to go by: the gateway's routing decides
                figures = []
        return choose(mode, model, figures)


def id_of(key: object) -> int:
    return key if isinstance(key, int) else -1
