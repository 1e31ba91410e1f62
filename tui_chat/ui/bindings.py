"""Textual ``Binding`` objects from the one bindings table (``tui_chat.bindings``)."""

from __future__ import annotations

from textual.binding import Binding, BindingType

from tui_chat.bindings import Scope, bindings_in


def textual_bindings(scope: Scope) -> list[BindingType]:
    """The table's rows for ``scope`` as Textual bindings, in table order (the footer's)."""
    return [
        Binding(
            row.key,
            row.action,
            row.description,
            show=row.show,
            priority=row.priority,
            id=row.id,
        )
        for row in bindings_in(scope)
    ]
