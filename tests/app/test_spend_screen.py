"""The spend screen: f9 and the palette open it, it shows the stored figures (each checked against
the replies of tests/store/test_spend.py's store, by hand), enter on a conversation opens it, it
fits 80x24 (plots above their tables), it follows a light theme, and ctrl+e writes the CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.color import Color
from textual.widgets import DataTable, Static, TabbedContent
from textual_plotext import PlotextPlot

from tests.app.conftest import APP_SIZE, terminal_output, wait_until
from tests.store.test_spend import fill_known
from tui_chat.store import Store
from tui_chat.store.spend import load_spend_report, spend_csv
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.screens.spend import SpendScreen
from tui_chat.ui.widgets.messages import UserTurn


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "data" / "conversations.db")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def known(store: Store) -> dict[str, int]:
    return fill_known(store)


def spend_screen(app: UnifyTUI) -> SpendScreen:
    screen = app.screen
    assert isinstance(screen, SpendScreen)
    return screen


def loaded(app: UnifyTUI) -> bool:
    return isinstance(app.screen, SpendScreen) and app.screen.report is not None


async def open_spend(pilot: Any, key: str = "f9") -> SpendScreen:
    await pilot.press(key)
    await wait_until(pilot, lambda: loaded(pilot.app), what="the spend screen, filled")
    await pilot.pause()
    return spend_screen(pilot.app)


def rows(screen: SpendScreen, table_id: str) -> list[list[str]]:
    table: DataTable[Text] = screen.query_one(f"#{table_id}", DataTable)
    return [
        [str(cell).strip() for cell in table.get_row_at(index)] for index in range(table.row_count)
    ]


def summary(screen: SpendScreen) -> str:
    return str(screen.query_one("#spend-summary", Static).render())


async def test_f9_shows_every_figure_of_the_store(
    make_app: Any, store: Store, known: dict[str, int]
) -> None:
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_spend(pilot)
        assert summary(screen).startswith("All 7 saved replies: ≥1.800000 credits · this month")
        assert rows(screen, "spend-periods") == [  # newest first
            ["2026-12-01", "–", "2", "~15"],
            ["2026-11-09", "≥0.500000", "2", "~1,100"],
            ["2026-11-04", "~1.200000", "2", "2,500"],
            ["2026-11-02", "0.100000", "1", "500"],
        ]
        assert rows(screen, "spend-models") == [
            ["llama-3.1-8b-chat", "≥1.500000", "3", "~3,100"],
            ["gpt-4o-mini", "≥0.300000", "3", "~1,015"],
            ["claude-3.5-sonnet", "0.000000", "1", "0"],
        ]
        assert rows(screen, "spend-providers") == [
            ["groq", "≥1.000000", "2", "2,100"],
            ["together-ai", "0.500000", "1", "~1,000"],
            ["openai", "≥0.300000", "3", "~1,015"],
            ["–", "0.000000", "1", "0"],
        ]
        assert rows(screen, "spend-gateways") == [
            ["openrouter", "≥1.500000", "3", "~3,100"],
            ["unify", "~0.300000", "2", "1,000"],
            ["demo", "–", "1", "~15"],
            ["not recorded", "0.000000", "1", "0"],
        ]
        assert [row[:3] for row in rows(screen, "spend-conversations")] == [
            ["big", "≥1.500000", "3"],
            ["cheap", "~0.300000", "2"],
            ["failed", "0.000000", "1"],
            ["unknown", "–", "1"],
        ]
        assert rows(screen, "spend-endpoints") == [
            ["llama-3.1-8b-chat@groq", "≥1.000000", "2", "2,100", "0.500000"],
            ["llama-3.1-8b-chat@together-ai", "0.500000", "1", "~1,000", "~0.500000"],
            ["gpt-4o-mini@openai", "≥0.300000", "3", "~1,015", "~0.300000"],
            ["–", "0.000000", "1", "0", "–"],
        ]
        assert rows(screen, "spend-speeds") == [
            ["gpt-4o-mini", "openai", "2", "300 ms", "350 tok/s"],
            ["llama-3.1-8b-chat", "groq", "2", "200 ms", "1,050 tok/s"],
            ["llama-3.1-8b-chat", "together-ai", "1", "500 ms", "~250 tok/s"],
        ]
        # what the terminal gets: the first tab's table and the legend of the marks
        shown = terminal_output(app)
        for text in ("≥0.500000", "~1.200000", "~ estimate", "≥ at least", "– unknown"):
            assert text in shown

        await pilot.press("ctrl+t")  # per week
        await pilot.pause()
        assert rows(screen, "spend-periods") == [
            ["week of 2026-11-30", "–", "2", "~15"],
            ["week of 2026-11-09", "≥0.500000", "2", "~1,100"],
            ["week of 2026-11-02", "~1.300000", "3", "3,000"],
        ]
        await pilot.press("ctrl+t")  # per month
        await pilot.pause()
        assert [row[:3] for row in rows(screen, "spend-periods")] == [
            ["2026-12", "–", "2"],
            ["2026-11", "≥1.800000", "5"],
        ]
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SpendScreen), what="closed")


async def test_the_palette_opens_the_spend_screen(
    make_app: Any, store: Store, known: dict[str, int]
) -> None:
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Spend")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: loaded(app), what="the spend screen from the palette")


async def test_enter_on_a_conversation_opens_it(
    make_app: Any, store: Store, known: dict[str, int]
) -> None:
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_spend(pilot)
        screen.query_one("#spend-tabs", TabbedContent).active = "spend-conversations-tab"
        table: DataTable[Text] = screen.query_one("#spend-conversations", DataTable)
        table.focus()
        await pilot.pause()
        await pilot.press("down")  # the second most expensive: "cheap"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.conversation_id == known["cheap"], what="opened")
        assert not isinstance(app.screen, SpendScreen)
        await wait_until(pilot, lambda: len(app.chat_log.query(UserTurn)) == 2, what="its turns")


async def test_narrow_terminal_puts_each_plot_above_its_table(
    make_app: Any, store: Store, known: dict[str, int]
) -> None:
    app = make_app(store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_spend(pilot)
        assert screen.has_class("-narrow")
        plot = screen.query_one("#spend-time-plot", PlotextPlot)
        table = screen.query_one("#spend-periods", DataTable)
        assert plot.region.width == table.region.width == 80
        assert plot.region.bottom <= table.region.y
        assert plot.region.height >= 6 and table.region.height >= 3
        shown = terminal_output(app)
        assert "≥1.800000" in shown and "2026-12-01" in shown and "Export CSV" in shown
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_spend(pilot)
        assert screen.has_class("-wide")
        plot = screen.query_one("#spend-time-plot", PlotextPlot)
        table = screen.query_one("#spend-periods", DataTable)
        assert plot.region.right <= table.region.x and plot.region.y == table.region.y


async def test_bars_take_the_themes_colour_in_a_light_theme_too(
    make_app: Any, store: Store, known: dict[str, int]
) -> None:
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        for theme in ("textual-dark", "textual-light"):
            app.theme = theme
            await pilot.pause()
            screen = await open_spend(pilot) if not loaded(app) else spend_screen(app)
            await pilot.pause()
            bar = ";".join(map(str, Color.parse(app.theme_variables["primary"]).rgb))
            surface = ";".join(map(str, Color.parse(app.theme_variables["surface"]).rgb))
            # the bars: the theme's primary colour on its surface (the plot's own background)
            assert f"38;2;{bar};48;2;{surface}m" in terminal_output(app), theme
        assert screen.report is not None


async def test_ctrl_e_writes_the_spend_as_csv_in_the_export_folder(
    make_app: Any, store: Store, known: dict[str, int], tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    app = make_app(store=store, export_dir=folder)
    async with app.run_test(size=APP_SIZE) as pilot:
        await open_spend(pilot)
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: folder.is_dir() and any(folder.iterdir()), what="csv")
        (path,) = folder.iterdir()
        await wait_until(
            pilot,
            lambda: any("Exported to" in str(n.message) for n in app._notifications),
            what="the notice",
        )
    assert path.suffix == ".csv" and stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    expected = await asyncio.to_thread(load_spend_report, store.path)
    assert text == spend_csv(expected)
    table = list(csv.reader(io.StringIO(text)))
    assert table[1] == ["total", "all replies", "1.800000", "lower bound", "7", "1860", "2255"]


async def test_without_a_store_f9_says_there_is_nothing_to_show(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("f9")
        await pilot.pause()
        assert not isinstance(app.screen, SpendScreen)
        assert any("no spend to show" in str(n.message) for n in app._notifications)


async def test_an_empty_store_says_so(make_app: Any, store: Store) -> None:
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_spend(pilot)
        assert summary(screen).startswith("No saved replies yet")
        assert rows(screen, "spend-periods") == [] and rows(screen, "spend-models") == []


async def test_routing_and_billing_show_the_presets_and_the_reconciliation(
    make_app: Any, store: Store
) -> None:
    from tests.store.conftest import reply

    conversation = store.create_conversation("presets").id
    for served, ttft, duration, billed in (
        ("groq", 100.0, 1100.0, 0.00105),
        ("groq", 300.0, 2300.0, None),
        ("together-ai", 500.0, 4500.0, 0.0011),
    ):
        message = reply(
            "x", requested="llama-3.1-8b-chat@my-fastest", served=f"llama-3.1-8b-chat@{served}"
        )
        message.ttft_ms, message.duration_ms = ttft, duration
        message.prompt_tokens, message.completion_tokens, message.cost = 100, 400, 0.001
        message.billed_cost = billed
        store.append_message(conversation, message)
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_spend(pilot)
        screen.query_one(TabbedContent).active = "spend-routing-tab"
        await pilot.pause()
        # groq: 400 tok over 1.0 s and 2.0 s -> median 300 tok/s; TTFT 100 and 300 -> 200 ms;
        # 0.002 credits over 1,000 tokens -> 0.002 per 1,000. together-ai: 100 tok/s.
        assert rows(screen, "spend-presets") == [
            ["@my-fastest", "groq", "2", "200 ms", "300 tok/s", "0.002000"],
            ["@my-fastest", "together-ai", "1", "500 ms", "100 tok/s", "0.002000"],
        ]
        billing = str(screen.query_one("#spend-billing", Static).render())
        # measured: 0.001 + 0.001 reported, 0.00105 + 0.0011 billed
        assert billing.startswith(
            "Billed vs reported over 2 measured replies: reported 0.002000, billed 0.002150, "
            "difference +0.000150 credits (+7.5%)."
        )
        assert "This session:\nNo reply of this session has been measured" in billing
