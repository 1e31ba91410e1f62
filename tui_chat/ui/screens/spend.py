"""The spend screen (f9, or "Spend" in the palette): what the saved replies cost.

Spend over time (per day, week or month) and by model as plots with tables beside them; per
provider, per gateway and per endpoint (with the cost per 1,000 tokens) as tables; the most
expensive conversations (enter opens one); and the median time to first token and tokens/s of
each model on each provider, from the user's own replies. Figures are marked as everywhere in
the app: ``~`` an estimate, ``≥`` a total missing a reply whose cost is unknown, ``–`` unknown.

The figures come from ``tui_chat.store.spend`` (SQL aggregates over the database file, read in a
thread worker on a read-only connection of its own), so the screen's first frame comes at once
and the figures fill in when they are read. The screen hands a chosen conversation back to the
app through ``dismiss``, as the conversation list does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.color import Color
from textual.containers import Horizontal
from textual.message import Message as TextualMessage
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import DataTable, Label, Static, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from tui_chat.core.accounting import NO_FIGURE, Spend
from tui_chat.core.text import inert
from tui_chat.store.spend import SpendReport, SpendRow, load_spend_report
from tui_chat.ui.bindings import textual_bindings
from tui_chat.ui.screens.conversations import OpenConversation
from tui_chat.ui.widgets.footer import KeyFooter

PERIODS = ("day", "week", "month")
# How many of the latest periods the plot shows (the table lists them all, newest first).
PLOTTED = {"day": 30, "week": 26, "month": 36}
PERIOD_TITLES = {"day": "per day", "week": "per week (from Monday)", "month": "per month"}
LEGEND = "~ estimate · ≥ at least: some replies' cost is unknown · – unknown"


@dataclass
class SpendLoaded(TextualMessage):
    """The spend was read (posted to the screen by its worker)."""

    report: SpendReport


@dataclass
class SpendFailed(TextualMessage):
    """The spend could not be read; ``text`` says why (posted to the screen by its worker)."""

    text: str


def figure(spend: Spend) -> Text:
    """A spend as the status bar writes it (``0.000014``, ``~…``, ``≥…``, ``–``), right-aligned."""
    return Text(str(spend), justify="right")


def count(value: int, *, estimated: bool = False) -> Text:
    """A count with thousands separators; ``~`` when some of it was counted from the text."""
    return Text(f"{'~' if estimated else ''}{value:,}", justify="right")


def name_cell(name: str | None, unknown: str = NO_FIGURE) -> Text:
    """A name from the store (a model, a title): data, never markup, control characters shown."""
    return Text(unknown if name is None else inert(name))


def milliseconds(value: float | None) -> Text:
    return Text(NO_FIGURE if value is None else f"{value:,.0f} ms", justify="right")


def per_second(value: float | None, *, estimated: bool) -> Text:
    if value is None:
        return Text(NO_FIGURE, justify="right")
    return Text(f"{'~' if estimated else ''}{value:,.0f} tok/s", justify="right")


def period_label(period: str, name: str | None) -> str:
    """How a period's row is named: ``2026-11-30``, ``week of 2026-11-30``, ``2026-11``."""
    if name is None:
        return NO_FIGURE
    return f"week of {name}" if period == "week" else name


def summary_text(report: SpendReport) -> str:
    """The line above the tabs: everything, this month, this week, today."""
    if report.total.replies == 0:
        return "No saved replies yet: the spend shows here once you have chatted."

    def spent(rows: tuple[SpendRow, ...], name: str) -> str:
        row = report.period(rows, name)
        return str(row.spend if row is not None else Spend(0.0))

    return (
        f"All {report.total.replies:,} saved replies: {report.total.spend} credits · "
        f"this month {spent(report.months, report.this_month)} · "
        f"this week {spent(report.weeks, report.this_week)} · "
        f"today {spent(report.days, report.today)}"
    )


def billing_text(report: SpendReport) -> str:
    """Billed vs reported over the saved replies whose bill was measured."""
    billing = report.billing
    if billing.replies == 0:
        return (
            "Billed vs reported: no saved reply has a measured bill yet (a gateway with a "
            "balance, one reply between two balance readings)."
        )
    share = f" ({billing.difference / billing.reported:+.1%})" if billing.reported else ""
    return (
        f"Billed vs reported over {billing.replies:,} measured replies: reported "
        f"{billing.reported:.6f}, billed {billing.billed:.6f}, difference "
        f"{billing.difference:+.6f} credits{share}."
    )


class SpendScreen(Screen[OpenConversation | None]):
    """Plots and tables of what the saved replies cost; enter on a conversation opens it."""

    CSS_PATH = "../styles/spend.tcss"
    BINDINGS: ClassVar[list[BindingType]] = textual_bindings("spend")
    # Below 100 columns a plot goes above its table instead of beside it.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    period: reactive[str] = reactive("day", init=False)

    def __init__(
        self,
        database: Path,
        *,
        flush: Callable[[], object] | None = None,
        export_dir: Path | None = None,
        now: Callable[[], float] = time.time,
        session_billing: Callable[[], str] | None = None,
    ) -> None:
        """``database``: the store's file, read on a connection of its own. ``flush``: called
        (in the worker) first, so what was just said is counted. ``export_dir``: where the CSV
        goes (None: the exports' default folder). ``session_billing``: this session's billed vs
        reported reconciliation (``SpendWatch.reconciliation``), shown under the saved one."""
        super().__init__()
        self.database = database
        self.flush = flush
        self.export_dir = export_dir
        self.now = now
        self.report: SpendReport | None = None
        self.session_billing = session_billing

    def compose(self) -> ComposeResult:
        yield Label("Spend", id="spend-title")
        yield Static("Reading the spend of every saved reply…", id="spend-summary")
        with TabbedContent(id="spend-tabs"):
            with TabPane("Over time", id="spend-time"), Horizontal(classes="spend-row"):
                yield PlotextPlot(id="spend-time-plot")
                yield DataTable(id="spend-periods", cursor_type="row", zebra_stripes=True)
            with TabPane("Models", id="spend-models-tab"), Horizontal(classes="spend-row"):
                yield PlotextPlot(id="spend-model-plot")
                yield DataTable(id="spend-models", cursor_type="row", zebra_stripes=True)
            with TabPane("Providers", id="spend-providers-tab"):
                yield DataTable(id="spend-providers", cursor_type="row", zebra_stripes=True)
            with TabPane("Gateways", id="spend-gateways-tab"):
                yield DataTable(id="spend-gateways", cursor_type="row", zebra_stripes=True)
            with TabPane("Conversations", id="spend-conversations-tab"):
                yield DataTable(id="spend-conversations", cursor_type="row", zebra_stripes=True)
            with TabPane("Endpoints", id="spend-endpoints-tab"):
                yield DataTable(id="spend-endpoints", cursor_type="row", zebra_stripes=True)
            with TabPane("Speed", id="spend-speeds-tab"):
                yield DataTable(id="spend-speeds", cursor_type="row", zebra_stripes=True)
            with TabPane("Routing & billing", id="spend-routing-tab"):
                yield Static("", id="spend-billing")
                yield DataTable(id="spend-presets", cursor_type="row", zebra_stripes=True)
        yield Static(LEGEND, id="spend-legend")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._table("spend-periods").add_columns("Period", "Credits", "Replies", "Tokens")
        for table_id, first in (
            ("spend-models", "Model"),
            ("spend-providers", "Provider"),
            ("spend-gateways", "Gateway"),
        ):
            self._table(table_id).add_columns(first, "Credits", "Replies", "Tokens")
        self._table("spend-conversations").add_columns(
            "Conversation", "Credits", "Replies", "Last reply"
        )
        self._table("spend-endpoints").add_columns(
            "Endpoint", "Credits", "Replies", "Tokens", "Per 1,000 tokens"
        )
        self._table("spend-speeds").add_columns(
            "Model", "Provider", "Replies", "Median TTFT", "Median speed"
        )
        self._table("spend-presets").add_columns(
            "Preset", "Chose", "Replies", "Median TTFT", "Median speed", "Per 1,000 tokens"
        )
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self._draw_plots()
        # Read once the first frame is out: the worker's start does not delay it.
        self.call_after_refresh(self.load_report)

    def _table(self, table_id: str) -> DataTable[Text]:
        return self.query_one(f"#{table_id}", DataTable)

    # -- reading ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="spend")
    def load_report(self) -> None:
        try:
            if self.flush is not None:
                self.flush()  # so the reply just received is counted
            report = load_spend_report(self.database, now=self.now())
        except Exception as error:
            self.post_message(SpendFailed(f"Could not read the spend: {error}"))
            return
        self.post_message(SpendLoaded(report))

    @on(SpendFailed)
    def _show_problem(self, event: SpendFailed) -> None:
        self.query_one("#spend-summary", Static).update(Text(inert(event.text)))

    @on(SpendLoaded)
    def _show_report(self, event: SpendLoaded) -> None:
        report = self.report = event.report
        self.query_one("#spend-summary", Static).update(Text(summary_text(report)))
        self._fill_periods()
        self._fill_groups(self._table("spend-models"), report.models)
        self._fill_groups(self._table("spend-providers"), report.providers)
        self._fill_groups(self._table("spend-gateways"), report.gateways, unknown="not recorded")
        conversations = self._table("spend-conversations")
        conversations.clear()
        for conversation in report.conversations:
            conversations.add_row(
                name_cell(conversation.title or "(untitled)"),
                figure(conversation.row.spend),
                count(conversation.row.replies),
                Text(time.strftime("%Y-%m-%d", time.localtime(conversation.last_reply_at))),
                key=str(conversation.conversation_id),
            )
        rates = {rate.endpoint: rate for rate in report.rates}
        endpoints = self._table("spend-endpoints")
        endpoints.clear()
        for row in report.endpoints:
            rate = rates.get(row.name) if row.name is not None else None
            endpoints.add_row(
                name_cell(row.name),
                figure(row.spend),
                count(row.replies),
                count(row.prompt_tokens + row.completion_tokens, estimated=row.tokens_estimated),
                figure(rate.rate if rate is not None else Spend(None)),
            )
        speeds = self._table("spend-speeds")
        speeds.clear()
        for speed in report.speeds:
            speeds.add_row(
                name_cell(speed.model),
                name_cell(speed.provider),
                count(speed.replies),
                milliseconds(speed.median_ttft_ms),
                per_second(speed.median_tokens_per_s, estimated=speed.tokens_estimated),
            )
        presets = self._table("spend-presets")
        presets.clear()
        for preset in report.presets:
            presets.add_row(
                Text(f"@{preset.preset}"),
                name_cell(preset.provider),
                count(preset.replies),
                milliseconds(preset.median_ttft_ms),
                per_second(preset.median_tokens_per_s, estimated=False),
                figure(Spend(preset.cost_per_1k)),
            )
        billing = billing_text(report)
        if self.session_billing is not None:
            billing += "\n\nThis session:\n" + self.session_billing()
        self.query_one("#spend-billing", Static).update(Text(billing))
        self._draw_plots()

    def _period_rows(self) -> tuple[SpendRow, ...]:
        if self.report is None:
            return ()
        report = self.report
        return {"day": report.days, "week": report.weeks, "month": report.months}[self.period]

    def _fill_periods(self) -> None:
        table = self._table("spend-periods")
        table.clear()
        for row in reversed(self._period_rows()):  # the newest first
            table.add_row(
                Text(period_label(self.period, row.name)),
                figure(row.spend),
                count(row.replies),
                count(row.prompt_tokens + row.completion_tokens, estimated=row.tokens_estimated),
            )

    @staticmethod
    def _fill_groups(
        table: DataTable[Text], rows: Sequence[SpendRow], unknown: str = NO_FIGURE
    ) -> None:
        table.clear()
        for row in rows:
            table.add_row(
                name_cell(row.name, unknown),
                figure(row.spend),
                count(row.replies),
                count(row.prompt_tokens + row.completion_tokens, estimated=row.tokens_estimated),
            )

    # -- plots --------------------------------------------------------------------------

    def _theme_changed(self, theme: Theme) -> None:
        self._draw_plots()

    def _bar_colour(self) -> tuple[int, int, int]:
        """The theme's primary colour, for the bars (the plot's own background and text follow
        the theme through textual-plotext)."""
        return Color.parse(self.app.theme_variables.get("primary", "#0178d4")).rgb

    def _draw_plots(self) -> None:
        colour = self._bar_colour()
        rows = self._period_rows()[-PLOTTED[self.period] :]
        time_plot = self.query_one("#spend-time-plot", PlotextPlot)
        plt = time_plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"Credits {PERIOD_TITLES[self.period]}")
        if rows:
            positions = [float(place) for place in range(len(rows))]
            # A period with no figure (–) draws no bar; the table beside says "–".
            plt.bar(positions, [row.spend.amount or 0.0 for row in rows], color=colour)
            step = max(1, len(rows) // 6)
            ticks = positions[::step]
            labels = [_short_period(self.period, rows[int(place)].name) for place in ticks]
            plt.xticks(ticks, labels)
        time_plot.refresh()

        model_plot = self.query_one("#spend-model-plot", PlotextPlot)
        plt = model_plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("Credits by model")
        models = [row for row in (self.report.models if self.report else ()) if row.spend.amount]
        if models:
            shown = models[:8]
            plt.bar(
                [_short_name(row.name) for row in reversed(shown)],
                [row.spend.amount or 0.0 for row in reversed(shown)],
                orientation="horizontal",
                color=colour,
                width=0.6,
            )
        model_plot.refresh()

    # -- actions ------------------------------------------------------------------------

    def watch_period(self) -> None:
        self._fill_periods()
        self._draw_plots()

    def action_next_period(self) -> None:
        self.period = PERIODS[(PERIODS.index(self.period) + 1) % len(PERIODS)]
        self.query_one("#spend-tabs", TabbedContent).active = "spend-time"

    def action_close(self) -> None:
        self.dismiss(None)

    @on(DataTable.RowSelected, "#spend-conversations")
    def _conversation_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.dismiss(OpenConversation(int(event.row_key.value)))

    def action_export_csv(self) -> None:
        if self.report is None:
            self.notify("The spend is still being read.", timeout=3)
            return
        self._write_csv(self.report)

    @work(thread=True, group="spend-export")
    def _write_csv(self, report: SpendReport) -> None:
        from tui_chat.store.export import ExportError, default_export_dir
        from tui_chat.store.spend import write_spend_csv
        from tui_chat.ui.saved_messages import ExportFailed, ExportWritten

        folder = self.export_dir or default_export_dir()
        try:
            path = write_spend_csv(report, folder)
        except ExportError as error:
            self.app.post_message(ExportFailed(error.folder, error.path, error.reason))
            return
        self.app.post_message(ExportWritten(path))


def _short_period(period: str, name: str | None) -> str:
    """A tick under the time plot: ``11-30`` for a day or week, ``2026-11`` for a month."""
    if name is None:
        return NO_FIGURE
    return name if period == "month" else name[5:]


def _short_name(name: str | None) -> str:
    shown = NO_FIGURE if name is None else inert(name)
    return shown if len(shown) <= 20 else shown[:19] + "…"
