"""Start-up settings from config.toml and connecting when a key must be asked for or confirmed.

Mixed into ``UnifyTUI`` (like ``saving.py``) so the App class keeps to chatting. The command line
resolves what it can before the app starts (``tui_chat.cli``): when a key is found and may be
sent, the app gets a ready gateway. Otherwise it gets a ``PendingConnection`` and, once mounted,
asks for the key (``KeyEntryScreen``) and/or asks before a key goes over plain http to another
host (``ConfirmScreen``), then saves the key and connects.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding
from textual.dom import DOMNode

from tui_chat.config import KNOWN_BINDING_IDS, display_path
from tui_chat.connection import PendingConnection, how_to_set_key
from tui_chat.core.text import inert
from tui_chat.gateways.config import SecretStr
from tui_chat.ui.worker_calls import deliver

if TYPE_CHECKING:
    from tui_chat.ui.app import UnifyTUI

# tui_chat.keys (where keys are kept, whether one may be sent) is imported where it is used:
# after the first frame.

# The screens and the prompt have bindings of their own. They are imported on first use, not
# at start-up, so the keymap check imports them itself.
_LAZY_MODULES = (
    "tui_chat.ui.screens.conversations",
    "tui_chat.ui.screens.dialogs",
    "tui_chat.ui.screens.key_entry",
    "tui_chat.ui.screens.settings",
    "tui_chat.ui.widgets.prompt_input",
)


def known_binding_ids() -> frozenset[str]:
    """Every binding id a keymap can name: the app's, its screens' and its widgets'.

    Import ``tui_chat.ui.app`` first (its widgets); this imports the screens (~20 ms), so call it
    only when there is a keymap to check."""
    for name in _LAZY_MODULES:
        importlib.import_module(name)
    return KNOWN_BINDING_IDS | _declared_binding_ids()


def _declared_binding_ids() -> frozenset[str]:
    """The ids of every ``Binding`` declared by a loaded Textual class (app, screens, widgets)."""
    ids: set[str] = set()
    seen: set[type] = set()
    stack: list[type] = [DOMNode]
    while stack:
        cls = stack.pop()
        for binding in cls.__dict__.get("BINDINGS", ()):
            if isinstance(binding, Binding) and binding.id:
                ids.add(binding.id)
        subclasses: list[type] = cls.__subclasses__()
        for sub in subclasses:
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
    return frozenset(ids)


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

    def known_binding_ids(self: UnifyTUI) -> frozenset[str]:
        """Every binding id a keymap can name: the app's, its screens' and widgets' ones."""
        return known_binding_ids()

    def _apply_setup(self: UnifyTUI) -> None:
        """On mount: the theme and keymap checks, and the notice of what was wrong."""
        extra: list[str] = []
        if self.theme_name:
            if self.theme_name in self.available_themes:
                self.theme = self.theme_name
            else:
                known = ", ".join(sorted(self.available_themes))
                extra.append(f"theme: there is no theme {self.theme_name!r}; known: {known}")
        unknown = (
            sorted(set(self.keymap_setting) - self.known_binding_ids())
            if self.keymap_setting
            else []
        )
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
