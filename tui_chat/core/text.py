"""Making untrusted text inert for display.

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
