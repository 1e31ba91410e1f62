"""The multi-line prompt box: Enter sends, shift+enter / ctrl+j / alt+enter insert a newline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip
from textual.widgets import TextArea

from tui_chat.ui.widgets.prompt_stand_in import HINT, NEWLINE_KEYS

_LOG_KEYS = ("pageup", "pagedown")  # the app's: they scroll the chat (bindings table)


class PromptInput(TextArea, inherit_bindings=False):
    """A TextArea that submits on Enter and recalls earlier prompts with up/down when empty.

    Page up and page down are the app's, not the box's: they scroll the chat, so the
    conversation can be read back from the prompt while a reply streams."""

    BINDINGS: ClassVar[list[BindingType]] = [
        binding
        for binding in TextArea.BINDINGS
        if not isinstance(binding, Binding) or binding.key not in _LOG_KEYS
    ]

    @dataclass
    class Submitted(Message):
        """The user pressed Enter on a non-empty prompt."""

        prompt_input: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            return self.prompt_input

    def __init__(
        self, *, id: str | None = None, classes: str | None = None, text: str = ""
    ) -> None:
        super().__init__(
            text,
            id=id,
            classes=classes,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            compact=True,
            placeholder=HINT,
        )
        self._sent: list[str] = []
        # Position in the recall list while browsing; None when not browsing.
        self._recall_index: int | None = None

    def on_mount(self) -> None:
        self.move_cursor(self.document.end)  # after any text it was given (the stand-in's)

    def render_line(self, y: int) -> Strip:
        # Squeezed to no width (a narrow terminal with the selector panel shown), TextArea's
        # placeholder wrap divides by the width and raises: there is nothing to draw anyway.
        if self.content_size.width < 1:
            return Strip.blank(0)
        return super().render_line(y)

    def remember(self, text: str) -> None:
        """Add a sent prompt to the recall list (skipping an immediate repeat)."""
        if text and (not self._sent or self._sent[-1] != text):
            self._sent.append(text)
        self._recall_index = None

    def take_sent(self, text: str) -> None:
        """Remove ``text``, just sent, from the box, keeping what was typed after the Enter.

        Keys typed in a burst (pasted, or fast) after the Enter are in the box by the time the
        message is sent; clearing the box lost them."""
        current = self.text
        rest = current[len(text) :] if current.startswith(text) else current
        self.load_text(rest)
        self.move_cursor(self.document.end)

    @property
    def recall_list(self) -> tuple[str, ...]:
        return tuple(self._sent)

    def takes_key(self, key: str) -> bool:
        """The bound keys this widget's own key handler takes (tui_chat/ui/ordered_keys.py)."""
        return key in ("enter", "up", "down") or key in NEWLINE_KEYS

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text
            if text.strip():
                self.post_message(self.Submitted(self, text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.key in ("up", "down") and self._recall(event.key):
            event.stop()
            event.prevent_default()
            return
        if event.is_printable or event.key in ("backspace", "delete"):
            self._recall_index = None
        await super()._on_key(event)

    def _recall(self, key: str) -> bool:
        """Browse earlier prompts when the box is empty (or shows a recalled prompt)."""
        if not self._sent:
            return False
        browsing = self._recall_index is not None
        if not browsing and self.text:
            return False
        if key == "up":
            index = len(self._sent) - 1 if not browsing else max(0, self._recall_index - 1)  # type: ignore[operator]
        else:
            if not browsing:
                return False
            index = self._recall_index + 1  # type: ignore[operator]
            if index >= len(self._sent):
                self._recall_index = None
                self.load_text("")
                return True
        self._recall_index = index
        self.load_text(self._sent[index])
        self.move_cursor(self.document.end)
        return True
