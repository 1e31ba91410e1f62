"""The chat log: one widget per turn in a scrolling column that follows new text.

The log stays anchored to the bottom while the user is there; scrolling up lets go, and scrolling
back to the bottom re-attaches (Textual's anchor does exactly this).
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widget import Widget

from tui_chat.core.conversation import Message
from tui_chat.widgets.messages import ErrorCard, ModelMarker, Notice, ReplyView, UserTurn


class ChatLog(VerticalScroll):
    """A column of turns. Widgets are added here only; the conversation object holds the truth."""

    can_focus = True

    def on_mount(self) -> None:
        self.anchor()

    @property
    def following(self) -> bool:
        """True while new text scrolls into view (the user is at the bottom)."""
        return self.is_anchored and not self._anchor_released

    def _add(self, widget: Widget) -> Widget:
        self.mount(widget)
        return widget

    def add_user(self, text: str) -> UserTurn:
        turn = UserTurn(text)
        self._add(turn)
        return turn

    def add_reply(self, message: Message, *, streaming: bool) -> ReplyView:
        reply = ReplyView(message, streaming=streaming)
        self._add(reply)
        return reply

    def add_marker(self, endpoint: str) -> ModelMarker:
        marker = ModelMarker(endpoint)
        self._add(marker)
        return marker

    def add_error(self, title: str, detail: str, *, can_retry: bool = True) -> ErrorCard:
        card = ErrorCard(title, detail, can_retry=can_retry)
        self._add(card)
        return card

    def add_notice(self, text: str) -> Notice:
        notice = Notice(text)
        self._add(notice)
        return notice

    def clear_turns(self) -> None:
        self.remove_children()

    @property
    def replies(self) -> list[ReplyView]:
        return list(self.query(ReplyView))
