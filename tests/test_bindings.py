"""The one bindings table: unique ids, and the App and screens declare exactly its rows."""

from __future__ import annotations

from textual.binding import Binding

from tui_chat.bindings import BINDING_IDS, DEFAULT_KEYS, KEY_BINDINGS, SCOPE_TITLES, bindings_in


def test_ids_are_unique_and_every_scope_has_a_title() -> None:
    ids = [row.id for row in KEY_BINDINGS]
    assert len(ids) == len(set(ids)) == len(BINDING_IDS) == len(DEFAULT_KEYS)
    assert {row.scope for row in KEY_BINDINGS} == set(SCOPE_TITLES)
    assert all(row.help and row.description for row in KEY_BINDINGS)


def _declared_ids(bindings: object) -> list[str]:
    assert isinstance(bindings, list)
    return [b.id for b in bindings if isinstance(b, Binding) and b.id]


def test_the_app_and_its_screens_declare_the_table_rows_in_order() -> None:
    from tui_chat.ui.app import UnifyTUI
    from tui_chat.ui.screens.compare import CompareScreen
    from tui_chat.ui.screens.conversations import ConversationsScreen
    from tui_chat.ui.screens.dialogs import ConfirmScreen, TextPromptScreen
    from tui_chat.ui.screens.key_entry import KeyEntryScreen
    from tui_chat.ui.screens.model_picker import ModelPickerScreen
    from tui_chat.ui.screens.settings import SettingsScreen
    from tui_chat.ui.screens.spend import SpendScreen

    declared = {
        "app": UnifyTUI.BINDINGS,
        "conversations": ConversationsScreen.BINDINGS,
        "settings": SettingsScreen.BINDINGS,
        "spend": SpendScreen.BINDINGS,
        "compare": CompareScreen.BINDINGS,
        "key_entry": KeyEntryScreen.BINDINGS,
        "dialog": ConfirmScreen.BINDINGS,
    }
    assert TextPromptScreen.BINDINGS == ConfirmScreen.BINDINGS
    # the model picker (ctrl+l) closes with the dialogs' cancel key; its arrow keys have no ids
    assert _declared_ids(ModelPickerScreen.BINDINGS) == _declared_ids(ConfirmScreen.BINDINGS)
    for scope, bindings in declared.items():
        assert _declared_ids(bindings) == [row.id for row in bindings_in(scope)], scope
    app = {b.id: b for b in UnifyTUI.BINDINGS if isinstance(b, Binding)}
    for row in bindings_in("app"):
        binding = app[row.id]
        assert (binding.key, binding.action, binding.description) == (
            row.key,
            row.action,
            row.description,
        )
        assert (binding.show, binding.priority) == (row.show, row.priority)
