"""Keys as terminals send them, where Textual's input parser loses one: alt+enter.

Terminals and tmux send alt+enter as ESC CR (some as ESC LF). Textual 8.2's parser finds no key
for those two bytes, waits for more, and then reports the CR alone as a plain ``enter`` (the ESC
is dropped), so the prompt sent the message instead of adding a line; typed in a burst, the ESC
even came out as a ``^`` glued to the text. Only terminals speaking the kitty keyboard protocol
send a distinct alt+enter (``CSI 13;3u``), which Textual already reports as ``alt+enter``.

``KeyParser`` reports both sequences as ``alt+enter`` the moment they arrive, like the kitty
form; everything else parses as before. A lone CR stays ``enter``.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import events
from textual._xterm_parser import XTermParser
from textual.driver import Driver

ALT_ENTER_SEQUENCES = frozenset({"\x1b\r", "\x1b\n"})


class KeyParser(XTermParser):
    """Textual's xterm parser, with ESC CR and ESC LF read as alt+enter."""

    def _sequence_to_key_events(self, sequence: str, alt: bool = False) -> Iterable[events.Key]:
        if sequence in ALT_ENTER_SEQUENCES or (alt and sequence in ("\r", "\n")):
            yield events.Key("alt+enter", None)
            return
        yield from super()._sequence_to_key_events(sequence, alt)


def use_key_parser(driver_class: type[Driver]) -> type[Driver]:
    """Make Textual's Linux driver parse input with ``KeyParser``; the driver class, unchanged.

    The Linux driver builds its parser from the name ``XTermParser`` in its own module when its
    input thread starts, with no hook to pass another class, so that name is pointed at the
    subclass. Other drivers (Windows, headless, web) are left as they are.
    """
    try:
        from textual.drivers import linux_driver
    except ImportError:  # no termios: not a POSIX terminal
        return driver_class
    if issubclass(driver_class, linux_driver.LinuxDriver):
        # (XTermParser is imported into linux_driver, not defined there: mypy calls it private)
        linux_driver.XTermParser = KeyParser  # type: ignore[attr-defined]
    return driver_class
