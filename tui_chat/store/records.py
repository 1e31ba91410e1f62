"""The plain records the store returns (frozen dataclasses; times are Unix seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui_chat.core.conversation import Conversation, Message

# Match markers inside SearchHit.snippet: Unicode private-use characters, chosen because they never
# occur in ordinary text and are not Markdown or Textual markup.
MATCH_START = "\ue000"
MATCH_END = "\ue001"
ELLIPSIS = "…"


@dataclass(frozen=True)
class ConversationRecord:
    """A conversation's own row: its title, model and settings (no messages)."""

    id: int
    title: str
    created_at: float
    updated_at: float
    model: str | None  # the last requested endpoint
    system_prompt: str | None
    temperature: float | None
    max_tokens: int | None
    spend_cap: float | None  # credits (USD); None means no cap
    archived: bool
    opened_at: float | None  # when the app last showed it; None if never


@dataclass(frozen=True)
class SavedConversation:
    """A conversation as loaded: its row, its messages, and each message's id.

    ``message_ids[i]`` is the id of ``conversation.messages[i]`` (the branch on screen, for
    ``update_message``); ``tree`` is every message of every branch with its id, in the order
    they were saved (``()`` from code that builds one by hand: then only the branch).
    """

    record: ConversationRecord
    conversation: Conversation
    message_ids: tuple[int, ...]
    tree: tuple[tuple[Message, int], ...] = ()

    def every_message(self) -> tuple[tuple[Message, int], ...]:
        """Every message with its id: ``tree``, else the branch on screen."""
        if self.tree:
            return self.tree
        return tuple(zip(self.conversation.messages, self.message_ids, strict=True))

    def message_with_id(self, message_id: int) -> Message | None:
        """The loaded message saved as ``message_id``, on whichever branch."""
        for message, saved_id in self.every_message():
            if saved_id == message_id:
                return message
        return None


@dataclass(frozen=True)
class ConversationSummary:
    """One line of the conversation list."""

    id: int
    title: str
    created_at: float
    updated_at: float
    total_cost: float  # credits (USD) spent on the conversation's replies
    models_used: tuple[str, ...]  # served (else requested) endpoints, in order of first use
    message_count: int
    archived: bool


@dataclass(frozen=True)
class SearchHit:
    """One message matching a search, best first.

    ``snippet`` is an excerpt of the message with each match wrapped in ``MATCH_START`` and
    ``MATCH_END`` and cuts shown as ``…``; ``snippet_parts()`` splits it for highlighting.
    """

    conversation_id: int
    message_id: int
    conversation_title: str
    role: str
    created_at: float
    snippet: str
    rank: float  # bm25 score; lower is a better match

    def snippet_parts(self) -> list[tuple[str, bool]]:
        """The snippet as ``(text, is_match)`` pieces, markers removed, empty pieces dropped."""
        parts: list[tuple[str, bool]] = []
        for index, chunk in enumerate(self.snippet.split(MATCH_START)):
            if index == 0:
                matched, rest = "", chunk
            else:
                matched, _, rest = chunk.partition(MATCH_END)
            if matched:
                parts.append((matched, True))
            if rest:
                parts.append((rest, False))
        return parts


@dataclass(frozen=True)
class Recovery:
    """What ``Store.open_or_recover`` did with a damaged database, to tell the user."""

    reason: str  # why the file was judged damaged
    moved_to: Path  # the damaged database, renamed <name>.corrupt-<timestamp>
    moved_files: tuple[Path, ...]  # everything moved: the database and its -wal/-shm files
    conversations: int = 0  # conversations read back out of it into the fresh database
    messages: int = 0  # messages read back, in those conversations
