"""Turning what a user typed into a safe FTS5 query, and excerpts of very long hits.

Every whitespace-separated word becomes a quoted phrase (inner quotes doubled), so no input can
be read as FTS5 syntax (AND, NEAR, column filters, ``*``, parentheses) or raise a syntax error.
All words must match; the last is matched as a prefix, so results appear while typing.
"""

from __future__ import annotations

import re

from tui_chat.store.records import ELLIPSIS, MATCH_END, MATCH_START

# FTS5's snippet() takes time growing with the square of a message's length (measured: 0.6 ms at
# 10,000 characters, 50 ms at 100,000, 4.9 s at 1,000,000). Longer hits get a plain excerpt.
SNIPPET_MAX_CHARS = 20_000
_EXCERPT_BEFORE = 60  # characters of context before the match in a long hit's excerpt
_EXCERPT_AFTER = 100


def search_words(text: str) -> list[str]:
    """The words of a search, as the user typed them."""
    # FTS5 reads NUL as the end of the query, which would leave a quote unterminated.
    return text.replace("\x00", " ").split()


def build_match_query(text: str) -> str | None:
    """The FTS5 MATCH expression for ``text``, or None when there is nothing to search for."""
    words = search_words(text)
    if not words:
        return None
    phrases = ['"' + word.replace('"', '""') + '"' for word in words]
    phrases[-1] += "*"
    return " ".join(phrases)


def excerpt(content: str, text: str) -> str:
    """A snippet of a long message around the first word of ``text`` found in it.

    Marked like FTS5's snippets (``MATCH_START``/``MATCH_END``, ``…`` at cuts). The search is
    case-insensitive but, unlike the index, not accent-insensitive: a hit found only through an
    accent shows the message's opening, unmarked.
    """
    words = search_words(text)
    found: re.Match[str] | None = None
    for index, word in enumerate(words):
        tail = r"\w*" if index == len(words) - 1 else r"(?!\w)"
        pattern = re.compile(r"(?<!\w)" + re.escape(word) + tail, re.IGNORECASE)
        match = pattern.search(content)
        if (
            match
            and match.end() > match.start()
            and (found is None or match.start() < found.start())
        ):
            found = match
    if found is None:
        cut = _word_end(content, _EXCERPT_BEFORE + _EXCERPT_AFTER)
        return content[:cut] + (ELLIPSIS if cut < len(content) else "")
    start = _word_start(content, found.start() - _EXCERPT_BEFORE)
    end = _word_end(content, found.end() + _EXCERPT_AFTER)
    return (
        (ELLIPSIS if start > 0 else "")
        + content[start : found.start()]
        + MATCH_START
        + found.group()
        + MATCH_END
        + content[found.end() : end]
        + (ELLIPSIS if end < len(content) else "")
    )


def _word_start(content: str, position: int) -> int:
    """``position`` moved forward to the start of a word (0 if before the text)."""
    if position <= 0:
        return 0
    space = content.find(" ", position)
    return position if space == -1 else space + 1


def _word_end(content: str, position: int) -> int:
    """``position`` moved back to the end of a word (the length if beyond the text)."""
    if position >= len(content):
        return len(content)
    space = content.rfind(" ", 0, position)
    return position if space == -1 else space
