"""StreamingMarkdown: a chat reply that streams in as Markdown and keeps up with fast providers.

Design (figures: benchmarks/bench_render.py, results in benchmarks/results/render.json):

* `append()` only buffers the text and schedules an update; it costs O(len(text)).
* At most once per frame (FRAME_SECONDS) an update takes the buffered text, feeds its new complete
  lines to `markdown_blocks.BlockSplitter` to find the top-level blocks that are now finished,
  and renders each finished block once with Rich, keeping its rows of Segments at the current
  width. Only the open tail block is rendered again; an open code fence keeps its finished runs
  of lines too, so a long code block costs the same per frame at line 500 as at line 5.
* `finish()` flushes and renders the tail at once, so the last tokens are never lost to coalescing.
* A width or theme change re-renders every block (once) from the kept block texts.
* Line API (`render_line`): only visible lines are painted; a repaint covers only changed lines,
  and a layout is asked for only when the height changed, at most every LAYOUT_SECONDS.
* Markdown-it, Pygments and Rich's Markdown (~50 ms to import) load on first use, from
  `_markdown_render`: the first screen shows no Markdown, and the app warms them up in a thread
  after its first frame (`warm_up_highlighting`).

Model output is data: Rich markup shows literally (Markdown is rendered from text, never markup),
raw HTML shows as text, and terminal control characters are made visible (`make_inert`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.color import Color as RichColor
from rich.console import RenderableType
from rich.errors import StyleSyntaxError
from rich.segment import Segment
from rich.style import Style
from rich.theme import Theme
from textual.cache import LRUCache
from textual.color import Color, ColorParseError
from textual.geometry import Region, Size
from textual.reactive import Reactive, var
from textual.selection import Selection
from textual.strip import Strip
from textual.theme import Theme as TextualTheme
from textual.timer import Timer
from textual.widget import Widget

from tui_chat.ui.widgets.markdown_blocks import BlockSplitter, make_inert

if TYPE_CHECKING:
    # Loaded on first use, not at start-up (see _markdown_render and __getattr__ below).
    from tui_chat.ui.widgets._markdown_render import code_lines as code_lines
    from tui_chat.ui.widgets._markdown_render import lexer_for as lexer_for

FRAME_SECONDS = 1 / 60
"""The shortest time between two renders of the open tail block (seconds)."""

LAYOUT_SECONDS = 1 / 10
"""The shortest time between two height changes while streaming (seconds). A height change
costs a layout and a repaint of the whole screen (the log follows the bottom, so every visible
line moves): at 30 a second they took most of a core at 2,000 tok/s and key presses waited
(bench_keys p95 134 ms); at 10 a second, 62 ms. The final height is laid out at once."""

FAST_LAYOUT_SECONDS = 1 / 4
"""The same while the reply grows fast (FAST_GROWTH_ROWS or more rows in the last layout):
rows then come in bigger steps, 4 layouts a second instead of 10 (bench_keys at 2,000 tok/s,
p95 49-59 ms -> 41 ms); a slow stream, whose new rows are few, keeps the shorter wait."""

FAST_GROWTH_ROWS = 4

DARK_CODE_THEME = "monokai"
LIGHT_CODE_THEME = "default"

COMMON_LANGUAGES = (
    *("python", "bash", "json", "javascript", "typescript", "sql", "yaml", "toml", "rust"),
    *("go", "java", "c", "cpp", "html", "css", "diff", "markdown", "console", "text"),
)


def warm_up_highlighting() -> None:
    """Build the lexers of common fence languages now (compiling a lexer's patterns takes 5 to
    50 ms the first time, which would otherwise stall the frame where such a fence first
    streams in), after importing Markdown-it, Pygments and Rich's Markdown (~50 ms, left out of
    start-up). The app calls this from a thread after its first frame."""
    from tui_chat.ui.widgets._markdown_render import lexer_for, syntax_theme

    for name in COMMON_LANGUAGES:
        lexer_for(name)
    syntax_theme(DARK_CODE_THEME)
    syntax_theme(LIGHT_CODE_THEME)


_LAZY_NAMES = {"_PARSER": "PARSER", "code_lines": "code_lines", "lexer_for": "lexer_for"}


def __getattr__(name: str) -> Any:
    """This module's names that live in _markdown_render, which is imported only when one of
    them is first asked for (importing it takes ~50 ms; the first screen shows no Markdown)."""
    if name not in _LAZY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tui_chat.ui.widgets import _markdown_render

    return getattr(_markdown_render, _LAZY_NAMES[name])


def _rich_color(variables: dict[str, str], name: str, background: Color) -> RichColor | None:
    try:
        color = Color.parse(variables[name])
    except (KeyError, ColorParseError):
        return None
    if color.a == 0:
        return None
    if color.a < 1:
        color = background + color
    return color.rich_color


def _text_style(value: str | None) -> Style:
    try:
        return Style.parse(value or "none")
    except StyleSyntaxError:
        return Style()


def markdown_theme(variables: dict[str, str], dark: bool) -> Theme:
    """Rich styles for Markdown elements, taken from the app's theme variables (so every Textual
    theme works and the reply matches Textual's own Markdown widget)."""
    try:
        background = Color.parse(variables.get("background", "#000000" if dark else "#ffffff"))
    except ColorParseError:
        background = Color(0, 0, 0) if dark else Color(255, 255, 255)

    def color(name: str) -> RichColor | None:
        return _rich_color(variables, name, background)

    styles: dict[str, Style] = {}
    for level in range(1, 7):
        prefix = f"markdown-h{level}"
        styles[f"markdown.h{level}"] = _text_style(variables.get(f"{prefix}-text-style")) + Style(
            color=color(f"{prefix}-color"), bgcolor=color(f"{prefix}-background")
        )
    try:
        warning = Color.parse(variables.get("warning", "#fea62b")).with_alpha(0.1)
        code_background: RichColor | None = (background + warning).rich_color
    except ColorParseError:
        code_background = None
    styles["markdown.code"] = Style(
        color=color("text-warning" if dark else "text-error"), bgcolor=code_background
    )
    styles["markdown.link"] = Style(color=color("text-primary"), underline=True)
    styles["markdown.link_url"] = Style(color=color("text-primary"), underline=True)
    styles["markdown.item.bullet"] = Style(color=color("text-primary"), bold=True)
    styles["markdown.item.number"] = Style(color=color("text-primary"))
    styles["markdown.block_quote"] = Style(color=color("foreground-muted"), italic=True)
    styles["markdown.hr"] = Style(color=color("foreground-muted"))
    styles["markdown.table.border"] = Style(color=color("foreground-muted"))
    styles["markdown.table.header"] = Style(color=color("text-primary"), bold=True)
    styles["markdown.kbd"] = Style(color=color("text-accent"), bold=True)
    return Theme(styles, inherit=True)


Row = list[Segment]
"""One rendered line: Segments filling exactly the render width."""

STRIP_CACHE_SIZE = 256
"""Strips kept for recently painted rows. Rows are kept as plain Segment lists: a Strip carries
seven small caches, and keeping one per row of a long reply made Python's garbage collector
measurably slower as the reply grew."""

FENCE_RUN_LINES = 8
"""While a code fence streams in, its lines are rendered and kept in runs of this many lines."""

_LEADING_BLANK_LINES = re.compile(r"(?:[ \t]*\n)*")


@dataclass
class _OpenFence:
    """The kept rendering of an open code fence's finished runs of lines."""

    width: int
    info: str
    kept_end: int  # index in the tail just after the last kept line
    kept_rows: list[Row]


def _is_blank(line: list[Segment]) -> bool:
    """True for a row with no text and no background colour."""
    return all(
        not text.strip() and (style is None or style.bgcolor is None) for text, style, _ in line
    )


def code_blocks(source: str) -> list[str]:
    """The bodies of the fenced code blocks in Markdown ``source``, in order, as the log shows
    them (control characters made visible), including an unclosed fence at the end."""
    from tui_chat.ui.widgets._markdown_render import PARSER

    tokens = PARSER.parse(make_inert(source))
    return [token.content for token in tokens if token.type == "fence"]


class StreamingMarkdown(Widget):
    """A Markdown message that can grow while it streams in.

    Args:
        text: Markdown to start with.
        streaming: True if more text will be appended (call `finish()` at the end); False renders
            `text` as a finished message.
    """

    DEFAULT_CSS = """
    StreamingMarkdown {
        height: auto;
    }
    """

    # Widget's virtual_size asks for a layout whenever it changes; this widget never scrolls
    # itself and its height comes from get_content_height, so that second layout per growth step
    # is pure cost (measured: it doubled the layouts while streaming).
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False, repaint=False)

    hold: var[bool] = var(False)
    """While True, text keeps arriving (and `source` grows) but the display holds still."""

    def __init__(
        self,
        text: str = "",
        *,
        streaming: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._received: list[str] = []  # every appended chunk, as received
        self._pending: list[str] = []  # chunks not yet taken into the blocks
        self._splitter = BlockSplitter()
        self._tail = ""  # inert text of the open block, up to the end of the text taken
        self._scan_position = 0  # where the first line not yet fed to the splitter starts
        self._blocks: list[str] = []  # inert text of each finished block
        self._finished = False

        # Rendering, at `_render_width` with `_render_style`; -1 means "render everything again".
        self._render_width = -1
        self._rendered_blocks = 0
        self._block_rows: list[Row] = []  # finished blocks, with a blank row between them
        self._tail_rows: list[Row] = []  # the open tail (or, once finished, the last blocks)
        self._blank_row: Row = []
        self._base_visual: object = None
        self._base = Style()
        # Strips (with selection offsets) for recently painted rows, checked by row identity.
        self._strips: LRUCache[int, tuple[Row, Strip]] = LRUCache(STRIP_CACHE_SIZE)
        self._tail_dirty = False
        self._open_fence: _OpenFence | None = None
        self._rich_theme: Theme | None = None
        self._code_theme = DARK_CODE_THEME

        self._flush_scheduled = False
        self._last_flush = 0.0
        self._last_layout = 0.0
        self._laid_out_height = 0
        self._last_growth = 0
        self._layout_timer: Timer | None = None

        if text:
            self.append(text)
        if not streaming:
            self.finish()

    # ------------------------------------------------------------------ public API

    @property
    def source(self) -> str:
        """All the Markdown received so far, exactly as received."""
        if len(self._received) > 1:
            self._received[:] = ["".join(self._received)]
        return self._received[0] if self._received else ""

    @property
    def is_finished(self) -> bool:
        """True once `finish()` was called (and nothing appended since)."""
        return self._finished

    def append(self, text: str) -> None:
        """Add streamed Markdown; it is shown at the next frame (at most ~60 renders a second)."""
        if not text:
            return
        self._received.append(text)
        self._pending.append(text)
        self._finished = False
        self._schedule_flush()

    def finish(self) -> None:
        """Mark the message complete and show everything now (unless `hold` is set, in which case
        everything shows as soon as it is released)."""
        self._finished = True
        if not self.hold:
            self._flush()

    def code_blocks(self) -> list[str]:
        """The bodies of the fenced code blocks, in order, as shown (control characters made
        visible), including an unclosed fence at the end."""
        return code_blocks(self.source)

    # ------------------------------------------------------------------ taking in text

    def _schedule_flush(self) -> None:
        if self._flush_scheduled or self.hold or not self.is_mounted:
            return
        self._flush_scheduled = True
        delay = self._last_flush + FRAME_SECONDS - time.monotonic()
        if delay > 0:
            self.set_timer(delay, self._scheduled_flush, name="markdown-frame")
        else:
            self.call_later(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        if not self.hold:
            self._flush()

    def _take_pending(self) -> None:
        """Move buffered text into the blocks: feed complete lines to the splitter and close the
        blocks it finishes. Work is proportional to the new text (plus one copy of the tail)."""
        if not self._pending:
            return
        tail = self._tail + make_inert("".join(self._pending))
        self._pending.clear()
        splitter = self._splitter
        block_start = 0
        position = self._scan_position
        while (newline := tail.find("\n", position)) != -1:
            ends_before, ends_after = splitter.feed(tail[position:newline])
            if ends_before and position > block_start:
                self._blocks.append(tail[block_start:position])
                block_start = position
            position = newline + 1
            if ends_after:
                self._blocks.append(tail[block_start:position])
                block_start = position
        if block_start:
            self._open_fence = None
        self._tail = tail[block_start:]
        self._scan_position = position - block_start
        self._tail_dirty = True

    def _final_tail_blocks(self) -> list[str]:
        """The open tail split as if the text ended here (the last line counts as complete)."""
        splitter = self._splitter.copy()
        tail = self._tail
        blocks: list[str] = []
        block_start = 0
        position = self._scan_position
        while position < len(tail):
            newline = tail.find("\n", position)
            end = len(tail) if newline == -1 else newline + 1
            ends_before, ends_after = splitter.feed(tail[position:end].rstrip("\n"))
            if ends_before and position > block_start:
                blocks.append(tail[block_start:position])
                block_start = position
            if ends_after:
                blocks.append(tail[block_start:end])
                block_start = end
            position = end
        if block_start < len(tail):
            blocks.append(tail[block_start:])
        return blocks

    def _flush(self) -> None:
        """Take in the buffered text, render what changed and refresh (layout only if the height
        changed)."""
        self._last_flush = time.monotonic()
        if self._pending:
            self._take_pending()
        elif self._finished:
            self._tail_dirty = True  # the tail is now rendered as final blocks
        if not self.is_mounted:
            return
        width = self.size.width
        if not width:
            self.refresh(layout=True)
            return
        old_height = self._line_count
        # Lines above the first new block are unchanged unless everything is rendered again.
        first_changed = len(self._block_rows) if width == self._render_width else 0
        self._ensure_rendered(width)
        new_height = self._line_count
        # Repaint only the changed lines (Textual keeps the styled lines above them). A layout
        # (needed when the height changed) costs a whole-screen update, so it happens at most
        # LAYOUT_SECONDS apart while streaming; new rows wait at most that long to appear.
        changed = Region(0, first_changed, width, max(new_height, old_height) - first_changed)
        if changed:
            self.refresh(changed)
        if new_height != self._laid_out_height:
            self._request_layout()

    def _request_layout(self) -> None:
        fast = self._last_growth >= FAST_GROWTH_ROWS
        interval = FAST_LAYOUT_SECONDS if fast else LAYOUT_SECONDS
        wait = self._last_layout + interval - time.monotonic()
        if wait <= 0 or self._finished:
            self._layout_now()
        elif self._layout_timer is None:
            self._layout_timer = self.set_timer(wait, self._layout_now, name="markdown-layout")

    def _layout_now(self) -> None:
        if self._layout_timer is not None:
            self._layout_timer.stop()
            self._layout_timer = None
        self._last_layout = time.monotonic()
        self._last_growth = self._line_count - self._laid_out_height
        self._laid_out_height = self._line_count
        self.refresh(layout=True, repaint=False)

    def watch_hold(self, hold: bool) -> None:
        if not hold:
            if self._finished:
                self._flush()
            else:
                self._schedule_flush()

    # ------------------------------------------------------------------ rendering

    @property
    def _line_count(self) -> int:
        separator = 1 if self._block_rows and self._tail_rows else 0
        return len(self._block_rows) + separator + len(self._tail_rows)

    def _render_lines(self, renderable: RenderableType, width: int) -> list[list[Segment]]:
        console = self.app.console
        if self._rich_theme is None:
            self._update_theme()
        assert self._rich_theme is not None
        options = console.options.update(width=width, height=None, highlight=False, markup=False)
        with console.use_theme(self._rich_theme):
            return console.render_lines(renderable, options, pad=True)

    def _render_markdown(self, markup: str, width: int) -> list[Row]:
        from tui_chat.ui.widgets._markdown_render import BlockMarkdown, code_lines

        if not markup.strip():
            return []
        renderable = BlockMarkdown(markup, self._code_theme)
        tokens = renderable.parsed
        if len(tokens) == 1 and tokens[0].type == "fence":
            # A block that is one code fence (the common case for code): straight to rows, as
            # BlockMarkdown would render it, without Rich's line splitting and padding passes.
            fence = tokens[0]
            rows = code_lines(fence.content.rstrip("\n"), fence.info, self._code_theme, width)
            return rows
        lines = self._render_lines(renderable, width)
        # Rich opens some blocks (lists, quotes, tables) with empty rows; the widget puts exactly
        # one blank line between blocks itself. Rows with a background (code padding) stay.
        start, end = 0, len(lines)
        while start < end and _is_blank(lines[start]):
            start += 1
        while end > start and _is_blank(lines[end - 1]):
            end -= 1
        return lines[start:end]

    def _ensure_rendered(self, width: int) -> None:
        """Bring the rendered lines up to date at `width`: new finished blocks once each, and the
        tail if it changed; everything if the width or theme changed."""
        if width <= 0:
            return
        if width != self._render_width:
            self._render_width = width
            self._rendered_blocks = 0
            self._block_rows = []
            self._blank_row = [Segment(" " * width)]
            self._tail_dirty = True
        block_rows = self._block_rows
        for markup in self._blocks[self._rendered_blocks :]:
            rows = self._render_markdown(markup, width)
            if rows:
                if block_rows:
                    block_rows.append(self._blank_row)
                block_rows.extend(rows)
        self._rendered_blocks = len(self._blocks)
        if self._tail_dirty:
            self._tail_dirty = False
            if self._finished:
                tail_rows: list[Row] = []
                for markup in self._final_tail_blocks():
                    rows = self._render_markdown(markup, width)
                    if rows:
                        if tail_rows:
                            tail_rows.append(self._blank_row)
                        tail_rows.extend(rows)
                self._tail_rows = tail_rows
            elif self._splitter.in_top_level_fence:
                self._tail_rows = self._render_open_fence(width)
            else:
                self._tail_rows = self._render_markdown(self._tail, width)

    def _render_open_fence(self, width: int) -> list[Row]:
        """Render an open code fence that is the whole tail block, keeping finished runs of
        `FENCE_RUN_LINES` lines so each frame renders only the newest lines: a long code block
        costs the same per frame at line 500 as at line 5. Highlighting restarts at each run while
        streaming; the closed fence is rendered again whole (once), so the end result is exact."""
        from tui_chat.ui.widgets._markdown_render import code_lines

        tail = self._tail
        fence = self._open_fence
        if fence is None or fence.width != width:
            opener_start = _LEADING_BLANK_LINES.match(tail).end()  # type: ignore[union-attr]
            opener_end = tail.index("\n", opener_start) + 1
            opener = tail[opener_start:opener_end].strip()
            fence = _OpenFence(width, opener.lstrip(opener[0]).strip(), opener_end, [])
            self._open_fence = fence
        theme = self._code_theme
        while True:
            # Keep the next run of FENCE_RUN_LINES complete lines, if there is one.
            run_end = fence.kept_end
            for _ in range(FENCE_RUN_LINES):
                newline = tail.find("\n", run_end)
                if newline == -1:
                    break
                run_end = newline + 1
            else:
                rows = code_lines(
                    tail[fence.kept_end : run_end - 1],
                    fence.info,
                    theme,
                    width,
                    top=not fence.kept_rows,
                    bottom=False,
                )
                fence.kept_rows.extend(rows)
                fence.kept_end = run_end
                continue
            break
        live_code = tail[fence.kept_end :].rstrip("\n")
        if fence.kept_rows and not live_code:
            return [*fence.kept_rows, fence.kept_rows[0]]  # the first row is a blank padding row
        rows = code_lines(live_code, fence.info, theme, width, top=not fence.kept_rows)
        return [*fence.kept_rows, *rows]

    def _update_theme(self) -> None:
        app = self.app
        theme = app.current_theme
        variables = app.theme_variables or app.get_css_variables()
        self._rich_theme = markdown_theme(variables, theme.dark)
        self._code_theme = DARK_CODE_THEME if theme.dark else LIGHT_CODE_THEME

    def _on_theme_changed(self, theme: TextualTheme) -> None:
        self._update_theme()
        self._render_width = -1
        self._open_fence = None
        self.refresh(layout=True)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)
        if self._pending or self._finished:
            self._schedule_flush()

    def on_unmount(self) -> None:
        self.app.theme_changed_signal.unsubscribe(self)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._ensure_rendered(width)
        return self._line_count

    def _row(self, y: int) -> Row | None:
        block_rows = self._block_rows
        if y < len(block_rows):
            return block_rows[y]
        y -= len(block_rows)
        if block_rows and self._tail_rows:
            if y == 0:
                return self._blank_row
            y -= 1
        tail_rows = self._tail_rows
        return tail_rows[y] if 0 <= y < len(tail_rows) else None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self._ensure_rendered(width)
        row = self._row(y)
        selection = self.text_selection
        span = selection.get_span(y) if selection is not None else None
        # Only the open tail needs this cache (rows rendered again each frame, mostly the same);
        # a finished message is cached by Textual's own line cache, and a second Strip per line
        # of a long conversation was measured to cost ~100 MB per 1,000 turns scrolled through.
        use_cache = span is None and row is not None and not self._finished
        # The rows carry the Markdown's own colours only: under them the widget's colours, or
        # the text showed in the terminal's default colours (a dark band in a light theme).
        base = self._base_style()
        if use_cache:
            cached = self._strips.get(y)
            # The open tail is rendered again each frame, but most of its rows come out the same.
            if cached is not None and (cached[0] is row or cached[0] == row):
                return cached[1]
        strip = Strip.blank(width) if row is None else Strip(row, width)
        if span is not None:
            strip = self._highlight(strip, *span)
        strip = strip.apply_style(base)  # (under the selection's colours, not over them)
        # Offsets map each cell to (column, row) of the text, which is how Textual's mouse
        # selection finds the characters under the pointer.
        strip = strip.apply_offsets(0, y)
        if use_cache and row is not None:
            self._strips[y] = (row, strip)
        return strip

    def _base_style(self) -> Style:
        visual = self.visual_style  # (Textual caches it until the styles change)
        if visual is not self._base_visual:
            self._base_visual = visual
            self._base = visual.rich_style
            self._strips.clear()  # painted with the colours before
        return self._base

    def release_render_cache(self) -> None:
        """Forget the Strips kept for painted lines (the rendered rows stay, so the height is
        known); they are made again if the lines are painted again. For a message scrolled far
        out of view."""
        self._strips.clear()
        self._styles_cache.clear()

    # ------------------------------------------------------------------ selection

    def _highlight(self, strip: Strip, start: int, end: int) -> Strip:
        text_length = len(strip.text)
        if end == -1 or end > text_length:
            end = text_length
        if start >= end:
            return strip
        style = self.screen.get_component_rich_style("screen--selection")
        cell_start = strip.index_to_cell_position(start)
        cell_end = strip.index_to_cell_position(end)
        before, selected, after = strip.divide([cell_start, cell_end, strip.cell_length])
        return Strip.join([before, selected.apply_style(style), after])

    def _all_rows(self) -> list[Row]:
        rows = list(self._block_rows)
        if self._block_rows and self._tail_rows:
            rows.append(self._blank_row)
        rows.extend(self._tail_rows)
        return rows

    @property
    def rendered_text(self) -> str:
        """The text as shown, one line per row, trailing spaces removed."""
        return "\n".join(
            "".join(segment.text for segment in row).rstrip() for row in self._all_rows()
        )

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected text, as shown (line by line, trailing spaces removed)."""
        return selection.extract(self.rendered_text), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()
