"""The refusal of a send at a budget, inline in the log, with its one-time override."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.widgets import Button, Static

from tui_chat.core.text import inert
from tui_chat.ui.widgets.messages import ErrorCard


class BudgetCard(ErrorCard):
    """ "Budget reached": why, and "Send anyway", which sends the text in the box once."""

    @dataclass
    class SendAnyway(TextualMessage):
        card: BudgetCard

    def __init__(self, detail: str) -> None:
        super().__init__("Budget reached: not sent", detail, can_retry=False)
        self.add_class("budget-card")

    def compose(self) -> ComposeResult:
        yield Static(Content(inert(self.title)), classes="error-title")
        yield Static(Content(inert(self.detail)), classes="error-detail")
        with Horizontal(classes="error-actions"):
            yield Button("Send anyway", id="send-anyway", variant="warning", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send-anyway":
            event.stop()
            self.post_message(self.SendAnyway(self))
