"""Asking for an API key in the app: the key dialog, "send it over plain http?", saving, connecting.

One flow for both ways in: the gateway the command line could not connect to at start-up (a
``PendingConnection`` with no key, or one it may not send without asking), and a profile with no
key chosen in the gateway dropdown (``GatewaySwitcher``). ``tui_chat.connection`` decides which
key, whether it may be sent and what to say when not; this module only asks (``KeyEntryScreen``,
``ConfirmScreen``), saves a typed key in a thread worker and hands the key on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from textual.message import Message

from tui_chat.connection import KeyRefusal, PendingConnection, key_not_saved_text
from tui_chat.gateways.config import SecretStr
from tui_chat.ui.host import AppHost

if TYPE_CHECKING:
    from tui_chat.gateways.base import Account, Gateway

# The dialogs are imported on first use: screens load after the first frame.


class KeySaved(Message):
    """A typed key was kept (keyring or keys.toml); ``where`` says so in a sentence."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where


class KeyNotSaved(Message):
    """A typed key could not be kept; it still works for this session. ``reason``: a sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class KeyFlowHost(AppHost, Protocol):
    """What the key flow needs from the app."""

    pending_connection: PendingConnection | None
    startup_problem: str | None
    gateway_label: str

    def use_gateway(self, gateway: Gateway, account: Account | None, label: str) -> None: ...


class KeyFlow:
    """Ask for a key when there is none, ask before sending one over plain http, keep a typed
    key, then hand it on: to the pending start-up connection (``connect_pending``) or to
    whoever started the flow (``ask``)."""

    def __init__(self, app: KeyFlowHost) -> None:
        self.app = app

    # -- the start-up connection -------------------------------------------------------------

    def connect_pending(self) -> None:
        """On mount, or "Enter API key": ask what the command line could not for the pending
        connection, then connect to it."""
        app = self.app
        pending = app.pending_connection
        if pending is None:
            return
        app.status.connection = "no key" if pending.key is None else "not connected"
        self.ask(pending, on_key=self._pending_key_accepted, on_refused=self._pending_refused)

    def _pending_refused(self, refusal: KeyRefusal) -> None:
        app = self.app
        pending = app.pending_connection
        if pending is None:
            return
        text = pending.refusal_text(refusal)
        app.startup_problem = text
        if refusal is KeyRefusal.NOT_SENT:
            app.status.connection = "not connected"
        app.chat_log.add_notice(text)
        if refusal is KeyRefusal.NO_KEY_ENTERED:
            app.notify("No key entered; nothing will be sent.", severity="warning")
        app.prompt.focus()

    def _pending_key_accepted(self, key: SecretStr) -> None:
        app = self.app
        pending = app.pending_connection
        assert pending is not None and pending.connect is not None
        try:
            gateway, account = pending.connect(key)
        except Exception as error:  # a bad base URL must leave a usable app with a reason
            text = pending.setup_failed_text(error)
            app.startup_problem = text
            app.chat_log.add_notice(text)
            return
        app.use_gateway(gateway, account, pending.label)
        app.prompt.focus()

    # -- the flow --------------------------------------------------------------------------

    def ask(
        self,
        request: PendingConnection,
        *,
        on_key: Callable[[SecretStr], None],
        on_refused: Callable[[KeyRefusal], None],
    ) -> None:
        """Get a key for ``request`` the user is willing to send: its own, else one typed in the
        key dialog (then kept where ``request`` says). Calls ``on_key`` with it, or
        ``on_refused`` with why there is none (``request.refusal_text`` says it in words)."""
        if request.key is not None:
            self._check_transport(
                request, request.key, typed=False, on_key=on_key, on_refused=on_refused
            )
            return
        from tui_chat.ui.screens.key_entry import KeyEntryScreen

        def entered(key: SecretStr | None) -> None:
            if not key:
                on_refused(KeyRefusal.NO_KEY_ENTERED)
                return
            self._check_transport(request, key, typed=True, on_key=on_key, on_refused=on_refused)

        screen = KeyEntryScreen(
            request.profile,
            where=request.where_saved,
            host=request.host,
            replacing=request.replacing,
        )
        self.app.push_screen(screen, entered)

    def _check_transport(
        self,
        request: PendingConnection,
        key: SecretStr,
        *,
        typed: bool,
        on_key: Callable[[SecretStr], None],
        on_refused: Callable[[KeyRefusal], None],
    ) -> None:
        verdict = request.transport()
        if verdict.ok:
            self._accepted(request, key, typed=typed, on_key=on_key)
            return

        def answered(send_anyway: bool | None) -> None:
            if send_anyway:
                self._accepted(request, key, typed=typed, on_key=on_key)
            else:
                on_refused(KeyRefusal.NOT_SENT)

        from tui_chat.ui.screens.dialogs import ConfirmScreen

        question = request.send_anyway_question(verdict)
        self.app.push_screen(ConfirmScreen(question, confirm_label="Send anyway"), answered)

    def _accepted(
        self,
        request: PendingConnection,
        key: SecretStr,
        *,
        typed: bool,
        on_key: Callable[[SecretStr], None],
    ) -> None:
        if typed:
            self.save_key(request, key)
        on_key(key)

    # -- keeping a typed key -----------------------------------------------------------------

    def save_key(self, request: PendingConnection, key: SecretStr) -> None:
        """Keep the key (keyring or keys.toml 0600) off the event loop; ``KeySaved`` or
        ``KeyNotSaved`` says how it went."""
        app = self.app

        def save() -> None:
            from tui_chat.keys import KeyStoreError

            try:
                where = request.save_key(key)
            except (KeyStoreError, ValueError, OSError) as error:
                app.post_message(KeyNotSaved(key_not_saved_text(error)))
                return
            app.post_message(KeySaved(where))

        app.run_worker(save, name="save_key", group="save-key", exclusive=True, thread=True)

    def key_saved(self, message: KeySaved) -> None:
        self.app.notify(message.where, timeout=4)

    def key_not_saved(self, message: KeyNotSaved) -> None:
        self.app.notify(message.reason, severity="warning")
