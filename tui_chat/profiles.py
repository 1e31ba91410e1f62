"""From a configured gateway profile and its key to a live connection: gateway, account, label.

Outside ``gateways`` because it knows ``GatewayProfile`` (config) and how keys are found
(keys.py); the wire itself is built by ``gateways.factory``. No Textual.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui_chat.config import GatewayProfile
from tui_chat.gateways.config import GatewaySettings, SecretStr
from tui_chat.gateways.errors import ConfigurationError, MissingAPIKeyError

if TYPE_CHECKING:
    from tui_chat.gateways.base import Account, Capabilities, Gateway
    from tui_chat.keys import KeyringChoice

# The gateway clients (factory, retry) and the key lookup (keys) are imported when a connection
# is made: the app makes its first one after its first frame (UnifyTUI.on_ready).

# Sent when a server takes no key (Ollama, LM Studio on this machine): some want the header.
NO_KEY_PLACEHOLDER = "no-key"
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
    timeout: float = 60.0,
) -> Connection:
    """Build the gateway and account for ``profile`` with ``key``.

    ``demo_base_url``: where the embedded gateway runs, for a ``demo`` profile without a
    ``base_url``. ``retrying`` wraps the gateway in ``RetryingGateway`` (early failures retried).
    Raises ``MissingAPIKeyError`` when the profile needs a key and none was given, and
    ``ConfigurationError`` for a demo profile with nowhere to connect.
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


ProfileConnector = Callable[[GatewayProfile], Connection]


def profile_connector(
    *,
    demo_base_url: str | None = None,
    demo_key: str = DEMO_KEY,
    keyring: KeyringChoice = None,
) -> ProfileConnector:
    """A function that connects to a profile by name alone, for switching inside the app.

    It finds the profile's key (environment, ``keyring``, keys.toml; blocking, so call it from a
    thread), refuses to send a key over plain http to another machine (the switch fails with a
    sentence saying so; the start-up dialog is where that can be confirmed), and connects.
    Demo profiles and profiles served by the embedded gateway (``demo_base_url``'s host and port)
    use ``demo_key``.
    """

    def connect_profile(profile: GatewayProfile) -> Connection:
        if profile.kind == "demo" or _same_server(profile.base_url, demo_base_url):
            return connect(profile, demo_key, demo_base_url=demo_base_url)
        from tui_chat.keys import check_key_transport, resolve_key

        lookup = resolve_key(profile, keyring=keyring)
        if lookup.key is not None and profile.base_url:
            verdict = check_key_transport(profile.base_url)
            if not verdict.ok:
                raise ConfigurationError(verdict.message)
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
