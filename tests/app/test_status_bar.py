"""The status bar on its own: one widget drawing one line of parts, squeezed to fit, coloured by
its component classes (styles/status.tcss), repainted only when what it shows changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from rich.color import Color as RichColor
from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.color import Color
from textual.geometry import Region
from textual.pilot import Pilot
from textual.visual import Visual

import tui_chat.ui
from tui_chat.ui.widgets.status_bar import PARTS, StatusBar

ENDPOINT = "llama-3.1-8b-chat@groq"


class BarApp(App[None]):
    CSS_PATH: ClassVar[Any] = Path(tui_chat.ui.__file__).parent / "styles" / "status.tcss"

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")


def after_a_reply(bar: StatusBar) -> None:
    """What the bar holds after one reply on the demo gateway."""
    bar.gateway = "Demo gateway"
    bar.connection = "online"
    bar.balance = 24.999997
    bar.last_cost = 0.000003
    bar.total_cost = 0.000003
    bar.served_endpoint = ENDPOINT
    bar.speed = 93.0


def screen_line(bar: StatusBar) -> list[Segment]:
    """The bar's row as drawn (padding included)."""
    return list(bar.render_lines(Region(0, 0, bar.outer_size.width, 1))[0])


def text_of(segments: list[Segment]) -> str:
    return "".join(segment.text for segment in segments)


def segment_with(segments: list[Segment], text: str) -> Segment:
    return next(segment for segment in segments if text in segment.text)


def theme_colour(app: App[Any], variable: str) -> RichColor:
    return Color.parse(app.get_css_variables()[variable]).rich_color


async def shown(pilot: Pilot[Any]) -> StatusBar:
    await pilot.pause()
    return pilot.app.query_one(StatusBar)


async def test_a_small_spend_cap_is_written_out() -> None:
    app = BarApp()
    async with app.run_test(size=(200, 3)) as pilot:
        bar = app.query_one(StatusBar)
        after_a_reply(bar)
        bar.spend_cap = 1e-05
        bar = await shown(pilot)
        assert bar.part("spend").endswith("of 0.00001 cap")  # regression: "of 1e-05 cap"


async def test_all_parts_in_order_each_followed_by_a_two_cell_gap() -> None:
    app = BarApp()
    async with app.run_test(size=(200, 3)) as pilot:
        bar = app.query_one(StatusBar)
        after_a_reply(bar)
        bar.paused = True
        bar.spend_cap = 2.5
        bar.saving = "not saving"
        bar.budget = "Today 0.42/1.00"
        bar = await shown(pilot)
        expected = {
            "gateway": "● Demo gateway online",
            "paused": "⏸ PAUSED (reply still arriving)",
            "balance": "Balance 24.999997",
            "spend": "Last 0.000003 · Chat 0.000003 of 2.5 cap",
            "budget": "Today 0.42/1.00",
            "served": f"via {ENDPOINT}",
            "speed": "93 tok/s",
            "saving": "not saving",
        }
        assert {name: bar.part(name) for name in PARTS} == expected
        line = "  ".join(expected[name] for name in PARTS)
        assert bar.text == line
        assert text_of(screen_line(bar)) == f" {line}".ljust(200)


async def test_hidden_parts_leave_no_gap() -> None:
    app = BarApp()
    async with app.run_test(size=(120, 3)) as pilot:
        bar = app.query_one(StatusBar)
        bar.gateway = "Demo gateway"
        bar.show_credits = False
        bar = await shown(pilot)
        assert bar.part("balance") == bar.part("spend") == bar.part("served") == ""
        assert bar.text == "● Demo gateway connecting"
        assert text_of(screen_line(bar)).rstrip() == " ● Demo gateway connecting"


async def test_squeezes_to_80_columns_and_shows_everything_at_120() -> None:
    app = BarApp()
    async with app.run_test(size=(120, 3)) as pilot:
        bar = app.query_one(StatusBar)
        after_a_reply(bar)
        bar = await shown(pilot)
        wide = (
            f"● Demo gateway online  Balance 24.999997  Last 0.000003 · Chat 0.000003  "
            f"via {ENDPOINT}  93 tok/s"
        )
        assert bar.text == wide
        assert text_of(screen_line(bar)).rstrip() == f" {wide}"

        await pilot.resize_terminal(80, 3)
        bar = await shown(pilot)
        # The reply's own line says "online", the model, the last cost and the speed.
        narrow = "● Demo gateway  Balance 24.999997  Chat 0.000003  via groq"
        assert bar.text == narrow
        assert bar.part("speed") == ""
        assert text_of(screen_line(bar)).rstrip() == f" {narrow}"

        # Paused at 80 columns: the note goes too, the pause itself stays.
        bar.paused = True
        bar.live_cost = 0.000002
        bar = await shown(pilot)
        assert bar.part("paused") == "⏸ PAUSED"
        assert bar.part("spend") == "Reply ~0.000002 ▲ · Chat 0.000003"
        assert "⏸ PAUSED  Balance" in text_of(screen_line(bar))
        # Streaming with no prices to estimate from: unknown, not "~0.000000" (a regression).
        bar.live, bar.live_cost = True, None
        bar = await shown(pilot)
        assert bar.part("spend") == "Reply \u2013 \u25b2 · Chat 0.000003"
        bar.live = False

        await pilot.resize_terminal(120, 3)
        bar = await shown(pilot)
        assert bar.part("paused") == "⏸ PAUSED (reply still arriving)"


async def test_colours_come_from_the_component_classes() -> None:
    app = BarApp()
    async with app.run_test(size=(120, 3)) as pilot:
        bar = app.query_one(StatusBar)
        after_a_reply(bar)
        bar.paused = True
        bar.saving = "save failed"
        bar = await shown(pilot)
        segments = screen_line(bar)
        plain = segment_with(segments, "Balance").style
        online = segment_with(segments, "● Demo gateway").style
        paused = segment_with(segments, "PAUSED").style
        served = segment_with(segments, "via ").style
        saving = segment_with(segments, "save failed").style
        assert plain is not None and online is not None and paused is not None
        assert served is not None and saving is not None
        assert plain.color == theme_colour(app, "foreground")
        assert online.color == theme_colour(app, "text-success")
        assert paused.color == theme_colour(app, "text-warning") and paused.bold
        assert not plain.bold
        assert served.color == theme_colour(app, "text-accent")
        assert saving.color == theme_colour(app, "text-warning")
        assert plain.bgcolor == online.bgcolor == theme_colour(app, "panel")

        bar.connection = "offline"
        bar = await shown(pilot)
        offline = segment_with(screen_line(bar), "● Demo gateway").style
        assert offline is not None
        assert offline.color == theme_colour(app, "text-error") != online.color

        bar.connection = "connecting"
        bar = await shown(pilot)
        connecting = segment_with(screen_line(bar), "● Demo gateway").style
        assert connecting is not None and connecting.color == plain.color


async def test_a_long_value_is_cut_with_an_ellipsis_on_one_row() -> None:
    app = BarApp()
    async with app.run_test(size=(80, 3)) as pilot:
        bar = app.query_one(StatusBar)
        after_a_reply(bar)
        bar.served_endpoint = "a-very-long-model-name-" * 10  # no "@": nothing to shorten
        bar = await shown(pilot)
        assert bar.outer_size == (80, 1)
        # Drawn without a height limit the line is still one row: it does not wrap.
        strips = Visual.to_strips(bar, bar.render(), bar.size.width, None, bar.visual_style)
        assert len(strips) == 1
        drawn = text_of(screen_line(bar))
        assert len(drawn) == 80
        assert drawn.startswith(" ● Demo gateway  Balance 24.999997  Chat 0.000003  via a-very")
        assert drawn.endswith("… ")  # cut inside the padding, and marked as cut


async def test_server_text_stays_inert_and_on_one_line() -> None:
    app = BarApp()
    async with app.run_test(size=(120, 3)) as pilot:
        bar = app.query_one(StatusBar)
        bar.gateway = "[bold]gw[/bold]"
        bar.served_endpoint = "model\x1b]52;c;x\x07@prov\nider"
        bar = await shown(pilot)
        assert bar.part("gateway") == "● [bold]gw[/bold] connecting"
        assert bar.part("served") == "via model␛]52;c;x␇@prov␤ider"
        drawn = text_of(screen_line(bar))
        assert "● [bold]gw[/bold] connecting" in drawn
        assert "via model␛]52;c;x␇@prov␤ider" in drawn
        assert "\x1b" not in drawn and "\n" not in drawn


async def test_repaints_only_when_the_shown_line_changes_and_never_relayouts() -> None:
    app = BarApp()
    async with app.run_test(size=(80, 3)) as pilot:
        bar = app.query_one(StatusBar)
        after_a_reply(bar)
        bar.live_cost = 0.0000031
        bar = await shown(pilot)
        calls: list[dict[str, Any]] = []
        real_refresh = bar.refresh

        def spy(*regions: Any, **flags: Any) -> Any:
            calls.append(flags)
            return real_refresh(*regions, **flags)

        bar.refresh = spy  # type: ignore[method-assign]
        bar.live_cost = 0.0000034  # still "~0.000003"
        bar.speed = 40.0  # the speed is not shown at 80 columns
        bar.balance_stale = False  # unchanged
        assert calls == []
        bar.live_cost = 0.000004
        assert bar.part("spend") == "Reply ~0.000004 ▲ · Chat 0.000003"
        assert len(calls) == 1
        assert not any(flags.get("layout") for flags in calls)
        bar = await shown(pilot)
        assert "Reply ~0.000004 ▲" in text_of(screen_line(bar))


async def test_asking_for_an_unknown_part_is_an_error() -> None:
    app = BarApp()
    async with app.run_test(size=(80, 3)):
        with pytest.raises(KeyError, match="gateway"):
            app.query_one(StatusBar).part("credits")
