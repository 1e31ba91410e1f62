"""The help screen (f1, or "Help: keys and actions" in the palette): the app's own keys.

Written from the bindings table (``tui_chat.bindings``), grouped by where each key works under
the same titles as ``unify-tui --print-config``, with the keys config.toml ``[bindings]`` set in
place of the defaults. Textual's own Keys panel (ctrl+p, Keys) lists every binding of the
focused widget as well, the prompt's cursor keys among them; this lists what the app does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui_chat.bindings import SCOPE_TITLES, Scope, bindings_in
from tui_chat.ui.key_names import display_key
from tui_chat.ui.screens import SCREEN_STYLES

TIPS = (
    "In the prompt: enter sends; shift+enter, alt+enter or ctrl+j starts a new line; "
    "up and down in an empty prompt bring back earlier messages.",
    "ctrl+p opens the command palette: these actions by name, models to switch to, themes, "
    "and Textual's Keys panel.",
    "The mouse works too: click the footer's keys, buttons and the models panel; "
    "the wheel scrolls.",
    "Keys are changed in config.toml under [bindings] (unify-tui --print-config lists them).",
)


def keys_shown(keys: str) -> str:
    """``"escape,ctrl+k"`` as the user reads it: ``esc, ctrl+k``."""
    return ", ".join(display_key(key.strip()) for key in keys.split(","))


class HelpScreen(ModalScreen[None]):
    """Every remappable key of the app, by where it works; esc, q or f1 closes."""

    CSS_PATH = SCREEN_STYLES
    # No ids: these are the screen's own, not remappable (the help binding also closes it).
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,f1", "close", "Close", show=False)]

    def __init__(self, keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = dict(keymap or {})

    def key_of(self, binding_id: str, default: str) -> str:
        """The keys a binding has now: config.toml's when it set them, else the default."""
        return self.keymap.get(binding_id) or default

    def compose(self) -> ComposeResult:
        with Vertical(id="help-panel"):
            yield Label("Keys and actions", id="help-title")
            with VerticalScroll(id="help-body"):
                for scope, title in SCOPE_TITLES.items():
                    yield Static(Content(title), classes="help-heading")
                    yield Static(self._table(scope), classes="help-keys")
                yield Static(Content("More"), classes="help-heading")
                for tip in TIPS:
                    yield Static(Content(tip), classes="help-tip")
            yield Label("esc, q or f1 closes; ↑ ↓ pgup pgdn scroll", id="help-hint")

    def _table(self, scope: Scope) -> Table:
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column(no_wrap=True, style="bold")
        table.add_column(ratio=1)
        for row in bindings_in(scope):
            table.add_row(Text(keys_shown(self.key_of(row.id, row.key))), Text(row.help))
        return table

    def on_mount(self) -> None:
        self.query_one("#help-body", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)


def toggle_help(app: App[Any], keymap: Mapping[str, str]) -> None:
    """Open the help screen, or close it when it is the screen on top."""
    if isinstance(app.screen, HelpScreen):
        app.screen.dismiss(None)
    else:
        app.push_screen(HelpScreen(keymap))
