"""Writing TOML by hand: keys and strings quoted only where they must be (config.toml's
template, keys.toml, the dotted key a problem is reported under)."""

from __future__ import annotations

import re

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(part: str) -> str:
    """``part`` as a TOML key: bare when it can be, quoted otherwise."""
    return part if _BARE_KEY.fullmatch(part) else toml_string(part)


def dotted_key(path: tuple[str, ...]) -> str:
    """A key path as TOML writes it: ``gateways.local.prices."llama3.1:8b"``."""
    return ".".join(toml_key(part) for part in path)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (quotes included)."""
    out = ['"']
    for char in text:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_value(value: object) -> str:
    """A scalar as TOML writes it (the template's examples): strings, booleans, numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"no TOML spelling for {type(value).__name__}")
