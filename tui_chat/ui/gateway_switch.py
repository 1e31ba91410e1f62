"""Switching gateway profiles inside the app: the selector's gateway dropdown.

Mixed into ``UnifyTUI`` (like ``saving.py`` and ``connecting.py``) so the App class keeps to
chatting. Choosing a profile connects to it in a thread worker (finding its key may block), then
swaps the gateway and the account, keeps the conversation and its whole history (the next message
resends it to the new gateway), reloads the model list, refreshes or hides the balance, and
greys out what the new kind cannot do with a one-line reason. Each profile remembers the endpoint
it last used in the session.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui_chat.config import GatewayProfile
from tui_chat.connection import (
    Connection,
    PendingConnection,
    ProfileConnector,
    connect,
    first_endpoint,
)
from tui_chat.core.endpoint import endpoint_problem
from tui_chat.core.text import inert
from tui_chat.gateways.base import UNIFY_CAPABILITIES, Capabilities
from tui_chat.gateways.config import SecretStr
from tui_chat.gateways.errors import MissingAPIKeyError
from tui_chat.ui.widgets.selector import SelectorPanel
from tui_chat.ui.worker_calls import deliver

if TYPE_CHECKING:
    from tui_chat.keys import KeyringChoice
    from tui_chat.ui.app import UnifyTUI


class GatewayCommands(Provider):
    """Command palette: "Switch gateway: <profile>" for every other configured profile."""

    def _choices(self) -> list[tuple[str, str]]:
        app: Any = self.app
        if getattr(app, "_connect_profile", None) is None:
            return []
        return [
            (f"Switch gateway: {profile.label}", name)
            for name, profile in app.profiles.items()
            if name != app.profile_name
        ]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, name in self._choices():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    Text(inert(title)),  # a profile name from config.toml is data
                    partial(self._switch, name),
                    text=title,
                    help="Keeps the conversation; the next message resends it there",
                )

    async def discover(self) -> Hits:
        for title, name in self._choices():
            yield DiscoveryHit(Text(inert(title)), partial(self._switch, name), text=title)

    def _switch(self, name: str) -> None:
        app: Any = self.app
        app.switch_gateway(name)


class GatewaySwitching:
    """The gateway-switching half of ``UnifyTUI``."""

    profiles: dict[str, GatewayProfile]
    profile_name: str | None
    capabilities: Capabilities
    _connect_profile: ProfileConnector | None
    _endpoint_by_profile: dict[str, str]
    # Where a key typed for a profile without one is saved (keys.save_key).
    switch_keyring: KeyringChoice
    switch_keys_file: Path | None

    def _init_switching(
        self: UnifyTUI,
        *,
        gateway: Any,
        profiles: Mapping[str, GatewayProfile] | None,
        profile_name: str | None,
        connect_profile: ProfileConnector | None,
        keyring: KeyringChoice = None,
        keys_file: Path | None = None,
    ) -> None:
        self.profiles = dict(profiles or {})
        self.profile_name = profile_name
        self._connect_profile = connect_profile
        self.switch_keyring = keyring
        self.switch_keys_file = keys_file
        self._endpoint_by_profile = {}
        self.capabilities = getattr(gateway, "capabilities", None) or UNIFY_CAPABILITIES

    @property
    def gateway_kind(self: UnifyTUI) -> str:
        """The kind of the profile in use ("unify" when the app was given no profiles)."""
        profile = self.profiles.get(self.profile_name or "")
        return profile.kind if profile is not None else "unify"

    def endpoint_problem(self: UnifyTUI, endpoint: str) -> str | None:
        """Why ``endpoint`` cannot go to the gateway in use, or None."""
        return endpoint_problem(self.gateway_kind, endpoint)

    def _mount_switching(self: UnifyTUI) -> None:
        """On mount: offer the profiles and grey out what the current kind cannot do."""
        choices = [(profile.label, name) for name, profile in self.profiles.items()]
        if self._connect_profile is None:
            choices = [choice for choice in choices if choice[1] == self.profile_name]
        self.selector.set_profiles(choices, self.profile_name)
        self._apply_capabilities()

    def _apply_capabilities(self: UnifyTUI) -> None:
        caps = self.capabilities
        self.selector.set_capabilities(caps, self.gateway_kind)
        self.selector.set_current(self.endpoint)
        self.status.has_balance = caps.has_balance

    # Named, not @on(...): decorated handlers are collected only from Textual classes, not mixins.
    def on_selector_panel_gateway_chosen(
        self: UnifyTUI, event: SelectorPanel.GatewayChosen
    ) -> None:
        self.switch_gateway(event.name)

    def switch_gateway(self: UnifyTUI, name: str) -> None:
        """Connect to profile ``name`` and chat through it from the next message on."""
        if name == self.profile_name:
            return
        if name not in self.profiles or self._connect_profile is None:
            self.notify(
                inert(f"There is no gateway profile {name!r}."), severity="error", markup=False
            )
            self.selector.set_profile(self.profile_name)
            return
        if self.streaming:
            self.notify("A reply is still arriving: stop it (esc) before switching gateway.")
            self.selector.set_profile(self.profile_name)
            return
        self.status.connection = "connecting"
        self._connect_in_background(name)

    @work(thread=True, exclusive=True, group="switch-gateway")
    def _connect_in_background(self: UnifyTUI, name: str, key: SecretStr | None = None) -> None:
        """Connect to profile ``name``: with its stored key, or with ``key`` just typed."""
        assert self._connect_profile is not None
        profile = self.profiles[name]
        try:
            connection = self._connect_profile(profile) if key is None else connect(profile, key)
        except MissingAPIKeyError:  # no key stored for it: ask, as at start-up
            deliver(self, self._ask_profile_key, name)
            return
        except Exception as error:  # a bad URL, a key refused over plain http: say so, stay
            deliver(self, self._switch_failed, profile, error)
            return
        deliver(self, self._switched, name, connection)

    def _key_request(self: UnifyTUI, profile: GatewayProfile) -> PendingConnection:
        """The profile as a key request: where a typed key is saved, the host it goes to."""

        def not_used(key: SecretStr | None) -> tuple[Any, Any]:
            raise AssertionError("switching connects through profiles.connect")

        return PendingConnection(
            profile=profile,
            base_url=profile.base_url or "",
            connect=not_used,
            label=profile.label,
            keyring=self.switch_keyring,
            keys_file=self.switch_keys_file,
        )

    def _ask_profile_key(self: UnifyTUI, name: str) -> None:
        """Profile ``name`` has no key: the masked key dialog; the switch goes on once saved."""
        request = self._key_request(self.profiles[name])
        self.status.connection = "no key"
        from tui_chat.ui.screens.key_entry import KeyEntryScreen  # screens load on first use

        screen = KeyEntryScreen(request.profile, where=request.where_saved, host=request.host)
        self.push_screen(screen, partial(self._profile_key_entered, name))

    def _profile_key_entered(self: UnifyTUI, name: str, key: SecretStr | None) -> None:
        profile = self.profiles[name]
        if not key:  # escape or cancel: stay on the gateway in use
            text = f"Stayed on {self.gateway_label}: no API key entered for {profile.label}."
            self.chat_log.add_notice(text)
            self.notify(inert(text), severity="warning", markup=False)
            self._switch_abandoned()
            return
        from tui_chat.keys import check_key_transport

        request = self._key_request(profile)
        verdict = check_key_transport(request.base_url)
        if verdict.ok:
            self._profile_key_accepted(name, key)
            return

        def answered(send_anyway: bool | None) -> None:
            if send_anyway:
                self._profile_key_accepted(name, key)
            else:
                text = (
                    f"Stayed on {self.gateway_label}: the API key was not sent to "
                    f"{request.host} over plain http."
                )
                self.chat_log.add_notice(text)
                self._switch_abandoned()

        question = f"{verdict.message}\n\nSend the API key to {request.host} anyway?"
        from tui_chat.ui.screens.dialogs import ConfirmScreen

        self.push_screen(ConfirmScreen(question, confirm_label="Send anyway"), answered)

    def _profile_key_accepted(self: UnifyTUI, name: str, key: SecretStr) -> None:
        """Save the typed key (keyring or keys.toml 0600; says where) and finish the switch."""
        self.status.connection = "connecting"
        self.save_entered_key(self._key_request(self.profiles[name]), key)
        self._connect_in_background(name, key)

    def _switch_abandoned(self: UnifyTUI) -> None:
        """The switch did not happen: the selector and the status show the gateway in use."""
        self.selector.set_profile(self.profile_name)
        self.status.connection = "online" if self.gateway is not None else "not connected"
        self.prompt.focus()

    def _switch_failed(self: UnifyTUI, profile: GatewayProfile, error: Exception) -> None:
        text = f"Could not switch to {profile.label}: {error}"
        self.chat_log.add_notice(text)
        self.notify(inert(text), severity="error", markup=False)
        self._switch_abandoned()

    async def _switched(self: UnifyTUI, name: str, connection: Connection) -> None:
        old_gateway, old_account = self.gateway, self.account
        if self.profile_name:
            self._endpoint_by_profile[self.profile_name] = self.endpoint
        profile = self.profiles[name]
        self.profile_name = name
        self.capabilities = connection.capabilities
        self.known_models = []
        self._details.clear()
        status = self.status
        status.balance = None
        status.balance_stale = False
        status.stale_reason = ""
        status.served_endpoint = ""
        self.selector.set_profile(name)
        self.selector.set_models([])
        self.selector.set_capabilities(self.capabilities, self.gateway_kind)
        # The new endpoint first (its details from the new account), then the listings for it.
        self.gateway, self.account = connection.gateway, connection.account
        endpoint = first_endpoint(profile, self._endpoint_by_profile.get(name), self.endpoint)
        if self.endpoint_problem(endpoint) is None:
            self.switch_endpoint(endpoint)
        self.use_gateway(connection.gateway, connection.account, connection.label)
        self._apply_capabilities()
        if self.capabilities.provider_choice and "->" not in self.endpoint:
            # also for a native OpenRouter id, which the seed's parser does not take
            self.load_providers(
                self.endpoint.rsplit("@", 1)[0] if "@" in self.endpoint else self.endpoint
            )
        turns = sum(1 for message in self.conversation.messages if message.role == "user")
        plural = "s" if turns != 1 else ""
        kept = (
            f"the conversation ({turns} message{plural} sent so far) is kept and " if turns else ""
        )
        self.chat_log.add_notice(
            f"Switched to {connection.label}: {kept}the next message goes to {self.endpoint}."
        )
        if old_gateway is not None and old_gateway is not connection.gateway:
            await old_gateway.aclose()
        if old_account is not None and old_account is not connection.account:
            self._close_account(old_account)

    @work(thread=True, group="close-account")
    def _close_account(self: UnifyTUI, account: Any) -> None:
        account.close()
