"""Selected text stays readable at every colour depth a terminal may have.

A selection is drawn by the selection's own foreground and background colours; what reaches the
terminal is those colours downgraded to its colour system (Rich does this when it writes: 24-bit
"truecolor", the 256-colour palette under ``TERM=xterm-256color`` without ``COLORTERM``, or the
16 standard colours). A selection whose cells come out with one colour for both, or two near
shades, shows nothing: the text is invisible while it is selected.

For each theme the app names (the default, a light one, nord, gruvbox), the test selects a
reply and a question with the mouse and the prompt's text with select_all, renders the whole
screen as the driver writes it, and reads back the cells of the selected text: at each colour
depth their foreground and background, once downgraded, must be different colours far enough
apart to read (contrast ratio as WCAG defines it), and their background must differ from the
same cells' unselected background (else the selection does not show as one).
"""

from __future__ import annotations

from typing import Any

import pytest
from rich.color import Color, ColorSystem
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.pilot import Pilot
from textual.widget import Widget

from tests.app.conftest import send, terminal_output, wait_for_reply, wait_until
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.widgets.messages import ReplyView, UserTurn

COLOUR_SYSTEMS = {
    "truecolor": ColorSystem.TRUECOLOR,
    "256": ColorSystem.EIGHT_BIT,
    "standard": ColorSystem.STANDARD,
}
THEMES = ["textual-dark", "textual-light", "nord", "gruvbox"]
MIN_CONTRAST = 3.0  # WCAG's least for large text; a readable selection clears it at every depth

QUESTION = "Select these words please"
PROMPT_TEXT = "a draft to select"


def cell_styles(app: UnifyTUI, widget: Widget, text: str) -> list[Style]:
    """The styles of the non-blank cells that show ``text`` on ``widget``'s first line, read back
    from what the driver would write for the whole screen (at 24 bits: the app's own colours)."""
    rows = Text.from_ansi(terminal_output(app)).split("\n", allow_blank=True)
    region = widget.content_region
    row = rows[region.y]
    start = row.plain.find(text, region.x, region.right)
    assert start >= 0, f"{text!r} not on screen at row {region.y}: {row.plain!r}"
    console = Console()
    return [
        row.get_style_at_offset(console, x)
        for x in range(start, start + len(text))
        if not row.plain[x].isspace()
    ]


def shown(style: Style, system: ColorSystem) -> tuple[Color | None, Color | None]:
    """The foreground and background a terminal of ``system`` gets for a cell of ``style``
    (``None``: the terminal's own default colour)."""
    foreground, background = style.color, style.bgcolor
    if style.reverse:
        foreground, background = background, foreground
    return (
        None if foreground is None else foreground.downgrade(system),
        None if background is None else background.downgrade(system),
    )


def luminance(color: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = color.get_truecolor()
    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(one: Color, other: Color) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def assert_visible(before: list[Style], after: list[Style], what: str) -> None:
    """At each colour depth: the selected cells (``after``) have a readable foreground on their
    background, and a background that tells them from the same cells unselected (``before``)."""
    assert len(before) == len(after) > 0, what
    for name, system in COLOUR_SYSTEMS.items():
        for unselected, selected in zip(before, after, strict=True):
            foreground, background = shown(selected, system)
            where = f"{what} at {name}: {selected}"
            # The terminal's default colours are unknown: a selection must name its own.
            assert foreground is not None and background is not None, where
            where = f"{what} at {name}: {foreground.name} on {background.name}"
            assert foreground != background, where
            assert contrast(foreground, background) >= MIN_CONTRAST, where
            _, background_before = shown(unselected, system)
            assert background != background_before, f"{where}, the same unselected"


async def drag_across(pilot: Pilot[Any], widget: Widget) -> None:
    """Select ``widget``'s first line with the mouse, as a user drags over it."""
    last = widget.content_region.width - 1
    await pilot.mouse_down(widget, offset=(0, 0))
    await pilot.hover(widget, offset=(last // 2, 0))
    await pilot.hover(widget, offset=(last, 0))
    await pilot.mouse_up(widget, offset=(last, 0))
    await wait_until(pilot, lambda: widget.text_selection is not None, what="a selection")
    await pilot.pause()


@pytest.mark.parametrize("theme", THEMES)
async def test_selected_text_is_visible_at_every_colour_depth(
    make_app: Any, sim: Any, theme: str
) -> None:
    app = make_app(theme=theme)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.theme == theme
        await send(pilot, QUESTION)
        await wait_for_reply(pilot)
        await pilot.pause()

        # A reply (the app's own Markdown widget) selected with the mouse.
        body = app.query(ReplyView).last().body
        reply_text = body.rendered_text.splitlines()[0].strip()
        assert reply_text
        before = cell_styles(app, body, reply_text)
        await drag_across(pilot, body)
        assert body.text_selection is not None
        assert_visible(before, cell_styles(app, body, reply_text), f"selected reply ({theme})")

        # The user's turn (a Static, drawn by Textual's own selection code).
        turn = app.query(UserTurn).last()
        before = cell_styles(app, turn, QUESTION)
        await drag_across(pilot, turn)
        assert turn.text_selection is not None
        assert_visible(before, cell_styles(app, turn, QUESTION), f"selected question ({theme})")

        # Text selected in the prompt (TextArea's own selection).
        app.prompt.focus()
        app.prompt.load_text(PROMPT_TEXT)
        await pilot.pause()
        before = cell_styles(app, app.prompt, PROMPT_TEXT)
        app.prompt.select_all()
        await pilot.pause()
        assert app.prompt.selected_text == PROMPT_TEXT
        after = cell_styles(app, app.prompt, PROMPT_TEXT)
        assert_visible(before, after, f"selected prompt text ({theme})")
