"""The conversation list: open, new, rename, delete, and full-text search that jumps to a hit.

It reads the store in thread workers (SQLite is local but blocking), which post what they found
to the screen itself as messages; it hands its choice back to the app through ``dismiss`` (the
app does the opening) and tells the app of a deletion or a failed write with a message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tui_chat.core.text import inert
from tui_chat.store import MATCH_END, MATCH_START, ConversationSummary, SearchHit, Store
from tui_chat.ui.bindings import textual_bindings
from tui_chat.ui.saved_messages import ConversationDeleted, ConversationWriteFailed
from tui_chat.ui.screens import SCREEN_STYLES
from tui_chat.ui.screens.dialogs import ConfirmScreen, TextPromptScreen

__all__ = [
    "ConversationChoice",
    "ConversationDeleted",
    "ConversationsScreen",
    "NewConversation",
    "OpenConversation",
    "hit_line",
    "summary_line",
]


@dataclass(frozen=True)
class OpenConversation:
    """The user chose a conversation (and, from a search hit, a message in it)."""

    conversation_id: int
    message_id: int | None = None


@dataclass(frozen=True)
class NewConversation:
    """The user asked for a new conversation."""


ConversationChoice = OpenConversation | NewConversation | None


@dataclass
class SummariesLoaded(TextualMessage):
    """The list of saved conversations, newest first (posted to the screen by its worker)."""

    summaries: list[ConversationSummary]


@dataclass
class HitsFound(TextualMessage):
    """The search for ``text`` found ``hits`` (posted to the screen by its worker)."""

    text: str
    hits: list[SearchHit]


@dataclass
class ListFailed(TextualMessage):
    """Listing or searching failed; ``text`` says so (posted to the screen by its worker)."""

    text: str


@dataclass
class ConversationsChanged(TextualMessage):
    """A rename or delete was tried: the list is read again (posted to the screen)."""


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def summary_line(summary: ConversationSummary) -> Content:
    """Title, then when, size, spend and models: all data, never markup."""
    models = ", ".join(summary.models_used[:3])
    if len(summary.models_used) > 3:
        models += f" +{len(summary.models_used) - 3}"
    details = (
        f"{_when(summary.updated_at)} · {summary.message_count} messages · "
        f"{summary.total_cost:.6f} credits"
    )
    if models:
        details += f" · {models}"
    return Content.assemble((inert(summary.title), "bold"), "\n", (inert(details), "dim"))


def hit_line(hit: SearchHit) -> Content:
    """A search hit: the conversation title and the snippet with the matches highlighted."""
    parts: list[Any] = [(inert(hit.conversation_title), "bold"), f"  {hit.role}\n"]
    snippet = hit.snippet.replace("\n", " ")
    while snippet:
        start = snippet.find(MATCH_START)
        if start < 0:
            parts.append(inert(snippet))
            break
        end = snippet.find(MATCH_END, start)
        if end < 0:
            end = len(snippet)
        parts.append(inert(snippet[:start]))
        parts.append((inert(snippet[start + 1 : end]), "reverse"))
        snippet = snippet[end + 1 :]
    return Content.assemble(*parts)


class ConversationsScreen(ModalScreen[ConversationChoice]):
    """Keyboard-driven list of saved conversations with search."""

    CSS_PATH = SCREEN_STYLES
    BINDINGS = [
        *textual_bindings("conversations"),
        Binding("down", "to_list", show=False),
    ]

    def __init__(self, store: Store, current_id: int | None = None) -> None:
        super().__init__()
        self.store = store
        self.current_id = current_id
        self._summaries: list[ConversationSummary] = []
        self._searching = False

    def compose(self) -> ComposeResult:
        with Vertical(id="conversations-panel"):
            yield Label("Conversations", id="conversations-title")
            yield Input(placeholder="Search all messages…", id="conversation-search")
            yield OptionList(id="conversation-list")
            yield Label(
                "enter open · ctrl+n new · f2 rename · delete remove · type to search · esc close",
                id="conversations-help",
            )

    def on_mount(self) -> None:
        self.load_list()
        self.query_one("#conversation-search", Input).focus()

    @property
    def option_list(self) -> OptionList:
        return self.query_one("#conversation-list", OptionList)

    # -- loading ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="conversations")
    def load_list(self) -> None:
        try:
            summaries = self.store.list_conversations()
        except Exception as error:
            self.post_message(ListFailed(f"Could not list conversations: {error}"))
            return
        self.post_message(SummariesLoaded(summaries))

    @on(SummariesLoaded)
    def _show_summaries(self, event: SummariesLoaded) -> None:
        summaries = event.summaries
        self._summaries = summaries
        self._searching = False
        options = self.option_list
        options.clear_options()
        if not summaries:
            options.add_option(Option("No saved conversations yet.", disabled=True))
            return
        options.add_options(Option(summary_line(s), id=f"conversation:{s.id}") for s in summaries)
        for index, summary in enumerate(summaries):
            if summary.id == self.current_id:
                options.highlighted = index
                break
        else:
            options.highlighted = 0

    @on(ListFailed)
    def _show_problem(self, event: ListFailed) -> None:
        options = self.option_list
        options.clear_options()
        options.add_option(Option(Content(inert(event.text)), disabled=True))

    @on(Input.Changed, "#conversation-search")
    def _search_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        if text:
            self.search(text)
        else:
            self.load_list()

    @work(thread=True, exclusive=True, group="conversations")
    def search(self, text: str) -> None:
        try:
            hits = self.store.search(text, limit=100)
        except Exception as error:
            self.post_message(ListFailed(f"Search failed: {error}"))
            return
        self.post_message(HitsFound(text, hits))

    @on(HitsFound)
    def _show_hits(self, event: HitsFound) -> None:
        text, hits = event.text, event.hits
        self._searching = True
        options = self.option_list
        options.clear_options()
        if not hits:
            options.add_option(Option(Content(inert(f"Nothing matches “{text}”.")), disabled=True))
            return
        options.add_options(
            Option(hit_line(hit), id=f"hit:{hit.conversation_id}:{hit.message_id}") for hit in hits
        )
        options.highlighted = 0

    # -- choosing -----------------------------------------------------------------------

    @on(Input.Submitted, "#conversation-search")
    def _search_submitted(self) -> None:
        self._choose(self.option_list.highlighted)

    @on(OptionList.OptionSelected, "#conversation-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option_index)

    def _choose(self, index: int | None) -> None:
        if index is None:
            return
        option = self.option_list.get_option_at_index(index)
        kind, _, rest = (option.id or "").partition(":")
        if kind == "conversation":
            self.dismiss(OpenConversation(int(rest)))
        elif kind == "hit":
            conversation_id, _, message_id = rest.partition(":")
            self.dismiss(OpenConversation(int(conversation_id), int(message_id)))

    def _highlighted_summary(self) -> ConversationSummary | None:
        index = self.option_list.highlighted
        if self._searching or index is None or index >= len(self._summaries):
            return None
        return self._summaries[index]

    def action_to_list(self) -> None:
        self.option_list.focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_new(self) -> None:
        self.dismiss(NewConversation())

    def action_rename(self) -> None:
        summary = self._highlighted_summary()
        if summary is None:
            return

        def renamed(title: str | None) -> None:
            if title and title.strip():
                self._rename(summary.id, title.strip())

        self.app.push_screen(TextPromptScreen("Rename conversation", summary.title), renamed)

    @work(thread=True, group="conversations-write")
    def _rename(self, conversation_id: int, title: str) -> None:
        try:
            self.store.rename(conversation_id, title)
        except Exception as error:
            self.app.post_message(ConversationWriteFailed(str(error)))
        self.post_message(ConversationsChanged())

    def action_delete(self) -> None:
        summary = self._highlighted_summary()
        if summary is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._delete(summary.id)

        question = f"Delete “{summary.title}” and its {summary.message_count} messages?"
        self.app.push_screen(ConfirmScreen(question), confirmed)

    @work(thread=True, group="conversations-write")
    def _delete(self, conversation_id: int) -> None:
        try:
            self.store.delete(conversation_id)
        except Exception as error:
            self.app.post_message(ConversationWriteFailed(str(error)))
        else:
            self.app.post_message(ConversationDeleted(conversation_id))
        self.post_message(ConversationsChanged())

    @on(ConversationsChanged)
    def _reload(self) -> None:
        self.load_list()
