"""From a gateway profile and its key to a live ``Connection``, and every decision on the way.

Which key a profile uses, whether it may be sent over a base URL, and what to say when it is not
are decided here once, for the three ways in: start-up (``tui_chat.cli`` builds the app's first
connection), switching gateway inside the app (``tui_chat.ui.gateway_switcher``) and the plain
terminal chat (``--plain``). The UI only asks the questions this module tells it to ask (the key
dialog, "send anyway?") and shows the sentences it returns. No Textual here.

Outside ``gateways`` because it knows ``GatewayProfile`` (config) and how keys are found
(keys.py); the wire itself is built by ``gateways.factory``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from tui_chat.config import GatewayProfile, display_path
from tui_chat.gateways.config import GatewaySettings, SecretStr
from tui_chat.gateways.errors import ConfigurationError, MissingAPIKeyError

if TYPE_CHECKING:
    from tui_chat.gateways.base import Account, Capabilities, Gateway
    from tui_chat.keys import KeyringChoice, TransportVerdict

# The gateway clients (factory, retry) and the key lookup (keys) are imported when a connection
# is made or a key looked for: the app makes its first one after its first frame, and the demo
# needs no key lookup at all.

# Sent when a server takes no key (Ollama, LM Studio on this machine): some want the header.
NO_KEY_PLACEHOLDER = "no-key"
DEFAULT_READ_TIMEOUT_S = 60.0  # a profile's read_timeout when it sets none
DEMO_KEY = "demo-key"


@dataclass(frozen=True)
class Connection:
    """A profile made live: what the app talks to and how it names it in the status bar."""

    profile: GatewayProfile
    gateway: Gateway
    account: Account
    capabilities: Capabilities
    label: str

    async def aclose(self) -> None:
        """Close the gateway's HTTP client and the account's session."""
        try:
            await self.gateway.aclose()
        finally:
            self.account.close()


def connect(
    profile: GatewayProfile,
    key: SecretStr | str | None,
    *,
    demo_base_url: str | None = None,
    retrying: bool = True,
    timeout: float | None = None,
) -> Connection:
    """Build the gateway and account for ``profile`` with ``key``.

    ``demo_base_url``: where the embedded gateway runs, for a ``demo`` profile without a
    ``base_url``. ``retrying`` wraps the gateway in ``RetryingGateway`` (early failures retried).
    ``timeout`` bounds each read, in seconds (default: the profile's ``read_timeout``, else
    ``DEFAULT_READ_TIMEOUT_S``). Raises ``MissingAPIKeyError`` when the profile
    needs a key and none was given, and ``ConfigurationError`` for a demo profile with nowhere
    to connect.
    """
    from tui_chat.gateways.factory import build_gateway, capabilities_for
    from tui_chat.gateways.retry import RetryingGateway

    secret = key.get_secret_value() if isinstance(key, SecretStr) else (key or "")
    base_url = profile.base_url
    if profile.kind == "demo":
        base_url = base_url or demo_base_url
        if not base_url:
            raise ConfigurationError(
                "the demo gateway is not running; start the app with `unify-tui --demo`"
            )
        secret = secret or DEMO_KEY
    if not base_url:
        raise ConfigurationError(f"the gateway profile {profile.name!r} has no base_url")
    if not secret:
        from tui_chat.keys import needs_key

        if needs_key(profile):
            hint = f"`export {profile.key_env}=...`" if profile.key_env else "the key screen"
            raise MissingAPIKeyError(
                f"no API key for the {profile.label} gateway; set it with {hint}, "
                "or try the built-in demo gateway with `unify-tui --demo`"
            )
        secret = NO_KEY_PLACEHOLDER
    if timeout is None:
        timeout = profile.read_timeout or DEFAULT_READ_TIMEOUT_S
    settings = GatewaySettings(base_url=base_url, api_key=secret, timeout=timeout)
    gateway, account = build_gateway(profile.kind, settings, prices=profile.prices)
    if retrying:
        gateway = RetryingGateway(gateway)
    return Connection(
        profile=profile,
        gateway=gateway,
        account=account,
        capabilities=capabilities_for(profile.kind),
        label=profile.label,
    )


# -- which key, and may it be sent --------------------------------------------------------------


def transport_verdict(base_url: str) -> TransportVerdict:
    """Whether a key may go to ``base_url`` without asking (``keys.check_key_transport``)."""
    from tui_chat.keys import check_key_transport

    return check_key_transport(base_url)


def startup_keyring(
    profile: GatewayProfile, environ: Mapping[str, str] | None = None
) -> KeyringChoice:
    """The keyring to look in at start-up: none when the profile's variable holds a key.

    Only looked for when it may be needed: a locked keyring can take seconds to answer.
    """
    from tui_chat.keys import clean_key, system_keyring

    env = os.environ if environ is None else environ
    in_env = bool(profile.key_env and clean_key(env.get(profile.key_env, "")))
    return None if in_env else system_keyring()


# Builds (gateway, account) for a key; None for a keyless local server. Called on the event loop
# by the app: it must not block.
Connector = Callable[[SecretStr | None], "tuple[Gateway, Account | None]"]


@dataclass
class ConnectionPlan:
    """What start-up found out about the chosen gateway before anything is sent.

    ``key`` None with ``needs_key``: ask the user. ``transport_ok`` False: the key would go over
    plain http to another host, so ask before sending it. ``warnings`` never contain the key.
    """

    profile: GatewayProfile
    base_url: str
    label: str
    key: SecretStr | None
    needs_key: bool
    transport_ok: bool
    keyring: KeyringChoice = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """True when the app can connect at once: a key it may send, or none needed."""
        return (self.key is not None or not self.needs_key) and self.transport_ok

    @property
    def missing_key(self) -> bool:
        """True when the profile needs a key and none was found."""
        return self.key is None and self.needs_key

    def connector(self) -> Connector:
        """A function building (gateway, account) for a key, for this plan's profile and URL."""

        def connect_with(key: SecretStr | None) -> tuple[Gateway, Account | None]:
            from tui_chat.gateways.retry import RetryingGateway
            from tui_chat.gateways.unify import UnifyAccount, UnifyGateway

            gateway: Gateway
            account: Account | None
            if self.profile.kind != "demo":
                connection = connect(replace(self.profile, base_url=self.base_url), key)
                gateway, account = connection.gateway, connection.account
            else:
                # The demo speaks the Unify API: built directly, without the factory and the
                # other kinds' modules.
                settings = GatewaySettings(
                    base_url=self.base_url, api_key=key or NO_KEY_PLACEHOLDER
                )
                gateway, account = UnifyGateway(settings), UnifyAccount(settings)
            # Early 429/5xx/connection failures are retried with backoff, never once text has
            # arrived.
            if not isinstance(gateway, RetryingGateway):
                gateway = RetryingGateway(gateway)
            return gateway, account

        return connect_with

    def pending(self) -> PendingConnection:
        """What the app must still ask for (the key, or leave to send it) before connecting."""
        return PendingConnection(
            profile=self.profile,
            base_url=self.base_url,
            connect=self.connector(),
            label=self.label,
            key=self.key,
            keyring=self.keyring,
        )

    def plain_connection(self) -> Connection:
        """The connection of the plain terminal chat: the profile's own gateway kind, at the
        base URL start-up settled on (the embedded gateway's for the demo)."""
        profile = self.profile
        if profile.kind != "demo":
            profile = replace(profile, base_url=self.base_url)
        return connect(profile, self.key, demo_base_url=self.base_url)


def demo_plan(profile: GatewayProfile, base_url: str, key: str = DEMO_KEY) -> ConnectionPlan:
    """The embedded gateway at ``base_url`` taking ``key``: no key lookup (keys.py not even
    imported), nothing to ask."""
    return ConnectionPlan(profile, base_url, "Demo gateway", SecretStr(key), False, True)


def plan_connection(
    profile: GatewayProfile,
    *,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ConnectionPlan:
    """Find ``profile``'s key and whether it may be sent, before anything is sent.

    ``base_url`` (from the command line) wins over the profile's; for the unify kind without
    one, ``UNIFY_BASE_URL`` from the environment does. Blocking (the keyring).
    """
    from tui_chat.keys import needs_key, resolve_key

    env = os.environ if environ is None else environ
    url = base_url or profile.base_url or ""
    if not base_url and profile.kind == "unify":
        url = env.get("UNIFY_BASE_URL") or url
    keyring = startup_keyring(profile, env)
    lookup = resolve_key(profile, env, keyring=keyring)
    return ConnectionPlan(
        profile=profile,
        base_url=url,
        label=profile.label,
        key=lookup.key,
        needs_key=needs_key(profile),
        transport_ok=lookup.key is None or transport_verdict(url).ok,
        keyring=keyring,
        warnings=list(lookup.warnings),
    )


class ProfileConnector(Protocol):
    """Connects to a profile by name alone (blocking: call it from a thread).

    ``send_anyway``: the user agreed to send the stored key over plain http to another host.
    """

    def __call__(self, profile: GatewayProfile, *, send_anyway: bool = False) -> Connection: ...


class KeyNeedsConsent(ConfigurationError):
    """The profile's stored key would go over plain http to another machine: it is sent only
    once the user agrees (``send_anyway``); the message says why to ask."""

    def __init__(self, message: str, host: str) -> None:
        super().__init__(message)
        self.host = host


def profile_connector(
    *,
    demo_base_url: str | None = None,
    demo_key: str = DEMO_KEY,
    keyring: KeyringChoice = None,
) -> ProfileConnector:
    """A function that connects to a profile by name alone, for switching inside the app.

    It finds the profile's key (environment, ``keyring``, keys.toml; blocking, so call it from a
    thread), does not send a stored key over plain http to another machine unless
    ``send_anyway`` (``KeyNeedsConsent`` says why to ask; the switcher asks), and
    connects. Demo profiles and profiles served by the embedded gateway (``demo_base_url``'s host
    and port) use ``demo_key``. Raises ``MissingAPIKeyError`` when no key is found.
    """

    def connect_profile(profile: GatewayProfile, *, send_anyway: bool = False) -> Connection:
        if profile.kind == "demo" or _same_server(profile.base_url, demo_base_url):
            return connect(profile, demo_key, demo_base_url=demo_base_url)
        from tui_chat.keys import resolve_key

        lookup = resolve_key(profile, keyring=keyring)
        if lookup.key is not None and profile.base_url and not send_anyway:
            verdict = transport_verdict(profile.base_url)
            if not verdict.ok:
                host = urlsplit(profile.base_url).hostname or "?"
                raise KeyNeedsConsent(verdict.message, host)
        return connect(profile, lookup.key, demo_base_url=demo_base_url)

    return connect_profile


def _same_server(url: str | None, other: str | None) -> bool:
    if not url or not other:
        return False
    return _origin(url) == _origin(other)


def _origin(url: str) -> str:
    match = re.match(r"^[a-z]+://[^/]+", url.strip().lower())
    return match.group(0) if match else url


def first_endpoint(profile: GatewayProfile, previous: str | None, default: str) -> str:
    """The endpoint to use right after switching to ``profile``.

    ``previous``: the endpoint this profile used earlier in the session, if any; else the
    profile's ``default_model``; else, on a plain server, the model part of ``default`` (the
    endpoint in use before the switch), on OpenRouter ``openai/gpt-4o-mini``, otherwise
    ``default`` itself.
    """
    if previous:
        return previous
    if profile.default_model:
        return profile.default_model
    if profile.kind == "openai-compatible":
        return default.split("->", 1)[0].rsplit("@", 1)[0].rsplit("/", 1)[-1]
    if profile.kind == "openrouter":
        return "openai/gpt-4o-mini"
    if "@" not in default:
        return f"{default}@highest-tks-per-sec"
    return default


# -- asking for a key: what the UI asks and what it says ----------------------------------------


class KeyRefusal(Enum):
    """Why no key was sent: none was typed, or the user would not send it over plain http."""

    NO_KEY_ENTERED = "no key entered"
    NOT_SENT = "not sent over plain http"


@dataclass(frozen=True)
class PendingConnection:
    """A gateway to connect to once there is a key the user is willing to send.

    ``key`` None: ask for one (saved with ``keys.save_key`` to ``keyring``/``keys_file``).
    ``connect`` builds the gateway and account (called on the event loop; it must not block);
    None when the caller connects by itself (switching, in a thread). ``staying_on``: the label
    of the gateway kept when the user declines (switching), None at start-up (nothing to keep).
    """

    profile: GatewayProfile
    base_url: str
    label: str
    connect: Connector | None = None
    key: SecretStr | None = None
    keyring: KeyringChoice = None
    keys_file: Path | None = None
    staying_on: str | None = None
    replacing: bool = False  # a key is in use already: the typed one replaces it

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

    def transport(self) -> TransportVerdict:
        """Whether the key may go to this base URL without asking."""
        return transport_verdict(self.base_url)

    def send_anyway_question(self, verdict: TransportVerdict) -> str:
        """The question to ask before sending the key when ``verdict`` says to ask."""
        return f"{verdict.message}\n\nSend the API key to {self.host} anyway?"

    def refusal_text(self, refusal: KeyRefusal) -> str:
        """The notice saying that nothing was connected, and what to do about it."""
        if self.staying_on is None:  # start-up: nothing is connected
            if refusal is KeyRefusal.NO_KEY_ENTERED:
                return how_to_set_key(self.profile, in_app=True)
            return (
                f"Not connected: the API key was not sent to {self.host} over plain http. "
                "Use an https:// base_url in config.toml (or --base-url), then restart."
            )
        if refusal is KeyRefusal.NO_KEY_ENTERED:
            return f"Stayed on {self.staying_on}: no API key entered for {self.profile.label}."
        return (
            f"Stayed on {self.staying_on}: the API key was not sent to {self.host} over plain http."
        )

    def setup_failed_text(self, error: Exception) -> str:
        """The notice when ``connect`` raised (a bad base URL): the error's kind, no detail."""
        return f"Could not set up the {self.label} gateway: {type(error).__name__}"

    def save_key(self, key: SecretStr) -> str:
        """Keep ``key`` (keyring, or keys.toml readable only by the user); blocking.

        Returns the sentence saying where; raises ``keys.KeyStoreError``, ``ValueError`` or
        ``OSError`` when it could not be kept (see ``key_not_saved_text``).
        """
        from tui_chat.keys import SOURCE_KEYRING, default_keys_path, save_key

        where = save_key(self.profile, key, keyring=self.keyring, keys_file=self.keys_file)
        if where == SOURCE_KEYRING:
            return "Key saved in the system keyring."
        path = self.keys_file or default_keys_path()
        return f"Key saved in {display_path(path)} (readable only by you)."


def key_not_saved_text(error: Exception) -> str:
    """The warning when a typed key could not be kept: it still works for this session."""
    return f"The key works for this session but was not saved: {error}"


def switch_failed_text(profile: GatewayProfile, error: Exception) -> str:
    """The notice when switching to ``profile`` failed (a bad URL, a stored key not sent)."""
    return f"Could not switch to {profile.label}: {error}"


def how_to_set_key(profile: GatewayProfile, *, in_app: bool = False) -> str:
    """A sentence saying how to give ``profile`` a key later (for the notice after escape)."""
    env = f"`export {profile.key_env}=...` and restart" if profile.key_env else None
    paste = (
        "press ctrl+p and choose “Enter API key”"
        if in_app
        else "run unify-tui (full screen) and paste it when asked"
    )
    ways = [way for way in (env, paste) if way]
    return (
        f"No API key for the {profile.label} gateway, so nothing can be sent. To set one: "
        f"{', or '.join(ways)}. To try the app without a key: unify-tui --demo"
    )


# The plain terminal chat's question before a key goes over plain http, and its answer to no.
PLAIN_SEND_ANYWAY_PROMPT = "Send the API key anyway? [y/N] "
PLAIN_NOT_SENT = "not sent."


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
