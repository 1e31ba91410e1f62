"""Start-up settings from config.toml and connecting when a key must be asked for or confirmed.

Mixed into ``UnifyTUI`` (like ``saving.py``) so the App class keeps to chatting. The command line
resolves what it can before the app starts (``tui_chat.cli``): when a key is found and may be
sent, the app gets a ready gateway. Otherwise it gets a ``PendingConnection`` and, once mounted,
asks for the key (``KeyEntryScreen``) and/or asks before a key goes over plain http to another
host (``ConfirmScreen``), then saves the key and connects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from textual import work

from tui_chat.bindings import BINDING_IDS
from tui_chat.config import GatewayProfile, display_path
from tui_chat.core.text import inert
from tui_chat.gateways.config import SecretStr
from tui_chat.ui.worker_calls import deliver

if TYPE_CHECKING:
    from tui_chat.ui.app import UnifyTUI
    from tui_chat.keys import KeyringChoice

# tui_chat.keys (where keys are kept, whether one may be sent) is imported where it is used:
# after the first frame.

# Builds (gateway, account) for a key; None for a keyless local server.
Connector = Callable[[SecretStr | None], tuple[Any, Any]]


@dataclass(frozen=True)
class PendingConnection:
    """A gateway the app connects to once it has a key the user is willing to send.

    ``key`` None: ask for one (saved with ``keys.save_key`` to ``keyring``/``keys_file``).
    ``connect`` builds the gateway and account (called on the event loop; it must not block).
    """

    profile: GatewayProfile
    base_url: str
    connect: Connector
    label: str
    key: SecretStr | None = None
    keyring: KeyringChoice = None
    keys_file: Path | None = None

    @property
    def host(self) -> str:
        """The host the key would be sent to (never the whole URL)."""
        try:
            return urlsplit(self.base_url).hostname or self.base_url
        except ValueError:
            return "?"

    @property
    def where_saved(self) -> str:
        """Where a typed key will be kept, in words for the dialog."""
        from tui_chat.keys import default_keys_path

        if self.keyring is not None:
            return "the system keyring"
        path = self.keys_file or default_keys_path()
        return f"{display_path(path)} (readable only by you)"


def startup_notice(problems: Sequence[str], warnings: Sequence[str] = ()) -> str | None:
    """One notice listing config problems (``file:line: key: message``) and key warnings."""
    lines: list[str] = []
    if problems:
        lines.append(
            "The configuration file has problems; the app started on the default for each of these:"
        )
        lines.extend(f"• {problem}" for problem in problems)
    lines.extend(f"• {warning}" for warning in warnings)
    return "\n".join(lines) or None


class ConnectionSetup:
    """The start-up half of ``UnifyTUI``: theme, keymap, config notice, key entry, connecting."""

    pending_connection: PendingConnection | None
    startup_notice: str | None
    theme_name: str | None
    keymap_setting: Mapping[str, str]

    def _init_setup(
        self: UnifyTUI,
        *,
        pending: PendingConnection | None,
        notice: str | None,
        theme: str | None,
        keymap: Mapping[str, str] | None,
    ) -> None:
        self.pending_connection = pending
        self.startup_notice = notice
        self.theme_name = theme
        self.keymap_setting = dict(keymap or {})
        if self.keymap_setting:
            self.set_keymap(self.keymap_setting)

    def _apply_setup(self: UnifyTUI) -> None:
        """On mount: the theme and keymap checks, and the notice of what was wrong."""
        extra: list[str] = []
        if self.theme_name:
            if self.theme_name in self.available_themes:
                self.theme = self.theme_name
            else:
                known = ", ".join(sorted(self.available_themes))
                extra.append(f"theme: there is no theme {self.theme_name!r}; known: {known}")
        unknown = sorted(set(self.keymap_setting) - BINDING_IDS) if self.keymap_setting else []
        if unknown:
            extra.append(
                f"bindings: unknown binding id(s) {', '.join(unknown)}; "
                "see unify-tui --print-config for the ids"
            )
        notice = self.startup_notice
        if extra:
            lines = "\n".join(f"• {line}" for line in extra)
            notice = f"{notice}\n{lines}" if notice else f"Settings not applied:\n{lines}"
        if notice:
            self.chat_log.add_notice(notice)

    def _fatal_error(self: UnifyTUI) -> None:
        """Exit after an unhandled exception, printing the traceback WITHOUT local variables.

        Textual's own crash report shows every frame's locals, and a frame on the way to the
        gateway can hold the API key as a plain string (a header, the openai client's
        arguments). The frames and the error still show, which is what a bug report needs.
        """
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(
            Segments(self.console.render(traceback, self.console.options))
        )
        self._close_messages_no_wait()

    # -- connecting -----------------------------------------------------------------------

    def action_enter_key(self: UnifyTUI) -> None:
        """Ask for the key again (after escape in the key dialog, or a refused plain-http send)."""
        if self.pending_connection is None:
            self.notify(
                inert(f"Already connected to {self.gateway_label}."), timeout=3, markup=False
            )
            return
        self._start_connection()

    def _start_connection(self: UnifyTUI) -> None:
        """On mount: ask for a key, or for permission to send one, when the CLI could not."""
        pending = self.pending_connection
        if pending is None:
            return
        self.status.connection = "no key" if pending.key is None else "not connected"
        if pending.key is None:
            from tui_chat.ui.screens.key_entry import KeyEntryScreen  # screens load on first use

            screen = KeyEntryScreen(pending.profile, where=pending.where_saved, host=pending.host)
            self.push_screen(screen, self._key_entered)
        else:
            self._check_transport(pending.key, save=False)

    def _key_entered(self: UnifyTUI, key: SecretStr | None) -> None:
        pending = self.pending_connection
        if pending is None:
            return
        if not key:
            from tui_chat.ui.screens.key_entry import how_to_set_key

            text = how_to_set_key(pending.profile, in_app=True)
            self.startup_problem = text
            self.chat_log.add_notice(text)
            self.notify("No key entered; nothing will be sent.", severity="warning")
            self.prompt.focus()
            return
        self._check_transport(key, save=True)

    def _check_transport(self: UnifyTUI, key: SecretStr, *, save: bool) -> None:
        from tui_chat.keys import check_key_transport

        pending = self.pending_connection
        assert pending is not None
        verdict = check_key_transport(pending.base_url)
        if verdict.ok:
            self._key_accepted(key, save=save)
            return

        def answered(send_anyway: bool | None) -> None:
            if send_anyway:
                self._key_accepted(key, save=save)
            else:
                text = (
                    f"Not connected: the API key was not sent to {pending.host} over plain http. "
                    "Use an https:// base_url in config.toml (or --base-url), then restart."
                )
                self.startup_problem = text
                self.status.connection = "not connected"
                self.chat_log.add_notice(text)
                self.prompt.focus()

        question = f"{verdict.message}\n\nSend the API key to {pending.host} anyway?"
        from tui_chat.ui.screens.dialogs import ConfirmScreen

        self.push_screen(ConfirmScreen(question, confirm_label="Send anyway"), answered)

    def _key_accepted(self: UnifyTUI, key: SecretStr, *, save: bool) -> None:
        pending = self.pending_connection
        assert pending is not None
        if save:
            self.save_entered_key(pending, key)
        try:
            gateway, account = pending.connect(key)
        except Exception as error:  # a bad base URL must leave a usable app with a reason
            text = f"Could not set up the {pending.label} gateway: {type(error).__name__}"
            self.startup_problem = text
            self.chat_log.add_notice(text)
            return
        self.use_gateway(gateway, account, pending.label)
        self.prompt.focus()

    @work(thread=True, exclusive=True, group="save-key")
    def save_entered_key(self: UnifyTUI, pending: PendingConnection, key: SecretStr) -> None:
        """Keep the key (keyring or keys.toml 0600) off the event loop, then say where."""
        from tui_chat.keys import SOURCE_KEYRING, KeyStoreError, default_keys_path, save_key

        try:
            where = save_key(
                pending.profile, key, keyring=pending.keyring, keys_file=pending.keys_file
            )
        except (KeyStoreError, ValueError, OSError) as error:
            deliver(
                self,
                self.notify,
                f"The key works for this session but was not saved: {error}",
                severity="warning",
            )
            return
        if where == SOURCE_KEYRING:
            text = "Key saved in the system keyring."
        else:
            path = pending.keys_file or default_keys_path()
            text = f"Key saved in {display_path(path)} (readable only by you)."
        deliver(self, self.notify, text, timeout=4)
