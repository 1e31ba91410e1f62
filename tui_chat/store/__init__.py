"""Saved conversations: one SQLite file with a full-text index, plus Markdown and JSON export.

No Textual here; the app calls the ``Store`` from thread workers, the plain ``Agent`` may too.
See ``docs/storage.md`` for the schema, the concurrency model and the failure modes.
"""

from __future__ import annotations

from tui_chat.store.errors import (
    RecordNotFound,
    StoreCorrupt,
    StoreError,
    StoreRetryable,
    StoreTooNew,
    StoreUnavailable,
)
from tui_chat.store.records import (
    MATCH_END,
    MATCH_START,
    ConversationRecord,
    ConversationSummary,
    Recovery,
    SavedConversation,
    SearchHit,
)
from tui_chat.store.schema import SCHEMA_VERSION
from tui_chat.store.store import UNSET, Store, default_database_path

__all__ = [
    "MATCH_END",
    "MATCH_START",
    "SCHEMA_VERSION",
    "UNSET",
    "ConversationRecord",
    "ConversationSummary",
    "RecordNotFound",
    "Recovery",
    "SavedConversation",
    "SearchHit",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreRetryable",
    "StoreTooNew",
    "StoreUnavailable",
    "default_database_path",
]
