"""The first-run key dialog: a masked input, where the key will be kept, and a format check.

It only asks. The app saves the key (``keys.save_key``, off the event loop) and connects; the
key typed here is never shown, logged or put in a message.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from tui_chat.config import GatewayProfile
from tui_chat.core.text import inert
from tui_chat.gateways.config import SecretStr
from tui_chat.keys import clean_key, validate_key_format
from tui_chat.ui.bindings import textual_bindings
from tui_chat.ui.screens import SCREEN_STYLES


class KeyEntryScreen(ModalScreen[SecretStr | None]):
    """Ask for a profile's API key. Dismisses with the cleaned key (a ``SecretStr``), or None.

    ``where`` says where the key will be kept ("the system keyring" or "~/.config/.../keys.toml,
    readable only by you"); ``host`` is where it will be sent.
    """

    CSS_PATH = SCREEN_STYLES
    BINDINGS = textual_bindings("key_entry")

    def __init__(
        self, profile: GatewayProfile, *, where: str, host: str, replacing: bool = False
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.profile = profile
        self.where = where
        self.host = host
        self.replacing = replacing

    def compose(self) -> ComposeResult:
        profile = self.profile
        env_hint = (
            f" (or set {profile.key_env} in the environment and restart)" if profile.key_env else ""
        )
        with Vertical(classes="dialog", id="key-entry"):
            yield Label(
                Content(inert(f"API key for {profile.label}")),
                classes="dialog-title",
                id="key-entry-title",
            )
            yield Label(
                Content(
                    inert(
                        f"Paste a new API key for the {profile.name!r} gateway ({self.host}): "
                        "it replaces the one in use."
                        if self.replacing
                        else f"No API key was found for the {profile.name!r} gateway "
                        f"({self.host}). Paste it here{env_hint}."
                    )
                ),
                classes="dialog-question",
            )
            yield Input(
                password=True,
                placeholder="paste the API key",
                id="key-input",
            )
            yield Label(
                Content(inert(f"It will be saved in {self.where}.")),
                id="key-entry-where",
                classes="dialog-note",
            )
            yield Label("", id="key-entry-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save and connect", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#key-input", Input).focus()

    @property
    def error_text(self) -> str:
        """The validation message on show ("" when none)."""
        return str(self.query_one("#key-entry-error", Label).content)

    def _show_error(self, text: str) -> None:
        self.query_one("#key-entry-error", Label).update(Content(inert(text)))

    def _submit(self) -> None:
        raw = self.query_one("#key-input", Input).value
        problem = validate_key_format(self.profile.kind, raw)
        if problem is not None:
            self._show_error(problem)  # never contains the key
            return
        self.dismiss(SecretStr(clean_key(raw)))

    @on(Input.Submitted, "#key-input")
    def _entered(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    @on(Input.Changed, "#key-input")
    def _typing(self, event: Input.Changed) -> None:
        self._show_error("")

    @on(Button.Pressed, "#save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
