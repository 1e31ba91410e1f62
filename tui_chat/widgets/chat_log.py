"""The chat log: one widget per turn in a scrolling column that follows new text.

The log stays anchored to the bottom while the user is there; scrolling up lets go, and scrolling
back to the bottom re-attaches (Textual's anchor does exactly this).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.containers import VerticalScroll
from textual.widget import Widget

from tui_chat.core.conversation import Message, Outcome
from tui_chat.widgets.messages import ErrorCard, ModelMarker, Notice, ReplyView, UserTurn


class ChatLog(VerticalScroll):
    """A column of turns. Widgets are added here only; the conversation object holds the truth."""

    can_focus = True

    def __init__(self, *children: Widget, **options: Any) -> None:
        super().__init__(*children, **options)
        # id(Message) -> the widget showing it, for reveal() (search hits).
        self._message_widgets: dict[int, Widget] = {}

    def on_mount(self) -> None:
        self.anchor()

    @property
    def following(self) -> bool:
        """True while new text scrolls into view (the user is at the bottom)."""
        return self.is_anchored and not self._anchor_released

    def _add(self, widget: Widget) -> Widget:
        self.mount(widget)
        return widget

    def add_user(self, text: str, message: Message | None = None) -> UserTurn:
        turn = UserTurn(text)
        if message is not None:
            self._message_widgets[id(message)] = turn
        self._add(turn)
        return turn

    def add_reply(self, message: Message, *, streaming: bool) -> ReplyView:
        reply = ReplyView(message, streaming=streaming)
        self._message_widgets[id(message)] = reply
        self._add(reply)
        return reply

    def load_history(
        self, messages: Sequence[Message], *, show_credits: bool = True, show_provider: bool = True
    ) -> None:
        """Show stored messages: user turns, finished replies with their provenance line, a
        marker where the requested model changed, and a card for a reply that failed.

        The one place a saved conversation is turned into widgets (to be made lazy later).
        """
        widgets: list[Widget] = []
        replies: list[ReplyView] = []
        endpoint: str | None = None
        for message in messages:
            if message.role == "user":
                turn = UserTurn(message.content)
                self._message_widgets[id(message)] = turn
                widgets.append(turn)
            elif message.role == "assistant":
                requested = message.requested_endpoint
                if requested and endpoint is not None and requested != endpoint:
                    widgets.append(ModelMarker(requested))
                endpoint = requested or endpoint
                if message.content or message.outcome is not Outcome.ERROR:
                    reply = ReplyView(message, streaming=False)
                    if message.outcome is Outcome.STOPPED:
                        reply.add_class("-stopped")
                    self._message_widgets[id(message)] = reply
                    replies.append(reply)
                    widgets.append(reply)
                if message.outcome is Outcome.ERROR:
                    widgets.append(
                        ErrorCard("The reply failed", message.error or "", can_retry=False)
                    )
        for reply in replies:
            reply.refresh_provenance(show_credits=show_credits, show_provider=show_provider)
        if widgets:
            self.mount_all(widgets)

    def reveal(self, message: Message) -> bool:
        """Scroll to the widget showing ``message`` and highlight it; False if it is not shown."""
        widget = self._message_widgets.get(id(message))
        if widget is None:
            return False
        for found in self.query(".-search-hit"):
            found.remove_class("-search-hit")
        widget.add_class("-search-hit")
        self.release_anchor()
        self.call_after_refresh(self.scroll_to_widget, widget, top=True, animate=False)
        return True

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
        self._message_widgets.clear()
        self.remove_children()

    @property
    def replies(self) -> list[ReplyView]:
        return list(self.query(ReplyView))
