"""The binding ids a keymap in config.toml can name: the app's, its screens' and its widgets'."""

from __future__ import annotations

import importlib

from textual.binding import Binding
from textual.dom import DOMNode

from tui_chat.config import KNOWN_BINDING_IDS

# The screens and the prompt have bindings of their own. They are imported on first use, not
# at start-up, so the keymap check imports them itself.
_LAZY_MODULES = (
    "tui_chat.ui.screens.conversations",
    "tui_chat.ui.screens.dialogs",
    "tui_chat.ui.screens.key_entry",
    "tui_chat.ui.screens.settings",
    "tui_chat.ui.widgets.prompt_input",
)


def known_binding_ids() -> frozenset[str]:
    """Every binding id a keymap can name: the app's, its screens' and its widgets'.

    Import ``tui_chat.ui.app`` first (its widgets); this imports the screens (~20 ms), so call it
    only when there is a keymap to check."""
    for name in _LAZY_MODULES:
        importlib.import_module(name)
    return KNOWN_BINDING_IDS | _declared_binding_ids()


def _declared_binding_ids() -> frozenset[str]:
    """The ids of every ``Binding`` declared by a loaded Textual class (app, screens, widgets)."""
    ids: set[str] = set()
    seen: set[type] = set()
    stack: list[type] = [DOMNode]
    while stack:
        cls = stack.pop()
        for binding in cls.__dict__.get("BINDINGS", ()):
            if isinstance(binding, Binding) and binding.id:
                ids.add(binding.id)
        subclasses: list[type] = cls.__subclasses__()
        for sub in subclasses:
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
    return frozenset(ids)
