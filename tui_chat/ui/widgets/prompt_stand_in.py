"""What the first frame shows where the prompt goes.

The prompt is a ``TextArea`` (``tui_chat.ui.widgets.prompt_input``): importing and setting it up
costs ~60M instructions, a sixth of what the app adds to a minimal Textual app's start-up
(valgrind; benchmarks/bench_startup.py). The first frame shows this light widget instead, with
the same box and hint, and the app puts the real prompt in its place as soon as the first frame
is up, or at once when something needs it sooner. Whatever is typed before that is kept and
handed over (``typed``, ``submit``), so nothing is lost.
"""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.widgets import Static

HINT = "Type a message. Enter sends, ctrl+j or alt+enter adds a line."
# Terminals often cannot tell shift+enter from enter, so ctrl+j and alt+enter are the fallbacks.
NEWLINE_KEYS = frozenset({"shift+enter", "ctrl+j", "alt+enter", "ctrl+enter"})


class PromptStandIn(Static, can_focus=True):
    """The prompt's box and hint until the real prompt replaces it; it keeps what is typed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Content(HINT), id=id, classes="-hint")
        self.typed = ""
        self.submit = False  # Enter was pressed: send once the prompt is there

    def on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            self.submit = bool(self.typed.strip())
        elif event.key in NEWLINE_KEYS:
            self.typed += "\n"
        elif event.key == "backspace":
            self.typed = self.typed[:-1]
        elif event.is_printable and event.character:
            self.typed += event.character
        else:
            return  # not text: the app's bindings may want it
        event.stop()
        event.prevent_default()
        self._show()

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.typed += event.text
        self._show()

    def _show(self) -> None:
        self.set_class(not self.typed, "-hint")
        self.update(Content(self.typed or HINT))
