"""Per-conversation settings: system prompt, temperature, max tokens, spend cap."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, TextArea

from tui_chat.core.accounting import plain_number
from tui_chat.core.conversation import ConversationSettings
from tui_chat.core.text import inert
from tui_chat.ui.bindings import textual_bindings
from tui_chat.ui.screens import SCREEN_STYLES

__all__ = ["ConversationSettings", "SettingsScreen", "parse_settings"]


def _number(
    text: str, kind: type[float] | type[int], name: str, low: float, high: float
) -> float | int | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}.") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {text}.")
    return value


def parse_settings(
    system_prompt: str, temperature: str, max_tokens: str, spend_cap: str
) -> ConversationSettings:
    """Validate the form's text; raises ValueError with a message naming the field."""
    temp = _number(temperature, float, "Temperature", 0.0, 2.0)
    tokens = _number(max_tokens, int, "Max tokens", 1, 10_000_000)
    cap = _number(spend_cap, float, "Spend cap", 0.0, 1e9)
    return ConversationSettings(
        system_prompt=system_prompt.strip() or None,
        temperature=None if temp is None else float(temp),
        max_tokens=None if tokens is None else int(tokens),
        spend_cap=None if cap is None or cap == 0 else float(cap),
    )


class SettingsScreen(ModalScreen[ConversationSettings | None]):
    """Edit this conversation's settings; they are saved with the conversation."""

    CSS_PATH = SCREEN_STYLES
    BINDINGS = textual_bindings("settings")

    def __init__(self, current: ConversationSettings) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        current = self.current
        with VerticalScroll(id="settings-panel"):
            yield Label("Conversation settings", id="settings-title")
            yield Label("System prompt (sent first with every turn)")
            yield TextArea(current.system_prompt or "", id="system-prompt", soft_wrap=True)
            yield Label("Temperature (0 to 2; empty for the model's default)")
            yield Input(_text(current.temperature), id="temperature", type="number")
            yield Label("Max tokens per reply (empty for no limit)")
            yield Input(_text(current.max_tokens), id="max-tokens", type="integer")
            yield Label("Spend cap for this conversation, in credits (empty for none)")
            yield Input(_text(current.spend_cap), id="spend-cap", type="number")
            yield Label("", id="settings-error", classes="dialog-error")
            yield Label("ctrl+s save · esc cancel", classes="settings-help")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#system-prompt", TextArea).focus()

    def action_save(self) -> None:
        try:
            settings = parse_settings(
                self.query_one("#system-prompt", TextArea).text,
                self.query_one("#temperature", Input).value,
                self.query_one("#max-tokens", Input).value,
                self.query_one("#spend-cap", Input).value,
            )
        except ValueError as error:
            self.query_one("#settings-error", Label).update(Content(inert(str(error))))
            return
        self.dismiss(settings)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()


def _text(value: float | int | None) -> str:
    return "" if value is None else plain_number(value) if isinstance(value, float) else str(value)
