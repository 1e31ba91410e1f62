"""The status bar: gateway and connection, balance, last and total spend, the day's spend against
a budget, live spend, served-by.

It keeps no tally of its own: the app sets these reactives from the conversation and the gateway.

One widget drawing one line (not a row of labels): the first frame has fewer widgets to style,
lay out and paint, and a change of a figure repaints this line only, never a relayout. Setting a
reactive repaints the bar only if the line it shows changes (the live spend and speed are set on
every streaming tick, often to figures that read the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar

from rich.cells import cell_len
from textual.content import Content, Span
from textual.reactive import reactive
from textual.widget import Widget

from tui_chat.core.accounting import NO_FIGURE, format_credits, plain_number
from tui_chat.core.endpoint import provider_of
from tui_chat.core.text import inert

if TYPE_CHECKING:
    from tui_chat.core.conversation import Conversation

T = TypeVar("T")

PARTS = ("gateway", "paused", "balance", "spend", "budget", "served", "speed", "saving")
# Between shown parts; the fit counts it after each one, last too (as the labels' margin-right: 2
# was counted), but it is not drawn after the last, so an ellipsis marks only text that is cut.
GAP = "  "

# The component class (styles/status.tcss) each styled part is drawn in; the gateway's depends
# on the connection (see _class_of).
_PART_CLASS = {
    "paused": "status-bar--paused",
    "served": "status-bar--served",
    "saving": "status-bar--saving",
}

# One row: a line break or tab in server-supplied text (an endpoint name) would push the rest of
# the bar onto a second line that is never shown, so they become a visible mark and a space.
_ONE_LINE = str.maketrans({"\n": "\u2424", "\t": " "})  # ␤

# What the bar shows: (part, text, component class or "") for every part, in order.
Shown = tuple[tuple[str, str, str], ...]


def _fact(default: T) -> reactive[T]:
    """A fact the bar shows. Setting it checks whether the line changes (``_changed``) and
    repaints only then; it never triggers a layout. No watcher runs at mount: the first paint
    reads every fact."""
    return reactive(default, repaint=False, init=False)


class StatusBar(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--online",
        "status-bar--offline",
        "status-bar--paused",
        "status-bar--served",
        "status-bar--saving",
        "status-bar--budget-warn",
        "status-bar--budget-over",
    }

    gateway: reactive[str] = _fact("")
    connection: reactive[str] = _fact("connecting")  # connecting | online | offline | no key
    balance: reactive[float | None] = _fact(None)
    balance_stale: reactive[bool] = _fact(False)
    has_balance: reactive[bool] = _fact(True)  # False: the gateway kind reports no balance
    show_credits: reactive[bool] = _fact(True)
    last_cost: reactive[float | None] = _fact(None)  # None: unknown ("–")
    last_mark: reactive[str] = _fact("")  # "~" for an estimate
    total_cost: reactive[float | None] = _fact(0.0)  # None: unknown ("–")
    total_mark: reactive[str] = _fact("")  # "~" holds an estimate, "≥" misses unknown costs
    spend_cap: reactive[float | None] = _fact(None)  # credits per conversation; None: no cap
    live_cost: reactive[float | None] = _fact(None)  # estimate while a reply streams
    live: reactive[bool] = _fact(False)  # a reply is streaming (its estimate may be unknown)
    served_endpoint: reactive[str] = _fact("")
    show_provider: reactive[bool] = _fact(True)
    speed: reactive[float | None] = _fact(None)  # tokens/s of the last or current reply
    paused: reactive[bool] = _fact(False)
    paused_note: reactive[str] = _fact("reply still arriving")
    retry_countdown: reactive[str] = _fact("")
    stale_reason: reactive[str] = _fact("")  # why the balance is stale: "offline", "HTTP 503"
    # "" while saving works; "saving… N pending", "waiting for the database", "save failed",
    # "not saving" (set by SavedConversations; see docs/storage.md)
    saving: reactive[str] = _fact("")
    budget: reactive[str] = _fact("")  # "Today 0.42/1.00" (core.budget); "": no budget set
    budget_level: reactive[str] = _fact("ok")  # ok | warn | over
    balance_low: reactive[bool] = _fact(False)  # below config.toml's low_balance
    billed_note: reactive[str] = _fact("")  # "billed 0.0105": the session's billed total differs

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # What the line shows and for which width; None until first needed.
        self._shown: Shown | None = None
        self._shown_width = -1

    def show_spend(self, conversation: Conversation) -> None:
        """Last and Chat for `conversation`: its last reply's cost and its total, marked."""
        last = conversation.last_reply
        spend = last.spend if last is not None else None
        self.last_cost = None if spend is None else spend.amount
        self.last_mark = "" if spend is None else spend.mark
        total = conversation.spend
        self.total_cost, self.total_mark = total.amount, total.mark

    # -- what is shown --------------------------------------------------------------------

    def part(self, name: str) -> str:
        """The text the bar shows for part ``name`` (one of ``PARTS``) at its current width;
        "" when that part is hidden."""
        for part, text, _ in self._current():
            if part == name:
                return text
        raise KeyError(f"no status bar part {name!r}; the parts are {', '.join(PARTS)}")

    @property
    def text(self) -> str:
        """The whole line as plain text (without the bar's padding)."""
        return GAP.join(text for _, text, _ in self._current() if text)

    def _current(self) -> Shown:
        width = self.size.width
        if self._shown is None or self._shown_width != width:
            self._shown = self._fit(width)
            self._shown_width = width
        return self._shown

    def _texts(self, squeeze: int) -> dict[str, str]:
        """What each part says. ``squeeze`` 1 leaves out what the reply's own line already says
        (the word "online", the served model, the last cost, the speed); 2 also the paused note."""
        compact = squeeze >= 1
        connection = "" if compact and self.connection == "online" else self.connection
        note = "" if squeeze >= 2 else f" ({self.paused_note or 'reply still arriving'})"
        texts = {
            "gateway": f"● {self.gateway} {connection}".strip(),
            "paused": self.retry_countdown or (f"⏸ PAUSED{note}" if self.paused else ""),
            "balance": "",
            "spend": "",
            "budget": self.budget if self.show_credits else "",
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
            if self.balance_low and self.balance is not None:
                balance += " ⚠ low"
            texts["balance"] = balance
            if self.live_cost is not None:
                spend = f"Reply ~{format_credits(self.live_cost, NO_FIGURE)} ▲"
            elif self.live:  # no prices to estimate from: unknown, not 0
                spend = f"Reply {NO_FIGURE} ▲"
            else:
                last = self.last_mark if self.last_cost is not None else ""
                spend = f"Last {last}{format_credits(self.last_cost, NO_FIGURE)}"
            total = self.total_mark if self.total_cost is not None else ""
            chat = f"Chat {total}{format_credits(self.total_cost, NO_FIGURE)}"
            if self.spend_cap is not None:
                chat += f" of {plain_number(self.spend_cap)} cap"
            if self.billed_note and squeeze < 2:  # the provenance lines still say it
                chat += f" ({self.billed_note})"
            compact_idle = compact and self.live_cost is None and not self.live
            texts["spend"] = chat if compact_idle else f"{spend} · {chat}"
        served = self.served_endpoint
        if compact:
            served = provider_of(served) or served
        texts["served"] = f"via {served}" if self.show_provider and served else ""
        texts["speed"] = f"{self.speed:.0f} tok/s" if self.speed and not compact else ""
        texts["saving"] = self.saving
        return texts

    def _fit(self, width: int) -> Shown:
        """The parts squeezed until they fit ``width``, made inert and one line each."""
        for squeeze in range(3):
            texts = {
                name: inert(text).translate(_ONE_LINE)
                for name, text in self._texts(squeeze).items()
            }
            # As the row of labels measured it: each shown part and a gap, plus 2 (meant for the
            # padding, which ``width`` already leaves out; kept: the bar squeezes where it did).
            needed = sum(cell_len(text) + len(GAP) for text in texts.values() if text) + 2
            if needed <= width:
                break
        return tuple((name, texts[name], self._class_of(name)) for name in PARTS)

    def _class_of(self, name: str) -> str:
        if name == "gateway":
            if self.connection == "online":
                return "status-bar--online"
            return "" if self.connection == "connecting" else "status-bar--offline"
        if name == "budget":
            return {"warn": "status-bar--budget-warn", "over": "status-bar--budget-over"}.get(
                self.budget_level, ""
            )
        return _PART_CLASS.get(name, "")

    # -- drawing ----------------------------------------------------------------------------

    def _changed(self) -> None:
        """A fact changed: repaint if the line it shows changes (no relayout: one row always)."""
        if self._shown is None:
            return  # not drawn yet: the first paint reads every fact
        shown = self._fit(self.size.width)
        if shown != self._shown:
            self._shown = shown
            self._shown_width = self.size.width
            self.refresh()

    def render(self) -> Content:
        text: list[str] = []
        spans: list[Span] = []
        position = 0
        for _, part, component in self._current():
            if not part:
                continue
            if component:
                style = self.get_visual_style(component, partial=True)
                spans.append(Span(position, position + len(part), style))
            text.append(part)
            position += len(part) + len(GAP)
        # Parts and gaps are plain text, never markup: server-supplied names stay inert.
        return Content(GAP.join(text), spans)

    watch_gateway = watch_connection = watch_balance = watch_balance_stale = _changed
    watch_has_balance = watch_show_credits = watch_last_cost = watch_total_cost = _changed
    watch_last_mark = watch_total_mark = _changed
    watch_live = _changed
    watch_spend_cap = watch_live_cost = watch_served_endpoint = watch_show_provider = _changed
    watch_speed = watch_paused = watch_paused_note = watch_retry_countdown = _changed
    watch_stale_reason = watch_saving = _changed
    watch_budget = watch_budget_level = watch_balance_low = watch_billed_note = _changed
