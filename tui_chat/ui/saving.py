"""The app's saved conversations: recording, reopening, the conversation list, settings, export.

Mixed into ``UnifyTUI`` so the App class keeps to chatting; everything here that touches SQLite
or a file runs on the recorder's writer thread or in a thread worker, never on the event loop.
Without a store (``--no-save``, a read-only data directory, tests) the app chats as before and
the status bar says "not saving".
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
from textual import work
from textual.message import Message as TextualMessage

from tui_chat.core.conversation import Conversation, ConversationSettings, Message
from tui_chat.core.endpoint import EndpointError, parse_endpoint
from tui_chat.core.text import inert
from tui_chat.ui.worker_calls import deliver

if TYPE_CHECKING:
    from tui_chat.store import ConversationRecord, SavedConversation, Store
    from tui_chat.store.recorder import ConversationRecorder
    from tui_chat.ui.app import UnifyTUI
    from tui_chat.ui.screens.conversations import ConversationChoice, ConversationDeleted

# ``tui_chat.store`` (with sqlite3) is imported when the database is opened, after the first
# frame (UnifyTUI.on_ready), not at start-up.
StoreOpener = Callable[[], "tuple[Store | None, str | None]"]

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def default_export_dir() -> Path:
    """Where exports go unless the app is told otherwise: ``~/Documents/unify-tui``."""
    return Path(platformdirs.user_documents_dir()) / "unify-tui"


def export_file_name(title: str, suffix: str, now: float) -> str:
    """``<title as a safe slug>-<YYYYmmdd-HHMMSS><suffix>``."""
    slug = _UNSAFE_FILE_CHARS.sub("-", title).strip("-.")[:40] or "conversation"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}{suffix}"


def _export_problem(folder: Path, error: OSError) -> str:
    """Why ``folder`` could not take an export, in words (it touches the disk: a worker's job)."""
    try:
        # A file where the folder (or one of its parents) should be: say which one.
        for place in (folder, *folder.parents):
            if place.exists():
                if not place.is_dir():
                    return f"{place} is a file, not a folder"
                break
    except OSError:
        pass
    return error.strerror or str(error)


@dataclass
class SaveFailed(TextualMessage):
    """A write to the store failed (posted from the writer thread)."""

    text: str


class SavedConversations:
    """The saving half of ``UnifyTUI`` (a mixin: it uses the app's conversation, log and status)."""

    store: Store | None
    recorder: ConversationRecorder | None
    store_notice: str | None
    export_dir: Path | None
    conversation_settings: ConversationSettings
    conversation_title: str | None

    def _init_saving(
        self: UnifyTUI,
        store: Store | None,
        store_notice: str | None,
        export_dir: Path | None,
        flush_interval_s: float,
        open_store: StoreOpener | None = None,
    ) -> None:
        self.store = store
        self.store_notice = store_notice
        # Opens the database when the first frame is up: (store or None, notice or None).
        self._open_store = open_store
        self.export_dir = export_dir
        self.recorder = None
        self.conversation_settings = ConversationSettings()
        self.conversation_title = None
        self._default_temperature = self.temperature
        self._default_max_tokens = self.max_tokens
        self._flush_interval_s = flush_interval_s
        self._last_save_error: str | None = None

    @property
    def conversation_id(self) -> int | None:
        """The store id of the conversation on screen (None before its first message is saved)."""
        return None if self.recorder is None else self.recorder.conversation_id

    # -- start and stop -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="store-open")
    def open_store_and_start_saving(self: UnifyTUI) -> None:
        """After the first frame: open the database (``PRAGMA quick_check`` reads the whole
        file, 0.18 s for 90 MB) off the event loop, then start saving on it."""
        opener = self._open_store
        if opener is None:
            return
        store, notice = opener()
        deliver(self, self._store_opened, store, notice)
        if store is not None and self.store is not store:
            store.close()  # the app was closing and never took it: nobody else will

    def _store_opened(self: UnifyTUI, store: Store | None, notice: str | None) -> None:
        self._open_store = None
        self.store, self.store_notice = store, notice
        self._start_saving()

    def _start_saving(self: UnifyTUI) -> None:
        """On mount, or once the app has opened the database itself."""
        if self.store_notice:
            self.chat_log.add_notice(self.store_notice)
        if self.store is None:
            self.status.saving = "not saving"
            return
        from tui_chat.store.recorder import ConversationRecorder

        self.recorder = ConversationRecorder(
            self.store, on_error=self._save_failed, flush_interval_s=self._flush_interval_s
        )
        if self.conversation.messages:
            # Sent before the database was open (typed ahead of the first frame): they are
            # saved now, and the last conversation is not reopened over them.
            for message in self.conversation.messages:
                self._record_added(message)
        else:
            self.restore_last_conversation()

    def _stop_saving(self: UnifyTUI) -> None:
        """On exit: save the reply that is still arriving, then finish every queued write."""
        if self.recorder is None:
            return
        self._save_live_reply()
        self.recorder.close()

    def _save_live_reply(self: UnifyTUI) -> None:
        live = self.replies.live_reply
        if self.recorder is not None and live is not None:
            self.recorder.message_changed(live, final=True)

    def _save_failed(self: UnifyTUI, text: str) -> None:
        # Called on the writer thread; post_message is thread-safe.
        self.post_message(SaveFailed(text))

    def on_save_failed(self: UnifyTUI, event: SaveFailed) -> None:
        self.status.saving = "save failed"
        if event.text != self._last_save_error:  # one toast per distinct problem
            self._last_save_error = event.text
            # The reason can quote a file path or SQLite's words: data, not markup.
            self.notify(
                inert(f"Could not save: {event.text}"),
                title="Not saved",
                severity="error",
                markup=False,
            )

    # -- recording (called by the app as things happen) -------------------------------------

    def _record_added(self: UnifyTUI, message: Message) -> None:
        if self.recorder is not None:
            self.recorder.message_added(message, model=self.endpoint)
            if self.conversation_title is None and message.role == "user":
                from tui_chat.store.recorder import title_from_prompt

                self.conversation_title = title_from_prompt(message.content)

    def _record_changed(self: UnifyTUI, message: Message, *, final: bool = False) -> None:
        if self.recorder is not None:
            self.recorder.message_changed(message, final=final)

    def _record_removed(self: UnifyTUI, message: Message) -> None:
        if self.recorder is not None:
            self.recorder.message_removed(message)

    def _record_settings(self: UnifyTUI, **settings: Any) -> None:
        if self.recorder is not None:
            self.recorder.settings_changed(**settings)

    def _record_cleared(self: UnifyTUI) -> None:
        """Clear history: the saved messages go too (the conversation row and settings stay)."""
        self._save_live_reply()
        for message in self.conversation.messages:
            self._record_removed(message)

    def _leave_conversation(self: UnifyTUI) -> None:
        """New conversation: the next message starts a new saved one, with default settings."""
        self._save_live_reply()
        if self.recorder is not None:
            self.recorder.detach()
        self.conversation_title = None
        self._apply_settings(ConversationSettings())

    # -- per-conversation settings --------------------------------------------------------

    def _apply_settings(self: UnifyTUI, settings: ConversationSettings) -> None:
        """Use these settings from the next request on (unset ones fall back to the defaults)."""
        self.conversation_settings = settings
        # Unset here: config.toml's defaults (tui_chat/ui/connecting.py) apply.
        self.conversation.system_prompt = settings.system_prompt or self.default_system_prompt
        self.temperature = (
            self._default_temperature if settings.temperature is None else settings.temperature
        )
        self.max_tokens = (
            self._default_max_tokens if settings.max_tokens is None else settings.max_tokens
        )
        if self.ui_ready:
            self.status.spend_cap = self.spend_cap

    def spend_cap_problem(self: UnifyTUI) -> str | None:
        """A sentence when this conversation has spent its cap, else None."""
        cap = self.spend_cap
        spent = self.conversation.total_cost
        if cap is not None and spent >= cap:
            return (
                f"This conversation has spent {spent:.6f} credits, its cap is {cap:.6f}. "
                "Raise or clear the cap in the settings (f2), or start a new conversation."
            )
        return None

    def action_settings(self: UnifyTUI) -> None:
        from tui_chat.ui.screens.settings import SettingsScreen  # on first use: not in start-up

        self.push_screen(SettingsScreen(self.conversation_settings), self._settings_saved)

    def _settings_saved(self: UnifyTUI, settings: ConversationSettings | None) -> None:
        if settings is None:
            return
        self._apply_settings(settings)
        self._record_settings(
            system_prompt=settings.system_prompt,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            spend_cap=settings.spend_cap,
        )
        where = "saved with this conversation" if self.recorder is not None else "not saved"
        self.notify(f"Settings used from the next message ({where}).", timeout=3)

    # -- reopening --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="store-load")
    def restore_last_conversation(self: UnifyTUI) -> None:
        """On start: show the conversation that was open last time, if any."""
        store = self.store
        if store is None:
            return
        try:
            record = store.last_opened_conversation()
            saved = store.load(record.id) if record is not None else None
        except Exception as error:  # a damaged row must not stop the app from starting
            deliver(self, self._save_failed, f"could not reopen: {error}")
            return
        if saved is not None:
            deliver(self, self._show_saved, saved, None, True)

    @work(thread=True, exclusive=True, group="store-load")
    def open_conversation(
        self: UnifyTUI, conversation_id: int, message_id: int | None = None
    ) -> None:
        from tui_chat.store import RecordNotFound

        store, recorder = self.store, self.recorder
        if store is None or recorder is None:
            return
        recorder.flush()
        try:
            saved = store.load(conversation_id)
        except RecordNotFound:
            deliver(self, self.notify, "That conversation was deleted.", severity="warning")
            return
        except Exception as error:
            deliver(self, self._save_failed, f"could not open: {error}")
            return
        deliver(self, self._show_saved, saved, message_id, False)

    def _show_saved(
        self: UnifyTUI, saved: SavedConversation, message_id: int | None, at_start: bool
    ) -> None:
        """Show a loaded conversation: messages, model, settings, spend; jump to a message."""
        if at_start and (self.conversation.messages or self.streaming):
            return  # the user started chatting before the last conversation was read
        if self.streaming:
            self.notify("Stop the reply (esc) before opening another conversation.")
            return
        record = saved.record
        conversation = saved.conversation
        self.conversation = conversation
        if self.recorder is not None:
            self.recorder.attach(record.id, conversation.messages, saved.message_ids)
        self.conversation_title = record.title
        self._apply_settings(
            ConversationSettings(
                system_prompt=record.system_prompt,
                temperature=record.temperature,
                max_tokens=record.max_tokens,
                spend_cap=record.spend_cap,
            )
        )
        if at_start and self.pin_model:
            # --model/--gateway given for this start win over the saved model (from now on).
            if record.model != self.endpoint:
                self._record_settings(model=self.endpoint)
        else:
            self._use_saved_model(record)
        log = self.chat_log
        log.clear_turns()
        count = len(conversation.messages)
        log.add_notice(
            f"{'Reopened' if at_start else 'Opened'} “{record.title}”: {count} messages, "
            f"{conversation.total_cost:.6f} credits so far. Next messages go to {self.endpoint}."
        )
        log.load_history(
            conversation.messages, show_credits=self.show_credits, show_provider=self.show_provider
        )
        last = conversation.last_reply
        status = self.status
        status.total_cost = conversation.total_cost
        status.last_cost = None if last is None else last.cost
        status.served_endpoint = "" if last is None else (last.served_endpoint or "")
        if message_id is not None and message_id in saved.message_ids:
            log.reveal(conversation.messages[saved.message_ids.index(message_id)])
        else:
            log.anchor()

    def _use_saved_model(self: UnifyTUI, record: ConversationRecord) -> None:
        if not record.model or record.model == self.endpoint:
            return
        try:
            parse_endpoint(record.model)
        except EndpointError:
            return  # a model string this version cannot read: keep the current one
        self.endpoint = record.model
        self.selector.set_current(record.model)

    # -- the conversation list ------------------------------------------------------------

    def action_conversations(self: UnifyTUI) -> None:
        if self.store is None:
            self.notify(
                "Conversations are not being saved in this session, so there is no list.",
                severity="warning",
            )
            return
        self._show_conversation_list()

    @work(thread=True, exclusive=True, group="store-list")
    def _show_conversation_list(self: UnifyTUI) -> None:
        if self.recorder is not None:
            self.recorder.flush()  # so the list includes what was just said
        deliver(self, self._push_conversation_list)

    def _push_conversation_list(self: UnifyTUI) -> None:
        from tui_chat.ui.screens.conversations import ConversationsScreen  # not in start-up

        if self.store is None or isinstance(self.screen, ConversationsScreen):
            return
        self.push_screen(
            ConversationsScreen(self.store, current_id=self.conversation_id),
            self._conversation_chosen,
        )

    def _conversation_chosen(self: UnifyTUI, choice: ConversationChoice) -> None:
        from tui_chat.ui.screens.conversations import NewConversation, OpenConversation

        if isinstance(choice, NewConversation):
            self.action_new_conversation()
        elif isinstance(choice, OpenConversation):
            if choice.conversation_id == self.conversation_id and choice.message_id is None:
                return
            if self.streaming:
                self.notify("Stop the reply (esc) before opening another conversation.")
                return
            self.open_conversation(choice.conversation_id, choice.message_id)

    def on_conversation_deleted(self: UnifyTUI, event: ConversationDeleted) -> None:
        if event.conversation_id == self.conversation_id:
            self.action_new_conversation()

    # -- export ---------------------------------------------------------------------------

    def action_export_markdown(self: UnifyTUI) -> None:
        self._export("markdown")

    def action_export_json(self: UnifyTUI) -> None:
        self._export("json")

    def _export(self: UnifyTUI, kind: str) -> None:
        from tui_chat.store.recorder import title_from_prompt

        if not self.conversation.messages:
            self.notify("Nothing to export yet.", timeout=2)
            return
        # A copy taken here: the worker must not read messages the event loop is changing.
        snapshot = Conversation(
            messages=[replace(message) for message in self.conversation.messages],
            system_prompt=self.conversation.system_prompt,
        )
        title = self.conversation_title or title_from_prompt(snapshot.messages[0].content)
        self.export_conversation(snapshot, title, kind)

    @work(thread=True, group="export")
    def export_conversation(
        self: UnifyTUI, conversation: Conversation, title: str, kind: str
    ) -> None:
        record: ConversationRecord | None = None
        if self.store is not None and self.recorder is not None:
            self.recorder.flush()
            conversation_id = self.recorder.conversation_id
            if conversation_id is not None:
                try:
                    record = self.store.conversation(conversation_id)
                    title = record.title
                except Exception as error:
                    self.log.warning(f"export without settings: {error}")
        from tui_chat.store.export import to_json, to_markdown  # on first export

        now = time.time()
        if kind == "json":
            text, suffix = to_json(conversation, title, record=record, exported_at=now), ".json"
        else:
            text, suffix = to_markdown(conversation, title, record=record, exported_at=now), ".md"
        folder = self.export_dir or default_export_dir()
        path = folder / export_file_name(title, suffix, now)
        try:
            folder.mkdir(parents=True, exist_ok=True)  # created at the first export
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            deliver(self, self._export_failed, folder, path, _export_problem(folder, error))
            return
        # A path is data, not markup: a folder named "[b]notes" must show as it is.
        deliver(self, self.notify, f"Exported to {path}", title="Exported", timeout=6, markup=False)

    def _export_failed(self: UnifyTUI, folder: Path, path: Path, reason: str) -> None:
        """Say which folder could not be written and why; the app goes on as before."""
        self.notify(
            f"Could not write {path}: {reason}. Nothing was exported; the export folder is "
            f"{folder} (set it with export_dir in config.toml or --export-dir).",
            title="Not exported",
            severity="error",
            timeout=12,
            markup=False,
        )
