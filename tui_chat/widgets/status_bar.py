"""The status bar: gateway and connection, balance, last and total spend, live spend, served-by.

It keeps no tally of its own: the app sets these reactives from the conversation and the gateway.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Label

from tui_chat.core.accounting import NO_FIGURE, format_credits
from tui_chat.core.endpoint import provider_of
from tui_chat.core.text import inert

_MARGIN = 2  # cells after each label: styles/status.tcss `#status Label { margin-right: 2 }`


class StatusBar(Horizontal):
    gateway: reactive[str] = reactive("")
    connection: reactive[str] = reactive("connecting")  # connecting | online | offline | no key
    balance: reactive[float | None] = reactive(None)
    balance_stale: reactive[bool] = reactive(False)
    has_balance: reactive[bool] = reactive(True)  # False: the gateway kind reports no balance
    show_credits: reactive[bool] = reactive(True)
    last_cost: reactive[float | None] = reactive(None)
    total_cost: reactive[float] = reactive(0.0)
    spend_cap: reactive[float | None] = reactive(None)  # credits per conversation; None: no cap
    live_cost: reactive[float | None] = reactive(None)  # estimate while a reply streams
    served_endpoint: reactive[str] = reactive("")
    show_provider: reactive[bool] = reactive(True)
    speed: reactive[float | None] = reactive(None)  # tokens/s of the last or current reply
    paused: reactive[bool] = reactive(False)
    paused_note: reactive[str] = reactive("reply still arriving")
    retry_countdown: reactive[str] = reactive("")
    stale_reason: reactive[str] = reactive("")  # why the balance is stale: "offline", "HTTP 503"
    saving: reactive[str] = reactive("")  # "" while saving works; "not saving" / "save failed"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: dict[str, str] = {}  # label name -> the text it shows

    def compose(self) -> ComposeResult:
        yield Label(id="status-gateway")
        yield Label(id="status-paused")
        yield Label(id="status-balance")
        yield Label(id="status-spend")
        yield Label(id="status-served")
        yield Label(id="status-speed")
        yield Label(id="status-saving")

    def _label(self, name: str) -> Label:
        return self.query_one(f"#status-{name}", Label)

    def _set(self, name: str, text: str) -> None:
        if self._shown.get(name) == text:
            return  # unchanged: no update, so no relayout (the bar refreshes on every tick)
        self._shown[name] = text
        label = self._label(name)
        label.update(Content(inert(text)))
        label.display = bool(text)

    def on_mount(self) -> None:
        self._refresh_all()

    def on_resize(self) -> None:
        self._refresh_all()

    def _texts(self, squeeze: int) -> dict[str, str]:
        """What each label says. ``squeeze`` 1 leaves out what the reply's own line already says
        (the word "online", the served model, the last cost, the speed); 2 also the paused note."""
        compact = squeeze >= 1
        connection = "" if compact and self.connection == "online" else self.connection
        note = "" if squeeze >= 2 else f" ({self.paused_note or 'reply still arriving'})"
        texts = {
            "gateway": f"● {self.gateway} {connection}".strip(),
            "paused": self.retry_countdown or (f"⏸ PAUSED{note}" if self.paused else ""),
            "balance": "",
            "spend": "",
        }
        if self.show_credits:
            balance = (
                f"Balance {format_credits(self.balance, NO_FIGURE)}"
                if self.has_balance
                else "Balance n/a"
            )
            if self.balance_stale:
                reason = self.stale_reason or "not updated"
                balance += f" (stale: {reason})" if self.balance is not None else f" ({reason})"
            texts["balance"] = balance
            if self.live_cost is not None:
                spend = f"Reply ~{format_credits(self.live_cost, NO_FIGURE)} ▲"
            else:
                spend = f"Last {format_credits(self.last_cost, NO_FIGURE)}"
            chat = f"Chat {format_credits(self.total_cost, NO_FIGURE)}"
            if self.spend_cap is not None:
                chat += f" of {self.spend_cap:g} cap"
            compact_idle = compact and self.live_cost is None
            texts["spend"] = chat if compact_idle else f"{spend} · {chat}"
        served = self.served_endpoint
        if compact:
            served = provider_of(served) or served
        texts["served"] = f"via {served}" if self.show_provider and served else ""
        texts["speed"] = f"{self.speed:.0f} tok/s" if self.speed and not compact else ""
        texts["saving"] = self.saving
        return texts

    def _refresh_all(self) -> None:
        for squeeze in range(3):
            texts = self._texts(squeeze)
            # A shown label takes its text and a 2-cell margin; the bar has 1 cell padding a side.
            needed = sum(cell_len(text) + _MARGIN for text in texts.values() if text) + 2
            if needed <= self.size.width:
                break
        for name, text in texts.items():
            self._set(name, text)
        self._label("gateway").set_class(self.connection == "online", "-online")
        self._label("gateway").set_class(
            self.connection not in ("online", "connecting"), "-offline"
        )

    # Every displayed fact funnels into one redraw; cheap (a handful of labels).
    def watch_gateway(self) -> None:
        self._refresh_if_mounted()

    def _refresh_if_mounted(self) -> None:
        if self.is_mounted:
            self._refresh_all()

    watch_connection = watch_balance = watch_balance_stale = watch_show_credits = watch_gateway
    watch_last_cost = watch_total_cost = watch_live_cost = watch_served_endpoint = watch_gateway
    watch_show_provider = watch_speed = watch_paused = watch_retry_countdown = watch_gateway
    watch_stale_reason = watch_has_balance = watch_gateway
    watch_paused_note = watch_saving = watch_spend_cap = watch_gateway
