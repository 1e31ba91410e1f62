"""Small modal dialogs: confirm, and ask for one line of text."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from tui_chat.core.text import inert
from tui_chat.ui.bindings import textual_bindings
from tui_chat.ui.screens import SCREEN_STYLES


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with True only on an explicit yes."""

    CSS_PATH = SCREEN_STYLES
    BINDINGS = textual_bindings("dialog")

    def __init__(self, question: str, *, confirm_label: str = "Delete") -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Content(inert(self.question)), classes="dialog-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self.confirm_label, id="confirm", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_cancel(self) -> None:
        self.dismiss(False)


class TextPromptScreen(ModalScreen[str | None]):
    """Ask for one line of text (a title, a key); dismisses with None on escape."""

    CSS_PATH = SCREEN_STYLES
    BINDINGS = textual_bindings("dialog")

    def __init__(
        self, question: str, value: str = "", *, password: bool = False, placeholder: str = ""
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.value = value
        self.password = password
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Content(inert(self.question)), classes="dialog-question")
            yield Input(
                self.value, password=self.password, placeholder=self.placeholder, id="answer"
            )
            yield Label("", id="dialog-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("OK", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    def show_error(self, text: str) -> None:
        self.query_one("#dialog-error", Label).update(Content(inert(text)))

    @on(Input.Submitted, "#answer")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.dismiss(self.query_one("#answer", Input).value)
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
