"""The Markdown and code rendering behind `markdown_stream.StreamingMarkdown`.

Everything here rests on markdown-it-py, Pygments and Rich's Markdown, which together take
~45-65 ms to import; the first screen shows no Markdown, so `markdown_stream` imports this module
on first use (the first reply rendered, or `warm_up_highlighting()` in a thread after the first
frame) instead of at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, ClassVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Token as PygmentsToken
from pygments.util import ClassNotFound
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock, Heading, Markdown
from rich.segment import Segment
from rich.style import Style
from rich.syntax import PygmentsSyntaxTheme, SyntaxTheme

# One parser for every block: CommonMark with GFM tables and strikethrough, and raw HTML off so
# that "<script>" or "<details>" in a reply shows as text instead of vanishing.
PARSER = MarkdownIt("commonmark", {"html": False}).enable(["strikethrough", "table"])

_LANGUAGE_SPLIT = re.compile(r"[|,;/{}()\[\]=:+]")


@lru_cache(maxsize=256)
def lexer_for(info: str) -> Lexer | None:
    """The Pygments lexer for a fence info string, or None for plain text.

    Tolerates what models write: "shell|bash", "{python}", "py title=x", unknown names.
    """
    words = info.split()
    for candidate in _LANGUAGE_SPLIT.split(words[0] if words else ""):
        name = candidate.strip().lower()
        if not name:
            continue
        try:
            # As Rich's Syntax does: keep leading/trailing blank lines, expand tabs to 4.
            return get_lexer_by_name(name, stripnl=False, ensurenl=True, tabsize=4)
        except ClassNotFound:
            continue
    return None


@lru_cache(maxsize=8)
def syntax_theme(name: str) -> SyntaxTheme:
    """The Pygments style `name` as a Rich syntax theme (built once per name)."""
    return PygmentsSyntaxTheme(name)


class _LeftHeading(Heading):
    """Headings aligned left, as in a chat transcript (Rich centres h1)."""

    LEVEL_ALIGN: ClassVar = dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6"), "left")


class _FencedCode(CodeBlock):
    """A code block: highlighted if the language is known, plain text otherwise, always wrapped
    so no code is cropped off the right edge."""

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> _FencedCode:
        return cls(token.info or "", markdown.code_theme)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        new_line = Segment.line()
        for line in code_lines(
            str(self.text).rstrip("\n"), self.lexer_name, self.theme, options.max_width
        ):
            yield from line
            yield new_line


def code_lines(
    code: str, info: str, theme: str, width: int, *, top: bool = True, bottom: bool = True
) -> list[list[Segment]]:
    """Render a code block as rows of exactly `width` cells: highlighted when the fence names a
    known language, hard-wrapped so no code is lost off the right edge, with a blank row above
    and below (`top`, `bottom`) and none at the sides, so a mouse selection copies the code as is.

    Written directly on Pygments tokens because Rich's Syntax costs ~0.2 ms a line, which a
    streaming code block pays on every frame.
    """
    width = max(width, 1)
    code_theme = syntax_theme(theme)
    background = code_theme.get_background_style()
    lexer = lexer_for(info)
    code = code.expandtabs(4)
    tokens: Iterable[tuple[Any, str]] = (
        lexer.get_tokens(code) if lexer is not None else ((PygmentsToken.Text, code),)
    )
    styles: dict[Any, Style] = {}
    blank_row = [Segment(" " * width, background)]
    rows: list[list[Segment]] = [blank_row] if top else []
    row: list[Segment] = []
    row_length = 0
    source_lines = code.count("\n") + 1
    lines_done = 0

    def end_row() -> None:
        nonlocal row, row_length
        if row_length < width:
            row.append(Segment(" " * (width - row_length), background))
        rows.append(row)
        row = []
        row_length = 0

    for token_type, value in tokens:
        style = styles.get(token_type)
        if style is None:
            style = styles[token_type] = background + code_theme.get_style_for_token(token_type)
        for index, part in enumerate(value.split("\n")):
            if index:
                end_row()
                lines_done += 1
                if lines_done >= source_lines:
                    break  # the lexer's own final newline
            while part:
                length = len(part) if part.isascii() else cell_len(part)
                if row_length + length <= width:
                    row.append(Segment(part, style))
                    row_length += length
                    break
                head, part = _split_cells(part, width - row_length)
                if not head and not row_length:  # a wide character in a one-cell-wide block
                    head, part = part[0], part[1:]
                if head:
                    row.append(Segment(head, style))
                    row_length += cell_len(head)
                end_row()
    if lines_done < source_lines:
        end_row()
    if bottom:
        rows.append(blank_row)
    return rows


def _split_cells(text: str, cells: int) -> tuple[str, str]:
    """Split `text` after at most `cells` cells (at least one character if the row is empty)."""
    if text.isascii():
        return text[:cells], text[cells:]
    total = 0
    for index, character in enumerate(text):
        total += cell_len(character)
        if total > cells:
            return text[:index], text[index:]
    return text, ""


def keep_line_breaks(tokens: list[Token]) -> list[Token]:
    """Make every soft line break a hard one, as chat apps show replies: a model that writes a
    poem one line at a time means the lines (CommonMark would join them into one paragraph).
    Code blocks carry no inline breaks and keep their text as it is; list items and quotes keep
    their own structure, only their inner lines are no longer joined."""
    for token in tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"
    return tokens


class BlockMarkdown(Markdown):
    """Rich's Markdown renderable for one block, parsed with the shared parser."""

    elements: ClassVar = {
        **Markdown.elements,
        "heading_open": _LeftHeading,
        "fence": _FencedCode,
        "code_block": _FencedCode,
    }

    def __init__(self, markup: str, code_theme: str) -> None:
        # Markdown.__init__ builds a new MarkdownIt per call (slow per frame); set its fields here.
        self.markup = markup
        self.parsed = keep_line_breaks(PARSER.parse(markup))
        self.code_theme = code_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = True
        self.inline_code_lexer = None
        self.inline_code_theme = code_theme
