"""Every key binding a user can remap, in one table: id, default key, action and where it works.

The table feeds the App's and the screens' ``BINDINGS`` (``tui_chat.ui.bindings`` turns rows into
Textual ``Binding`` objects), the ``[bindings]`` section of the config template, and the check
of a keymap from config.toml (an id not in the table is a typo). A help screen can list it as it
is. No Textual here: the command line checks a keymap without importing the UI.

A binding with no id (a screen's arrow-key convenience) is not remappable and is not listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

Scope = Literal["app", "conversations", "settings", "spend", "compare", "key_entry", "dialog"]

SCOPE_TITLES: Final[Mapping[Scope, str]] = MappingProxyType(
    {
        "app": "Anywhere in the app",
        "conversations": "The saved conversations screen (ctrl+o)",
        "settings": "The settings screen (f2)",
        "spend": "The spend screen (f9)",
        "compare": "The compare screen (ctrl+t)",
        "key_entry": "The API key dialog",
        "dialog": "Every confirm or text dialog",
    }
)


@dataclass(frozen=True)
class KeyBinding:
    """One remappable binding.

    ``key``: Textual key names, comma-separated when there are several. ``description``: the
    footer's label. ``help``: one sentence for the template and a help screen. ``show``: shown
    in the footer. ``priority``: checked before the focused widget's own bindings (so a text
    field cannot swallow it). ``scope``: "app", or the screen whose ``BINDINGS`` it belongs to.
    """

    id: str
    key: str
    action: str
    description: str
    help: str
    show: bool = True
    priority: bool = False
    scope: Scope = "app"


# The order is the footer's order; keep it.
KEY_BINDINGS: Final[tuple[KeyBinding, ...]] = (
    KeyBinding("stop", "escape", "stop", "Stop", "Stop the reply being written (kept as it is)"),
    KeyBinding("pause", "ctrl+s", "pause", "Pause", "Pause the reply on screen"),
    KeyBinding("resume", "ctrl+s", "resume", "Resume", "Resume a paused reply"),
    KeyBinding(
        "retry", "ctrl+r", "retry", "Retry", "Ask again for the last reply (or go on at the limit)"
    ),
    KeyBinding(
        "regenerate",
        "ctrl+g",
        "regenerate",
        "Regenerate",
        "The last reply again (the earlier one is kept)",
        show=False,
    ),
    KeyBinding(
        "previous_alternate",
        "alt+left",
        "previous_alternate",
        "Previous alternate",
        "The previous alternate of the selected turn",
        show=False,
    ),
    KeyBinding(
        "next_alternate",
        "alt+right",
        "next_alternate",
        "Next alternate",
        "The next alternate of the selected turn",
        show=False,
    ),
    KeyBinding(
        "select_previous_turn",
        "alt+up",
        "select_previous_turn",
        "Select earlier turn",
        "Select an earlier turn (to flip or edit it)",
        show=False,
    ),
    KeyBinding(
        "select_next_turn",
        "alt+down",
        "select_next_turn",
        "Select later turn",
        "Select a later turn (past the newest: none)",
        show=False,
    ),
    KeyBinding(
        "edit_message",
        "alt+e",
        "edit_message",
        "Edit message",
        "Edit your message: sending it starts a branch",
        show=False,
        priority=True,  # before the prompt, which would type the "e" of alt+e
    ),
    KeyBinding("toggle_panel", "ctrl+b", "toggle_panel", "Models", "Show or hide the models panel"),
    KeyBinding("switch_model", "ctrl+l", "switch_model", "Switch model", "Pick another model"),
    KeyBinding(
        "new_conversation", "ctrl+n", "new_conversation", "New chat", "Start a new conversation"
    ),
    KeyBinding(
        "compare",
        "ctrl+t",
        "compare",
        "Compare",
        "Send the prompt to 2 to 4 endpoints at once",
        show=False,
    ),
    KeyBinding("conversations", "ctrl+o", "conversations", "Chats", "Open saved conversations"),
    KeyBinding("settings", "f2", "settings", "Settings", "This conversation's settings"),
    KeyBinding(
        "spend",
        "f9",
        "spend",
        "Spend",
        "What the saved replies cost, over time and by model",
        show=False,
    ),
    KeyBinding(
        "clear_history",
        "f8",
        "clear_history",
        "Clear history",
        "Clear the conversation on screen",
        show=False,
    ),
    KeyBinding(
        "toggle_credits",
        "f3",
        "toggle_credits",
        "Credits",
        "Show or hide costs and the balance",
        show=False,
    ),
    KeyBinding(
        "toggle_provider",
        "f4",
        "toggle_provider",
        "Provider",
        "Show or hide the provider of each reply",
        show=False,
    ),
    KeyBinding(
        "refresh_balance", "f5", "refresh_balance", "Balance", "Refresh the balance", show=False
    ),
    KeyBinding(
        "copy_reply",
        "f6",
        "copy_reply",
        "Copy reply",
        "Copy the last reply",
        show=False,
        priority=True,
    ),
    KeyBinding(
        "copy_code",
        "f7",
        "copy_code",
        "Copy code",
        "Copy the last reply's code block",
        show=False,
        priority=True,
    ),
    # From the prompt (or anywhere the key is free), while a reply streams too: the prompt gives
    # these up, so the conversation can be read back without leaving the box.
    KeyBinding(
        "log_page_up", "pageup", "log_page_up", "Scroll up", "Scroll the chat up a page", show=False
    ),
    KeyBinding(
        "log_page_down",
        "pagedown",
        "log_page_down",
        "Scroll down",
        "Scroll the chat down a page",
        show=False,
    ),
    KeyBinding(
        "log_top", "ctrl+home", "log_top", "Top", "The first message of the chat", show=False
    ),
    KeyBinding(
        "log_bottom",
        "ctrl+end",
        "log_bottom",
        "Bottom",
        "The newest message (new text follows again)",
        show=False,
    ),
    KeyBinding(
        "help",
        "f1",
        "help",
        "Help",
        "List the keys and actions (this screen)",
        show=False,
        priority=True,  # on every screen, the modal ones too
    ),
    KeyBinding("quit", "ctrl+q", "quit", "Quit", "Quit unify-tui", priority=True),
    KeyBinding(
        "conversations_close",
        "escape",
        "close",
        "Close",
        "Close the list",
        scope="conversations",
    ),
    KeyBinding(
        "conversations_new",
        "ctrl+n",
        "new",
        "New",
        "Start a new conversation",
        scope="conversations",
    ),
    KeyBinding(
        "conversations_rename",
        "f2",
        "rename",
        "Rename",
        "Rename the conversation",
        scope="conversations",
    ),
    KeyBinding(
        "conversations_delete",
        "delete",
        "delete",
        "Delete",
        "Delete the conversation",
        scope="conversations",
    ),
    KeyBinding(
        "settings_cancel", "escape", "cancel", "Cancel", "Close without saving", scope="settings"
    ),
    KeyBinding(
        "settings_save",
        "ctrl+s",
        "save",
        "Save",
        "Save the settings",
        priority=True,
        scope="settings",
    ),
    KeyBinding("spend_close", "escape", "close", "Close", "Close the spend screen", scope="spend"),
    KeyBinding(
        "spend_period",
        "ctrl+t",
        "next_period",
        "Day/week/month",
        "Spend over time per day, week or month",
        scope="spend",
    ),
    KeyBinding(
        "spend_export",
        "ctrl+e",
        "export_csv",
        "Export CSV",
        "Write the spend to a CSV file in the export folder",
        scope="spend",
    ),
    KeyBinding(
        "compare_stop",
        "escape",
        "stop_or_close",
        "Stop all / Back",
        "Stop the replies; once all have ended, go back",
        scope="compare",
    ),
    KeyBinding(
        "compare_pick_first",
        "1",
        "pick(0)",
        "Continue with 1",
        "Continue with reply 1; the others stay as alternates",
        scope="compare",
    ),
    KeyBinding(
        "compare_pick_second",
        "2",
        "pick(1)",
        "Continue with 2",
        "Continue with reply 2; the others stay as alternates",
        scope="compare",
    ),
    KeyBinding(
        "compare_pick_third",
        "3",
        "pick(2)",
        "Continue with 3",
        "Continue with reply 3; the others stay as alternates",
        scope="compare",
    ),
    KeyBinding(
        "compare_pick_fourth",
        "4",
        "pick(3)",
        "Continue with 4",
        "Continue with reply 4; the others stay as alternates",
        scope="compare",
    ),
    KeyBinding(
        "compare_stop_first",
        "exclamation_mark,shift+1",
        "stop_column(0)",
        "Stop 1",
        "Stop reply 1 only; the others go on",
        show=False,
        scope="compare",
    ),
    KeyBinding(
        "compare_stop_second",
        "at,shift+2",
        "stop_column(1)",
        "Stop 2",
        "Stop reply 2 only; the others go on",
        show=False,
        scope="compare",
    ),
    KeyBinding(
        "compare_stop_third",
        "number_sign,shift+3",
        "stop_column(2)",
        "Stop 3",
        "Stop reply 3 only; the others go on",
        show=False,
        scope="compare",
    ),
    KeyBinding(
        "compare_stop_fourth",
        "dollar_sign,shift+4",
        "stop_column(3)",
        "Stop 4",
        "Stop reply 4 only; the others go on",
        show=False,
        scope="compare",
    ),
    KeyBinding(
        "key_entry_cancel",
        "escape",
        "cancel",
        "Cancel",
        "Close the dialog without a key",
        scope="key_entry",
    ),
    KeyBinding(
        "dialog_cancel",
        "escape",
        "cancel",
        "Cancel",
        "Close the dialog, answering no",
        scope="dialog",
    ),
)

BINDING_IDS: Final[frozenset[str]] = frozenset(binding.id for binding in KEY_BINDINGS)

DEFAULT_KEYS: Final[Mapping[str, str]] = MappingProxyType(
    {binding.id: binding.key for binding in KEY_BINDINGS}
)
"""Binding id -> its keys as shipped, in table order."""


def bindings_in(scope: Scope) -> tuple[KeyBinding, ...]:
    """The rows of one scope, in table order."""
    return tuple(binding for binding in KEY_BINDINGS if binding.scope == scope)
