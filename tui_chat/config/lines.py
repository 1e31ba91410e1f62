"""Where a key is in config.toml, for ``file:line: key: ...`` messages.

``tomllib`` keeps no positions, so this reads the raw text for table headers (``[a.b]``) and
key/value lines (``a.b = ...``), skipping comments and the inside of multi-line strings. A
line is only ever given for a key that is really there: one the parsed document has and that
the scan found exactly once. Anything the scan could be confused about (a key defined twice
as far as it can tell, an array of tables, a key it found that the parser did not) gets no
line, because a made-up number is worse than no number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

KeyPath = tuple[str, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class KeyLines:
    """The line of each key the scan found, checked against the parsed document."""

    def __init__(self, text: str, document: Mapping[str, Any]) -> None:
        seen: dict[KeyPath, int] = {}
        repeated: set[KeyPath] = set()
        try:
            found = scan_keys(text)
        except Exception:  # a locator bug must never stop the app from starting
            found = []
        for number, path in found:
            if path in seen:
                repeated.add(path)
            seen.setdefault(path, number)
        self._lines = {
            path: number
            for path, number in seen.items()
            if path not in repeated and _holds(document, path)
        }

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, else of the nearest table around it that has one."""
        for length in range(len(path), 0, -1):
            line = self._lines.get(path[:length])
            if line is not None:
                return line
        return None


def keys_on_line(text: str, line: int) -> list[KeyPath]:
    """The keys the scan finds on one line (where the TOML parser stopped)."""
    try:
        return [path for number, path in scan_keys(text) if number == line]
    except Exception:  # a locator bug must never stop the app from starting
        return []


def _holds(document: Mapping[str, Any], path: KeyPath) -> bool:
    """True when ``path`` leads to a value in the parsed document (through tables only)."""
    node: Any = document
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def scan_keys(text: str) -> list[tuple[int, KeyPath]]:
    """(line, full key path) for every table header and key/value line, in file order.

    Follows ``[table]`` headers and dotted keys; keys inside inline tables are not listed.
    """
    found: list[tuple[int, KeyPath]] = []
    table: KeyPath = ()
    open_string: str | None = None  # the closing delimiter while inside a multi-line string
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.rstrip("\r")
        if open_string is not None:
            if open_string in line:
                open_string = None
            continue
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            start = 2 if stripped.startswith("[[") else 1
            header = _parse_key_path(stripped, start)
            if header is not None:
                table = header[0]
                found.append((number, table))
            continue
        parsed = _parse_key_path(stripped, 0)
        if parsed is None:
            continue
        key, pos = parsed
        if pos >= len(stripped) or stripped[pos] != "=":
            continue
        found.append((number, table + key))
        value = stripped[pos + 1 :].lstrip(" \t")
        for delimiter in ('"""', "'''"):
            if value.startswith(delimiter) and delimiter not in value[3:]:
                open_string = delimiter
                break
    return found


def _parse_key_path(text: str, pos: int) -> tuple[KeyPath, int] | None:
    """Read a (dotted, maybe quoted) TOML key at ``pos``; None if there is none."""
    parts: list[str] = []
    length = len(text)
    while True:
        while pos < length and text[pos] in " \t":
            pos += 1
        if pos >= length:
            return None
        char = text[pos]
        if char == '"':
            end = pos + 1
            while end < length and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= length:
                return None
            parts.append(_basic_string(text[pos : end + 1]))
            pos = end + 1
        elif char == "'":
            end = text.find("'", pos + 1)
            if end < 0:
                return None
            parts.append(text[pos + 1 : end])
            pos = end + 1
        else:
            match = _BARE_KEY.match(text, pos)
            if match is None:
                return None
            parts.append(match.group())
            pos = match.end()
        while pos < length and text[pos] in " \t":
            pos += 1
        if pos < length and text[pos] == ".":
            pos += 1
            continue
        return tuple(parts), pos


def _basic_string(raw: str) -> str:
    """A quoted key's text, escapes and all, as the parser reads it."""
    import tomllib

    try:
        return str(tomllib.loads(f"k = {raw}")["k"])
    except (tomllib.TOMLDecodeError, KeyError):
        return raw[1:-1]
