"""A reply's text is drawn in the theme's colours, never the terminal's defaults.

Found at a real terminal: the Markdown rows carried only their own styles, so plain text went
out with the terminal's default foreground and background: in a light theme on a dark terminal
each reply was a dark band across the light screen.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.color import Color

from tests.app.conftest import APP_SIZE, send, wait_for_reply
from tui_chat.ui.widgets.markdown_stream import StreamingMarkdown


@pytest.mark.parametrize("theme", ["textual-light", "textual-dark"])
async def test_every_cell_of_a_reply_has_the_themes_colours(
    make_app: Any, sim: Any, theme: str
) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        app.theme = theme
        await send(pilot, "Write a short poem")
        await wait_for_reply(pilot)
        await pilot.pause()
        markdown = app.query(StreamingMarkdown).last()
        background = markdown.visual_style.background
        foreground = markdown.visual_style.foreground
        assert background.a > 0
        lines = [markdown.render_line(y) for y in range(markdown.size.height)]
        assert any(line.text.strip() for line in lines)
        for line in lines:
            for segment in line:
                style = segment.style
                assert style is not None and style.bgcolor is not None, repr(segment)
                assert Color.from_rich_color(style.bgcolor) == background, repr(segment)
                if segment.text.strip() and not style.color:
                    raise AssertionError(f"text in the terminal's default colour: {segment!r}")
        plain = [s for line in lines for s in line if s.text.strip() and s.style]
        assert any(Color.from_rich_color(s.style.color) == foreground for s in plain if s.style)
