"""Switching gateway profiles inside the app: the selector's Gateway dropdown and the palette.

Choosing a profile connects to it in a thread worker (finding its key may block), then swaps the
gateway and the account, keeps the conversation and its whole history (the next message resends
it to the new gateway), reloads the model list, refreshes or hides the balance, and greys out
what the new kind cannot do with a one-line reason. Each profile remembers the endpoint it last
used in the session. A profile with no key stored goes through the app's ``KeyFlow`` (the key
dialog of start-up); a stored key that may not be sent fails the switch with a sentence
(``tui_chat.connection.profile_connector`` decides).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message

from tui_chat.config import GatewayProfile
from tui_chat.connection import (
    Connection,
    KeyNeedsConsent,
    KeyRefusal,
    PendingConnection,
    ProfileConnector,
    connect,
    first_endpoint,
    switch_failed_text,
)
from tui_chat.core.endpoint import endpoint_problem
from tui_chat.core.text import inert
from tui_chat.gateways.config import SecretStr
from tui_chat.gateways.errors import MissingAPIKeyError
from tui_chat.ui.host import AppHost

if TYPE_CHECKING:
    from tui_chat.core.conversation import Conversation
    from tui_chat.gateways.base import Account, Capabilities, Gateway
    from tui_chat.keys import KeyringChoice
    from tui_chat.ui.key_flow import KeyFlow


class GatewayConnected(Message):
    """The switch worker connected to profile ``profile_name``."""

    def __init__(self, profile_name: str, connection: Connection) -> None:
        super().__init__()
        self.profile_name = profile_name
        self.connection = connection


class GatewayKeyMissing(Message):
    """Profile ``profile_name`` has no key stored: ask for one."""

    def __init__(self, profile_name: str) -> None:
        super().__init__()
        self.profile_name = profile_name


class GatewaySwitchFailed(Message):
    """Connecting to profile ``profile_name`` failed (a bad URL, a key it may not send)."""

    def __init__(self, profile_name: str, error: Exception) -> None:
        super().__init__()
        self.profile_name = profile_name
        self.error = error


class SwitcherHost(AppHost, Protocol):
    """What gateway switching needs from the app."""

    gateway: Gateway | None
    account: Account | None
    gateway_label: str
    endpoint: str
    capabilities: Capabilities
    conversation: Conversation
    key_flow: KeyFlow

    @property
    def streaming(self) -> bool: ...

    def forget_gateway_listings(self) -> None:
        """Drop the model list and the endpoint details of the gateway being left."""

    def switch_endpoint(self, endpoint: str) -> object: ...

    def use_gateway(self, gateway: Gateway, account: Account | None, label: str) -> None: ...

    def load_providers(self, model: str) -> None: ...


class GatewaySwitcher:
    """The gateway profiles the app can switch between, and switching to one."""

    def __init__(
        self,
        app: SwitcherHost,
        *,
        profiles: Mapping[str, GatewayProfile] | None,
        profile_name: str | None,
        connect_profile: ProfileConnector | None,
        keyring: KeyringChoice = None,
        keys_file: Path | None = None,
    ) -> None:
        self.app = app
        self.profiles = dict(profiles or {})
        self.profile_name = profile_name
        self.connect_profile = connect_profile
        # Where a key typed for a profile without one is saved (keys.save_key).
        self.keyring = keyring
        self.keys_file = keys_file
        self._endpoint_by_profile: dict[str, str] = {}

    @property
    def gateway_kind(self) -> str:
        """The kind of the profile in use ("unify" when the app was given no profiles)."""
        profile = self.profiles.get(self.profile_name or "")
        return profile.kind if profile is not None else "unify"

    def endpoint_problem(self, endpoint: str) -> str | None:
        """Why ``endpoint`` cannot go to the gateway in use, or None."""
        return endpoint_problem(self.gateway_kind, endpoint)

    def palette_choices(self) -> list[tuple[str, str]]:
        """``(title, profile name)`` for every other profile, for the command palette."""
        if self.connect_profile is None:
            return []
        return [
            (f"Switch gateway: {profile.label}", name)
            for name, profile in self.profiles.items()
            if name != self.profile_name
        ]

    def mount(self) -> None:
        """On mount: offer the profiles and grey out what the current kind cannot do."""
        choices = [(profile.label, name) for name, profile in self.profiles.items()]
        if self.connect_profile is None:
            choices = [choice for choice in choices if choice[1] == self.profile_name]
        self.app.selector.set_profiles(choices, self.profile_name)
        self.apply_capabilities()

    def apply_capabilities(self) -> None:
        app = self.app
        caps = app.capabilities
        app.selector.set_capabilities(caps, self.gateway_kind)
        app.selector.set_current(app.endpoint)
        app.status.has_balance = caps.has_balance

    # -- switching ---------------------------------------------------------------------------

    def switch(self, name: str) -> None:
        """Connect to profile ``name`` and chat through it from the next message on."""
        app = self.app
        if name == self.profile_name:
            return
        if name not in self.profiles or self.connect_profile is None:
            app.notify(
                inert(f"There is no gateway profile {name!r}."), severity="error", markup=False
            )
            app.selector.set_profile(self.profile_name)
            return
        if app.streaming:
            app.notify("A reply is still arriving: stop it (esc) before switching gateway.")
            app.selector.set_profile(self.profile_name)
            return
        app.status.connection = "connecting"
        self._connect_in_background(name)

    def _connect_in_background(
        self, name: str, key: SecretStr | None = None, *, send_anyway: bool = False
    ) -> None:
        """Connect to profile ``name`` in a thread: with its stored key, or ``key`` just typed.
        ``send_anyway``: the user agreed to send the stored key over plain http."""
        app = self.app
        connect_profile = self.connect_profile
        assert connect_profile is not None
        profile = self.profiles[name]

        def connect_to_profile() -> None:
            try:
                if key is not None:
                    connection = connect(profile, key)
                elif send_anyway:
                    connection = connect_profile(profile, send_anyway=True)
                else:
                    connection = connect_profile(profile)
            except MissingAPIKeyError:  # no key stored for it: ask, as at start-up
                app.post_message(GatewayKeyMissing(name))
                return
            except Exception as error:  # a bad URL, a key refused over plain http: say so, stay
                app.post_message(GatewaySwitchFailed(name, error))
                return
            app.post_message(GatewayConnected(name, connection))

        app.run_worker(
            connect_to_profile,
            name="connect_to_profile",
            group="switch-gateway",
            exclusive=True,
            thread=True,
        )

    def key_missing(self, message: GatewayKeyMissing) -> None:
        """The profile has no key: the masked key dialog; the switch goes on once it is given."""
        self.app.status.connection = "no key"
        self._ask_key(message.profile_name, replacing=False)

    def _ask_key(self, name: str, *, replacing: bool) -> None:
        """The key dialog for profile ``name``; once a key is given, connect to it with it."""
        profile = self.profiles[name]
        request = PendingConnection(
            profile=profile,
            base_url=profile.base_url or "",
            label=profile.label,
            keyring=self.keyring,
            keys_file=self.keys_file,
            staying_on=self.app.gateway_label,
            replacing=replacing,
        )
        self.app.key_flow.ask(
            request,
            on_key=partial(self._key_given, name),
            on_refused=partial(self._key_refused, request),
        )

    def replace_key(self) -> bool:
        """ "Enter API key" (or a refused key): ask for a key for the profile in use and connect
        again with it; the typed key is saved as for any other. False when there is no profile
        to connect again with (the app was given a gateway, not profiles) or it takes no key."""
        name = self.profile_name
        profile = self.profiles.get(name or "")
        if name is None or profile is None or self.connect_profile is None:
            return False
        if profile.kind == "demo":
            return False
        app = self.app
        if app.streaming:
            app.notify("A reply is still arriving: stop it (esc) before changing the key.")
            return True
        self._ask_key(name, replacing=True)
        return True

    def _key_given(self, name: str, key: SecretStr) -> None:
        self.app.status.connection = "connecting"
        self._connect_in_background(name, key)

    def _key_refused(self, request: PendingConnection, refusal: KeyRefusal) -> None:
        text = request.refusal_text(refusal)
        self.app.chat_log.add_notice(text)
        if refusal is KeyRefusal.NO_KEY_ENTERED:
            self.app.notify(inert(text), severity="warning", markup=False)
        self._abandoned()

    def _abandoned(self) -> None:
        """The switch did not happen: the selector and the status show the gateway in use."""
        app = self.app
        app.selector.set_profile(self.profile_name)
        app.status.connection = "online" if app.gateway is not None else "not connected"
        app.prompt.focus()

    def _ask_consent(self, name: str, error: KeyNeedsConsent) -> None:
        """The stored key would go over plain http to another host: ask, as for a typed key;
        "Send anyway" connects with it, anything else stays on the gateway in use."""
        from tui_chat.ui.screens.dialogs import ConfirmScreen

        profile = self.profiles[name]
        request = PendingConnection(
            profile=profile,
            base_url=profile.base_url or "",
            label=profile.label,
            staying_on=self.app.gateway_label,
        )

        def answered(send_anyway: bool | None) -> None:
            if send_anyway:
                self.app.status.connection = "connecting"
                self._connect_in_background(name, send_anyway=True)
            else:
                self._key_refused(request, KeyRefusal.NOT_SENT)

        question = f"{error}\n\nSend the API key to {error.host} anyway?"
        app = self.app  # (still on the gateway in use while the question is open)
        app.status.connection = "online" if app.gateway is not None else "not connected"
        self.app.push_screen(ConfirmScreen(question, confirm_label="Send anyway"), answered)

    def failed(self, message: GatewaySwitchFailed) -> None:
        if isinstance(message.error, KeyNeedsConsent):
            self._ask_consent(message.profile_name, message.error)
            return
        text = switch_failed_text(self.profiles[message.profile_name], message.error)
        self.app.chat_log.add_notice(text)
        self.app.notify(inert(text), severity="error", markup=False)
        self._abandoned()

    async def connected(self, message: GatewayConnected) -> None:
        """Swap to the new gateway and account; the conversation and its history stay."""
        app = self.app
        name, connection = message.profile_name, message.connection
        new_key = name == self.profile_name  # the same profile again: a key just replaced
        old_gateway, old_account = app.gateway, app.account
        if self.profile_name:
            self._endpoint_by_profile[self.profile_name] = app.endpoint
        profile = self.profiles[name]
        self.profile_name = name
        app.capabilities = connection.capabilities
        app.forget_gateway_listings()
        status = app.status
        status.balance = None
        status.balance_stale = False
        status.stale_reason = ""
        status.served_endpoint = ""
        app.selector.set_profile(name)
        app.selector.set_models([])
        app.selector.set_capabilities(app.capabilities, self.gateway_kind)
        # The new endpoint first (its details from the new account), then the listings for it.
        app.gateway, app.account = connection.gateway, connection.account
        endpoint = first_endpoint(profile, self._endpoint_by_profile.get(name), app.endpoint)
        if self.endpoint_problem(endpoint) is None:
            app.switch_endpoint(endpoint)
        app.use_gateway(connection.gateway, connection.account, connection.label)
        self.apply_capabilities()
        if app.capabilities.provider_choice and "->" not in app.endpoint:
            # also for a native OpenRouter id, which the seed's parser does not take
            app.load_providers(
                app.endpoint.rsplit("@", 1)[0] if "@" in app.endpoint else app.endpoint
            )
        turns = sum(1 for turn in app.conversation.messages if turn.role == "user")
        plural = "s" if turns != 1 else ""
        kept = (
            f"the conversation ({turns} message{plural} sent so far) is kept and " if turns else ""
        )
        switched = "Using the new key for" if new_key else "Switched to"
        app.chat_log.add_notice(
            f"{switched} {connection.label}: {kept}the next message goes to {app.endpoint}."
        )
        if old_gateway is not None and old_gateway is not connection.gateway:
            await old_gateway.aclose()
        if old_account is not None and old_account is not connection.account:
            app.run_worker(
                old_account.close, name="close_account", group="close-account", thread=True
            )


class GatewayCommands(Provider):
    """Command palette: "Switch gateway: <profile>" for every other configured profile."""

    def _switcher(self) -> GatewaySwitcher | None:
        switcher = getattr(self.app, "switcher", None)
        return switcher if isinstance(switcher, GatewaySwitcher) else None

    def _choices(self) -> list[tuple[str, str]]:
        switcher = self._switcher()
        return switcher.palette_choices() if switcher is not None else []

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
        switcher = self._switcher()
        if switcher is not None:
            switcher.switch(name)
