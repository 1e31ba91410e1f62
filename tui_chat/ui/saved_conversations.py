"""The app's saved conversations: recording, reopening, the conversation list, settings, export.

``SavedConversations`` is built and owned by the app (``app.saved``). Everything here that
touches SQLite or a file runs on the recorder's writer thread or in a worker thread, never on the
event loop. A thread worker reports back with a message from ``tui_chat.ui.saved_messages``,
which the app's ``@on`` handlers hand to the matching method here; loading a conversation to
show is an async worker that reads in a thread and then shows it. Without a store
(``--no-save``, a read-only data directory, tests) the app chats as before and the status bar
says "not saving".
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tui_chat.core.conversation import Conversation, ConversationSettings, Message
from tui_chat.core.endpoint import EndpointError, parse_endpoint
from tui_chat.core.text import inert
from tui_chat.ui.host import AppHost
from tui_chat.ui.saved_messages import (
    ConversationDeleted,
    ConversationListReady,
    ConversationWriteFailed,
    ExportFailed,
    ExportWritten,
    SaveFailed,
    SavesWaiting,
    StoreOpened,
    StoreWaiting,
)

if TYPE_CHECKING:
    from tui_chat.store import ConversationRecord, SavedConversation, Store
    from tui_chat.store.export import ExportKind
    from tui_chat.store.holders import ConversationHolds
    from tui_chat.store.recorder import ConversationRecorder
    from tui_chat.ui.screens.conversations import ConversationChoice

# ``tui_chat.store`` (with sqlite3) is imported when the database is opened, after the first
# frame, not at start-up. The opener may raise ``StoreRetryable`` (locked by another process):
# it is then called again, after 0.5 s doubling up to 30 s, until it opens or the app quits.
StoreOpener = Callable[[], "tuple[Store | None, str | None]"]
OPEN_RETRY_FIRST_S = 0.5
OPEN_RETRY_MOST_S = 30.0
LiveReply = Callable[[], "Message | None"]


def _last_opened(store: Store) -> SavedConversation | None:
    """The conversation open when the app was left last time, read (blocking), or None."""
    record = store.last_opened_conversation()
    return store.load(record.id) if record is not None else None


def _replayed_and_last_opened(
    store: Store, recorder: ConversationRecorder | None
) -> SavedConversation | None:
    """The last conversation, once the writes an earlier session left (the journal) are in:
    they may add to it or change which one was open."""
    if recorder is not None and recorder.replayed is not None:
        recorder.flush()
    return _last_opened(store)


def _flushed_and_loaded(
    store: Store, recorder: ConversationRecorder, conversation_id: int
) -> SavedConversation:
    """Conversation ``conversation_id`` once every queued write is in (blocking; not waiting
    for writes held up by a lock: the conversation opens without them)."""
    recorder.flush(unless_waiting=True)
    return store.load(conversation_id)


class SavingApp(AppHost, Protocol):
    """What ``SavedConversations`` needs from the app (``UnifyTUI`` passes itself)."""

    conversation: Conversation  # replaced when a saved conversation is opened
    endpoint: str  # the saved conversation's model is used from then on
    temperature: float | None  # set from the conversation's settings
    max_tokens: int | None
    default_system_prompt: str | None  # config.toml's, for settings left unset
    default_spend_cap: float | None  # credits per conversation
    pin_model: bool  # --model/--gateway given: the conversation reopened at start keeps it
    ui_ready: bool  # between mount and unmount

    @property
    def streaming(self) -> bool: ...

    @property
    def show_credits(self) -> bool: ...

    @property
    def show_provider(self) -> bool: ...

    def action_new_conversation(self) -> None: ...

    def load_listings(self, endpoint: str) -> None: ...


class SavedConversations:
    """Saves the app's conversation as it happens, reopens, lists, configures and exports them."""

    def __init__(
        self,
        app: SavingApp,
        *,
        store: Store | None,
        store_notice: str | None,
        export_dir: Path | None,
        flush_interval_s: float,
        open_store: StoreOpener | None = None,
        live_reply: LiveReply = lambda: None,
    ) -> None:
        """``store``, or ``open_store`` to open it after the first frame (the command line's
        way); ``live_reply`` returns the reply still arriving (saved as it stands on leaving)."""
        self._app = app
        self.store = store
        self.store_notice = store_notice
        # Opens the database when the first frame is up: (store or None, notice or None).
        self._open_store = open_store
        # The store that worker opened, until the app takes it (closed if it never does).
        self._opened: Store | None = None
        self.export_dir = export_dir
        self.recorder: ConversationRecorder | None = None
        # The conversation this app writes to, held against another app on the same database
        # (tui_chat/store/holders.py): that one does not reopen or open it meanwhile.
        self.holds: ConversationHolds | None = None
        self.settings = ConversationSettings()  # this conversation's own
        self.title: str | None = None
        self._live_reply = live_reply
        self._default_temperature = app.temperature
        self._default_max_tokens = app.max_tokens
        self._flush_interval_s = flush_interval_s
        self._last_save_error: str | None = None
        self._waiting_reason: str | None = None  # why writes wait, while they do
        self._stop_opening = threading.Event()  # set on quit: the open worker stops retrying
        self._waiting_path: Path | None = None  # the database the open worker waits for
        self._open_retry_s = (OPEN_RETRY_FIRST_S, OPEN_RETRY_MOST_S)
        # For the terminal after the app has gone: writes kept for the next start, and why.
        self.exit_note: str | None = None

    @property
    def conversation_id(self) -> int | None:
        """The store id of the conversation on screen (None before its first message is saved)."""
        return None if self.recorder is None else self.recorder.conversation_id

    # -- start and stop -------------------------------------------------------------------

    def start(self) -> None:
        """On mount: start saving on the store given (one opened later starts by itself)."""
        if self._open_store is None:
            self._start_saving()

    def open_store_in_background(self) -> None:
        """After the first frame: open the database (``PRAGMA quick_check`` reads the whole
        file, 0.18 s for 90 MB) off the event loop, then start saving on it (``store_opened``)."""
        if self._open_store is not None:
            self._app.run_worker(
                self._open_store_in_thread,
                name="open_store_and_start_saving",
                group="store-open",
                exclusive=True,
                thread=True,
            )

    def _open_store_in_thread(self) -> None:
        opener = self._open_store
        if opener is None:
            return
        from tui_chat.store import StoreRetryable  # in the worker: after the first frame

        delay, most = self._open_retry_s
        while True:
            try:
                store, notice = opener()
                break
            except StoreRetryable as error:
                reason = "locked by another process" if error.locked else error.cause
                self._waiting_path = error.path
                if not self._app.post_message(StoreWaiting(reason)):
                    return  # the app is closing
            if self._stop_opening.wait(delay):
                return
            delay = min(delay * 2, most)
        self._opened = store
        if not self._app.post_message(StoreOpened(store, notice)) and store is not None:
            store.close()  # the app is closing and will never take it: nobody else will

    def store_waiting(self, event: StoreWaiting) -> None:
        """The database could not be opened yet (locked): say so once, and that it retries."""
        app = self._app
        app.status.saving = "waiting for the database"
        if event.reason != self._waiting_reason:
            self._waiting_reason = event.reason
            app.chat_log.add_notice(
                f"Waiting for the database ({event.reason})… Chat on: what you send is saved "
                "once it opens."
            )

    def store_opened(self, event: StoreOpened) -> None:
        self._open_store = None
        self._opened = None
        self.store, self.store_notice = event.store, event.notice
        self._start_saving()

    def _start_saving(self) -> None:
        app = self._app
        self._waiting_reason = None
        if self.store_notice:
            app.chat_log.add_notice(self.store_notice)
        if self.store is None:
            app.status.saving = "not saving"
            return
        app.status.saving = ""
        from tui_chat.store.recorder import ConversationRecorder

        self.recorder = ConversationRecorder(
            self.store,
            on_error=self._save_failed,
            on_pending=self._saves_pending,
            flush_interval_s=self._flush_interval_s,
        )
        from tui_chat.store.holders import ConversationHolds

        self.holds = ConversationHolds(self.store.path)
        replayed = self.recorder.replayed
        if replayed is not None:
            skipped = (
                f" ({replayed.unreadable_lines} unreadable lines skipped)"
                if replayed.unreadable_lines
                else ""
            )
            # A toast: the log's notices go when the last conversation is reopened over them.
            app.notify(
                f"Saving {replayed.writes} changes the last session could not save "
                f"(kept in {replayed.path}){skipped}.",
                title="Saved from last time",
                timeout=10,
                markup=False,
            )
        if app.conversation.messages:
            # Sent before the database was open (typed ahead of the first frame): they are
            # saved now, and the last conversation is not reopened over them.
            for message in app.conversation.messages:
                self.message_added(message)
        else:
            self.restore_last_conversation()

    def stop(self) -> None:
        """On exit: save the reply that is still arriving, then finish every queued write.

        Writes that cannot land now (locked, disk full) stay in the journal for the next start;
        ``exit_note`` says so, for the terminal once the app has gone."""
        self._stop_opening.set()
        opened = self._opened
        if opened is not None and opened is not self.store:
            # Opened as the app was closing, its message never handled: nobody will take it.
            self._waiting_path = self._waiting_path or opened.path
            opened.close()  # (safe twice: the worker may close it too)
        if self.recorder is None:
            try:
                self._keep_unsaved()
            except Exception as error:  # on the way out: keeping them must not stop the quit
                self.exit_note = f"This session's messages could not be kept: {error}"
            return
        self.save_live_reply()
        recorder = self.recorder
        left = recorder.close()
        if self.holds is not None:
            self.holds.close()
        if left:
            reason = recorder.waiting_reason or "the database did not take them"
            if recorder.journal_file is not None:
                self.exit_note = (
                    f"{left} changes could not be saved yet ({reason}). They are kept in "
                    f"{recorder.journal_file} and saved at the next start."
                )
            else:
                self.exit_note = (
                    f"{left} changes could not be saved ({reason}), nor kept for the next "
                    f"start: {recorder.journal_problem or 'no journal file'}."
                )

    def _keep_unsaved(self) -> None:
        """The database never opened (locked until the quit): keep this session's messages in
        its journal, saved at the next start as a conversation of their own."""
        conversation = self._app.conversation
        path, messages = self._waiting_path, conversation.all_messages()  # every branch
        if path is None or not messages:
            return
        index = {id(message): number for number, message in enumerate(messages)}
        tree: list[tuple[int | None, int]] = []
        for message in messages:
            parent = conversation.parent_of(message)
            tree.append(
                (None if parent is None else index[id(parent)], conversation.shown_rank(message))
            )
        from tui_chat.store.journal import keep_unsaved

        reason = self._waiting_reason or "it did not open"
        try:
            copies = [replace(m) for m in messages]
            kept = keep_unsaved(path, copies, self._app.endpoint, tree)
        except OSError as error:
            self.exit_note = (
                f"The database never opened ({reason}): the {len(messages)} messages of this "
                f"session could not be kept either ({error})."
            )
            return
        self.exit_note = (
            f"The database never opened ({reason}). The {len(messages)} messages of this session "
            f"are kept in {kept} and saved at the next start."
        )

    def save_live_reply(self) -> None:
        """Save the reply still arriving as it stands (final), if there is one."""
        reply = self._live_reply()
        if self.recorder is not None and reply is not None:
            self.recorder.message_changed(reply, final=True)

    def _save_failed(self, text: str) -> None:
        # Called on the writer thread or in a worker; post_message is thread-safe.
        self._app.post_message(SaveFailed(text))

    def _saves_pending(self, count: int, reason: str | None) -> None:
        # Called on the writer thread; post_message is thread-safe.
        self._app.post_message(SavesWaiting(count, reason))

    def saves_waiting(self, event: SavesWaiting) -> None:
        """Writes wait (the bar counts them, one notice per cause), or all landed (clear)."""
        app = self._app
        if event.count:
            app.status.saving = f"saving… {event.count} pending"
            if event.reason is not None and event.reason != self._waiting_reason:
                self._waiting_reason = event.reason
                app.notify(
                    inert(
                        f"Not saved yet: {event.reason}. Nothing is lost: it is kept and saved "
                        "as soon as the database takes it."
                    ),
                    title="Saving is waiting",
                    severity="warning",
                    markup=False,
                )
            return
        app.status.saving = ""  # saving works again: no "save failed" left behind
        self._last_save_error = None
        if self._waiting_reason is not None:
            self._waiting_reason = None
            app.notify("Saved: everything that waited is in the database.", timeout=3)

    def save_failed(self, event: SaveFailed) -> None:
        self._app.status.saving = "save failed"
        if event.text != self._last_save_error:  # one toast per distinct problem
            self._last_save_error = event.text
            # The reason can quote a file path or SQLite's words: data, not markup.
            self._app.notify(
                inert(f"Could not save: {event.text}"),
                title="Not saved",
                severity="error",
                markup=False,
            )

    # -- recording (called by the app as things happen) -------------------------------------

    def message_added(self, message: Message) -> None:
        if self.recorder is not None:
            conversation = self._app.conversation
            try:
                parent: Message | None = conversation.parent_of(message)
                rank = conversation.shown_rank(message)
            except ValueError:  # not in the conversation (cannot happen): after the last
                self.recorder.message_added(message, model=self._app.endpoint)
            else:
                self.recorder.message_added(
                    message, model=self._app.endpoint, parent=parent, shown_rank=rank
                )
            self._hold_current()  # (a new conversation's row may not be written yet: later)
            if self.title is None and message.role == "user":
                from tui_chat.store.recorder import title_from_prompt

                self.title = title_from_prompt(message.content)

    def message_changed(self, message: Message, *, final: bool = False) -> None:
        if self.recorder is not None:
            self.recorder.message_changed(message, final=final)
            if final:
                self._hold_current()

    def message_removed(self, message: Message) -> None:
        if self.recorder is not None:
            self.recorder.message_removed(message)

    def branch_shown(self) -> None:
        """The branch on screen changed (a flip, an edit, a search hit): save it, so the
        conversation reopens on it and flips as it does now."""
        if self.recorder is not None:
            conversation = self._app.conversation
            self.recorder.branch_shown(
                [(message, conversation.shown_rank(message)) for message in conversation.messages]
            )

    def settings_changed(self, **settings: Any) -> None:
        """Record the conversation's settings (``model``, ``system_prompt``, ``spend_cap``...)."""
        if self.recorder is not None:
            self.recorder.settings_changed(**settings)

    def history_cleared(self) -> None:
        """Clear history: the saved messages go too (the conversation row and settings stay)."""
        self.save_live_reply()
        for message in self._app.conversation.all_messages():  # every branch
            self.message_removed(message)

    def _hold_current(self) -> None:
        """Hold the conversation written to, once its row exists (the writer thread creates a
        new conversation's row with its first message), and let go of any other."""
        recorder, holds = self.recorder, self.holds
        if recorder is not None and holds is not None and recorder.conversation_id is not None:
            holds.hold_only(recorder.conversation_id)

    def leave_conversation(self) -> None:
        """New conversation: the next message starts a new saved one, with default settings."""
        self.save_live_reply()
        if self.recorder is not None:
            self.recorder.detach()
        if self.holds is not None:
            self.holds.hold_only(None)  # (let go of the one left)
        self.title = None
        self.apply_settings(ConversationSettings())

    # -- per-conversation settings --------------------------------------------------------

    @property
    def spend_cap(self) -> float | None:
        """The cap in force, in credits: the conversation's own, else config.toml's."""
        own = self.settings.spend_cap
        return self._app.default_spend_cap if own is None else own

    def apply_settings(self, settings: ConversationSettings) -> None:
        """Use these settings from the next request on (unset ones fall back to the defaults)."""
        app = self._app
        self.settings = settings
        # Unset here: config.toml's defaults apply.
        app.conversation.system_prompt = settings.system_prompt or app.default_system_prompt
        app.temperature = (
            self._default_temperature if settings.temperature is None else settings.temperature
        )
        app.max_tokens = (
            self._default_max_tokens if settings.max_tokens is None else settings.max_tokens
        )
        if app.ui_ready:
            app.status.spend_cap = self.spend_cap

    def spend_cap_problem(self, next_prompt: float | None = None) -> str | None:
        """A sentence when this conversation has spent its cap, or when the next prompt alone
        (``next_prompt``: its estimated credits, None if unknown) would pass it; else None.
        Estimated costs count as spent."""
        cap = self.spend_cap
        if cap is None:
            return None
        spent = self._app.conversation.total_cost
        advice = "Raise or clear the cap in the settings (f2), or start a new conversation."
        if spent >= cap:
            return (
                f"This conversation has spent {spent:.6f} credits, its cap is {cap:.6f}. {advice}"
            )
        if next_prompt is not None and spent + next_prompt > cap:
            return (
                f"Sending this would pass the cap of {cap:.6f} credits: the conversation has "
                f"spent {spent:.6f}, and the whole history resent as the prompt costs about "
                f"{next_prompt:.6f} before any reply. {advice}"
            )
        return None

    def edit_settings(self) -> None:
        """f2: the settings screen for this conversation."""
        from tui_chat.ui.screens.settings import SettingsScreen  # on first use: not in start-up

        self._app.push_screen(SettingsScreen(self.settings), self._settings_saved)

    def _settings_saved(self, settings: ConversationSettings | None) -> None:
        if settings is None:
            return
        self.apply_settings(settings)
        self.settings_changed(
            system_prompt=settings.system_prompt,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            spend_cap=settings.spend_cap,
        )
        where = "saved with this conversation" if self.recorder is not None else "not saved"
        self._app.notify(f"Settings used from the next message ({where}).", timeout=3)

    # -- reopening --------------------------------------------------------------------------
    # Async workers that read in a thread (``asyncio.to_thread``), then show the conversation on
    # the loop: a "store-load" worker ends only once the conversation is on screen, so whoever
    # waits for it (tests/test_kill9.py types only after the start-up restore) sees it shown.
    # A thread worker posting a message would end before the message is handled. Exclusive: a
    # newer load cancels an older one, whose result is then dropped.

    def restore_last_conversation(self) -> None:
        """On start: show the conversation that was open last time, if any."""
        self._app.run_worker(
            self._restore, name="restore_last_conversation", group="store-load", exclusive=True
        )

    async def _restore(self) -> None:
        store = self.store
        if store is None:
            return
        try:
            saved = await asyncio.to_thread(_replayed_and_last_opened, store, self.recorder)
        except Exception as error:  # a damaged row must not stop the app from starting
            self._save_failed(f"could not reopen: {error}")
            return
        if saved is not None:
            self._show_saved(saved, None, at_start=True)

    def open_conversation(self, conversation_id: int, message_id: int | None = None) -> None:
        """Read a saved conversation and show it (jumping to ``message_id``, a search hit)."""
        self._app.run_worker(
            partial(self._open, conversation_id, message_id),
            name="open_conversation",
            group="store-load",
            exclusive=True,
        )

    async def _open(self, conversation_id: int, message_id: int | None) -> None:
        store, recorder = self.store, self.recorder
        if store is None or recorder is None:
            return
        from tui_chat.store import RecordNotFound  # loaded already: the store is open

        try:
            saved = await asyncio.to_thread(_flushed_and_loaded, store, recorder, conversation_id)
        except RecordNotFound:
            self._app.notify("That conversation was deleted.", severity="warning")
            return
        except Exception as error:
            self._save_failed(f"could not open: {error}")
            return
        self._show_saved(saved, message_id, at_start=False)

    def _show_saved(
        self, saved: SavedConversation, message_id: int | None, *, at_start: bool
    ) -> None:
        """Show a loaded conversation: messages, model, settings, spend; jump to a message."""
        app = self._app
        if at_start and (app.conversation.messages or app.streaming):
            return  # the user started chatting before the last conversation was read
        if app.streaming:
            app.notify("Stop the reply (esc) before opening another conversation.")
            return
        record = saved.record
        if self.holds is not None and self.holds.held_elsewhere(record.id):
            # Another app on this database is writing to it: two writers interleaved their
            # turns into one conversation, each blind to the other's.
            where = f"“{record.title}” is open in another unify-tui window"
            if at_start:
                app.chat_log.add_notice(
                    f"{where}, so this window starts a new conversation (ctrl+o lists them all)."
                )
            else:
                app.notify(
                    f"{where}: close it there to go on with it here.",
                    severity="warning",
                    markup=False,
                )
            return
        conversation = saved.conversation
        app.conversation = conversation
        if self.recorder is not None:
            every = saved.every_message()
            self.recorder.attach(
                record.id, [message for message, _ in every], tuple(i for _, i in every)
            )
        if self.holds is not None:
            self.holds.hold_only(record.id)  # (at once: the writer may be behind)
        self.title = record.title
        self.apply_settings(
            ConversationSettings(
                system_prompt=record.system_prompt,
                temperature=record.temperature,
                max_tokens=record.max_tokens,
                spend_cap=record.spend_cap,
            )
        )
        if at_start and app.pin_model:
            # --model/--gateway given for this start win over the saved model (from now on).
            if record.model != app.endpoint:
                self.settings_changed(model=app.endpoint)
        else:
            self._use_saved_model(record)
        hit = None if message_id is None else saved.message_with_id(message_id)
        if hit is not None and not any(shown is hit for shown in conversation.messages):
            conversation.show_alternate(hit)  # a search hit on another branch: that branch
            self.branch_shown()
        log = app.chat_log
        log.clear_turns()
        count = len(conversation.messages)
        log.add_notice(
            f"{'Reopened' if at_start else 'Opened'} “{record.title}”: {count} messages, "
            f"{conversation.spend} credits so far. Next messages go to {app.endpoint}."
        )
        log.load_history(
            conversation.messages, show_credits=app.show_credits, show_provider=app.show_provider
        )
        last = conversation.last_reply
        status = app.status
        status.show_spend(conversation)
        status.served_endpoint = "" if last is None else (last.served_endpoint or "")
        if hit is not None:
            log.reveal(hit)
        else:
            log.anchor()

    def _use_saved_model(self, record: ConversationRecord) -> None:
        app = self._app
        if not record.model or record.model == app.endpoint:
            return
        try:
            parse_endpoint(record.model)
        except EndpointError:
            return  # a model string this version cannot read: keep the current one
        app.endpoint = record.model
        app.selector.set_current(record.model)
        # The listings asked for at start were the old endpoint's: without these the provider
        # list said "Loading providers…" for ever.
        app.load_listings(record.model)

    # -- the conversation list ------------------------------------------------------------

    def show_conversations(self) -> None:
        """ctrl+o: the list of saved conversations (once what was just said is written)."""
        if self.store is None:
            self._app.notify(
                "Conversations are not being saved in this session, so there is no list.",
                severity="warning",
            )
            return
        self._app.run_worker(
            self._flush_for_list,
            name="_show_conversation_list",
            group="store-list",
            exclusive=True,
            thread=True,
        )

    def _flush_for_list(self) -> None:
        if self.recorder is not None:
            # So the list includes what was just said (not waiting on a locked database).
            self.recorder.flush(unless_waiting=True)
        self._app.post_message(ConversationListReady())

    def conversation_list_ready(self, event: ConversationListReady) -> None:
        from tui_chat.ui.screens.conversations import ConversationsScreen  # not in start-up

        app = self._app
        if self.store is None or isinstance(app.screen, ConversationsScreen):
            return
        app.push_screen(
            ConversationsScreen(self.store, current_id=self.conversation_id),
            self._conversation_chosen,
        )

    def _conversation_chosen(self, choice: ConversationChoice) -> None:
        from tui_chat.ui.screens.conversations import NewConversation, OpenConversation

        app = self._app
        if isinstance(choice, NewConversation):
            app.action_new_conversation()
        elif isinstance(choice, OpenConversation):
            if choice.conversation_id == self.conversation_id and choice.message_id is None:
                return
            if app.streaming:
                app.notify("Stop the reply (esc) before opening another conversation.")
                return
            self.open_conversation(choice.conversation_id, choice.message_id)

    def conversation_deleted(self, event: ConversationDeleted) -> None:
        if event.conversation_id == self.conversation_id:
            self._app.action_new_conversation()

    def conversation_write_failed(self, event: ConversationWriteFailed) -> None:
        self._app.notify(event.text, severity="error")

    # -- export ---------------------------------------------------------------------------

    def export(self, kind: ExportKind, *, alternates: bool = False) -> None:
        """Write the conversation on screen to a Markdown or JSON file, in a thread worker: the
        branch on screen, or with ``alternates`` every alternate of every branch."""
        from tui_chat.store.recorder import title_from_prompt

        app = self._app
        if not app.conversation.messages:
            app.notify("Nothing to export yet.", timeout=2)
            return
        # A copy taken here: the worker must not read messages the event loop is changing.
        snapshot = app.conversation.snapshot()
        title = self.title or title_from_prompt(snapshot.messages[0].content)

        def write() -> None:
            self._export_in_thread(snapshot, title, kind, alternates=alternates)

        app.run_worker(write, name="export_conversation", group="export", thread=True)

    def _export_in_thread(
        self, conversation: Conversation, title: str, kind: ExportKind, *, alternates: bool = False
    ) -> None:
        from tui_chat.store.export import ExportError, default_export_dir, write_export

        record: ConversationRecord | None = None
        if self.store is not None and self.recorder is not None:
            self.recorder.flush(unless_waiting=True)  # the export is from memory anyway
            conversation_id = self.recorder.conversation_id
            if conversation_id is not None:
                try:
                    record = self.store.conversation(conversation_id)
                    title = record.title
                except Exception as error:
                    self._app.log.warning(f"export without settings: {error}")
        folder = self.export_dir or default_export_dir()
        try:
            path = write_export(
                conversation, title, kind, folder, record=record, alternates=alternates
            )
        except ExportError as error:
            self._app.post_message(ExportFailed(error.folder, error.path, error.reason))
            return
        self._app.post_message(ExportWritten(path))

    def export_written(self, event: ExportWritten) -> None:
        # A path is data, not markup: a folder named "[b]notes" must show as it is.
        self._app.notify(f"Exported to {event.path}", title="Exported", timeout=6, markup=False)

    def export_failed(self, event: ExportFailed) -> None:
        """Say which folder could not be written and why; the app goes on as before."""
        self._app.notify(
            f"Could not write {event.path}: {event.reason}. Nothing was exported; the export "
            f"folder is {event.folder} (set it with export_dir in config.toml or --export-dir).",
            title="Not exported",
            severity="error",
            timeout=12,
            markup=False,
        )
