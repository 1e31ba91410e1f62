"""Pure-Python helpers for streaming Markdown: making model text inert, and finding block ends.

Nothing here imports Textual or Rich, so the splitting rules can be tested and reasoned about on
their own. The widget (`markdown_stream.StreamingMarkdown`) renders each finished block once and
re-renders only the open tail; these helpers decide where a block is finished.

The splitter is deliberately conservative: splitting too late only makes the open tail bigger
(slower), while splitting too early would change how the Markdown renders. So it splits only where
CommonMark guarantees a new top-level block starts:

* after a blank line, at a line that starts in column 0 (outside any code fence);
* before a column-0 fence opener or ATX heading (both interrupt a paragraph and end a list);
* after the closing line of a top-level fence, and after a top-level ATX heading.

Decisions are taken on complete lines only, so the same text gives the same blocks however it was
chunked while streaming.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# C0 controls (except tab and newline) and DEL become their Unicode "control picture", so ESC shows
# as "␛" and BEL as "␇"; C1 controls (8-bit CSI, OSC, ST...) show as "\x9b"; CR is dropped (CRLF
# line ends, and a lone CR must not move the terminal's cursor). Line and paragraph separators
# become spaces so that a rendered line never contains a line break.
_INERT: dict[int, str | None] = {
    code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)
}
_INERT[0x0D] = None
_INERT[0x7F] = "\u2421"
_INERT.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})
_INERT[0x2028] = " "
_INERT[0x2029] = " "
_INERT_TABLE = str.maketrans(_INERT)

_TOP_LEVEL_FENCE = re.compile(r" {0,3}(?P<marker>`{3,}|~{3,})(?P<info>.*)")
_NESTED_FENCE = re.compile(r"[ \t]*(?P<marker>`{3,}|~{3,})(?P<info>.*)")
_FENCE_CLOSER = re.compile(r"([ \t]*)(`{3,}|~{3,})[ \t]*")
_ATX_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")


def make_inert(text: str) -> str:
    """Return `text` with every terminal control character replaced by a visible stand-in.

    Model output is data: an ESC, BEL or 8-bit control must never reach the terminal, where it
    could set the title, write the clipboard (OSC 52) or move the cursor.
    """
    return text.translate(_INERT_TABLE)


@dataclass(frozen=True)
class _Fence:
    char: str
    length: int
    top_level: bool


def _fence_opener(line: str, *, top_level: bool) -> _Fence | None:
    match = (_TOP_LEVEL_FENCE if top_level else _NESTED_FENCE).fullmatch(line)
    if match is None:
        return None
    marker, info = match.group("marker"), match.group("info")
    if marker[0] == "`" and "`" in info:
        # Not a fence: "```x```" is inline code (CommonMark: no backtick in a backtick info string).
        return None
    return _Fence(marker[0], len(marker), top_level)


@dataclass
class BlockSplitter:
    """Finds top-level Markdown block boundaries, fed one complete line at a time."""

    _fence: _Fence | None = None
    _has_content: bool = False
    _blank_seen: bool = False

    def copy(self) -> BlockSplitter:
        """An independent splitter in the same state (to look ahead without committing)."""
        return replace(self)

    @property
    def in_fence(self) -> bool:
        """True while inside a code fence (a blank line there does not end the block)."""
        return self._fence is not None

    @property
    def in_top_level_fence(self) -> bool:
        """True while the open block is a code fence that began the block (so the block is that
        fence alone, and ends with its closing line)."""
        return self._fence is not None and self._fence.top_level

    def feed(self, line: str) -> tuple[bool, bool]:
        """Take one complete line (without its newline).

        Returns `(ends_before, ends_after)`: whether the current block ended just before this line
        (the line starts the next block), and whether the block ends with this line.
        """
        fence = self._fence
        if fence is not None:
            match = _FENCE_CLOSER.fullmatch(line)
            if (
                match is not None
                and match.group(2)[0] == fence.char
                and len(match.group(2)) >= fence.length
                and (not fence.top_level or match.group(1) in ("", " ", "  ", "   "))
            ):
                self._fence = None
                if fence.top_level:
                    self._start_block()
                    return False, True
            return False, False

        if not line.strip():
            if self._has_content:
                self._blank_seen = True
            return False, False

        # A column-0 line starts a new block after a blank line, or when it opens a fence or is
        # an ATX heading (both interrupt a paragraph and end a list item).
        ends_before = (
            self._has_content
            and line[0] not in " \t"
            and (
                self._blank_seen
                or (
                    line[0] in "`~#"
                    and (
                        _fence_opener(line, top_level=True) is not None
                        or _ATX_HEADING.match(line) is not None
                    )
                )
            )
        )
        if ends_before:
            self._start_block()

        first_line = not self._has_content
        self._has_content = True
        self._blank_seen = False

        if "`" in line or "~" in line:
            # A fence opening a block is top-level (its closer ends the block); one met inside a
            # block (a list item's, say) only stops blank lines from ending the block.
            opener = _fence_opener(line, top_level=True) if first_line else None
            if opener is None:
                opener = _fence_opener(line, top_level=False)
            if opener is not None:
                self._fence = opener
                return ends_before, False
        if first_line and _ATX_HEADING.match(line):
            self._start_block()
            return ends_before, True
        return ends_before, False

    def _start_block(self) -> None:
        self._has_content = False
        self._blank_seen = False


def split_blocks(text: str) -> list[str]:
    """Split a whole document into top-level blocks (as the streaming path would at the end).

    The blocks joined together give back `text`.
    """
    splitter = BlockSplitter()
    blocks: list[str] = []
    start = 0
    position = 0
    length = len(text)
    while position < length:
        newline = text.find("\n", position)
        end = length if newline == -1 else newline + 1
        line = text[position:end].rstrip("\n")
        ends_before, ends_after = splitter.feed(line)
        if ends_before and position > start:
            blocks.append(text[start:position])
            start = position
        if ends_after:
            blocks.append(text[start:end])
            start = end
        position = end
    if start < length:
        blocks.append(text[start:])
    return blocks
