"""Making untrusted text valid and inert.

Text from the wire is made valid Unicode before it is kept or resent (``valid_text``): a lone
surrogate (JSON's ``"\ud800"``) cannot be encoded as UTF-8, so one in a reply made every later
request of its conversation fail, and the database refuse it.


Model output, server-supplied names and pasted text are data. Control characters (ESC starting an
ANSI or OSC sequence, BEL ending one, C1 controls such as CSI 0x9b, carriage returns that would
overwrite a line) must never reach the terminal: they are swapped for visible stand-ins, so a
user sees ``␛]52;c;…`` instead of having their clipboard written.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _stand_in(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control pictures" block: ␛ ␇ ␍ …
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\x{code:02x}"  # C1 controls have no picture; show the escape form


def inert(text: str) -> str:
    """Return ``text`` with every control character except newline and tab made visible."""
    return _CONTROL.sub(_stand_in, text)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """Return ``text`` with every lone surrogate replaced by U+FFFD (the replacement character).

    ``json.loads`` already joins a surrogate pair written as two escapes; what is left is alone.
    """
    if text.isascii():  # nearly every streamed piece: no scan (this runs per text event)
        return text
    return _LONE_SURROGATE.sub("\ufffd", text)
