"""Where the gateway is and how to authenticate: ``GatewaySettings``.

The key comes from ``UNIFY_KEY`` and the base URL from ``UNIFY_BASE_URL`` (default
``https://api.unify.ai/v0``). The key is wrapped in ``SecretStr`` so that it never shows up in a
repr, a log line or a traceback; call ``get_secret_value()`` only where the header is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from tui_chat.gateways.errors import ConfigurationError, MissingAPIKeyError

__all__ = [
    "BASE_URL_ENV_VAR",
    "DEFAULT_BASE_URL",
    "KEY_ENV_VAR",
    "ConfigurationError",
    "GatewaySettings",
    "MissingAPIKeyError",
    "SecretStr",
    "normalize_base_url",
]

DEFAULT_BASE_URL = "https://api.unify.ai/v0"
KEY_ENV_VAR = "UNIFY_KEY"
BASE_URL_ENV_VAR = "UNIFY_BASE_URL"
MISSING_KEY_HELP = (
    f"set it with `export {KEY_ENV_VAR}=...` (get one at https://console.unify.ai), "
    "or try the built-in demo gateway with `unify-tui --demo`"
)


class SecretStr:
    """A string that does not say what it is: repr and str show asterisks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The actual secret. Use it only to build the Authorization header."""
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')" if self._value else "SecretStr('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SecretStr):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type[SecretStr], tuple[str]]:
        return (SecretStr, (self._value,))


def normalize_base_url(base_url: str) -> str:
    """Check that ``base_url`` is an http(s) URL and drop the trailing slash."""
    cleaned = base_url.strip().rstrip("/")
    parts = urlsplit(cleaned)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"The base URL {cleaned!r} is not an http(s) URL; expected something like "
            f"{DEFAULT_BASE_URL}"
        )
    return cleaned


@dataclass(frozen=True, init=False)
class GatewaySettings:
    """How to reach a gateway. ``timeout`` and ``connect_timeout`` are in seconds.

    ``timeout`` bounds each read, so a stream that goes silent for that long is cut.
    ``api_key`` may be given as a plain ``str``; it is stored as a ``SecretStr``.
    """

    base_url: str
    api_key: SecretStr
    timeout: float
    connect_timeout: float

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: SecretStr | str = "",
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
    ) -> None:
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(str(api_key))
        object.__setattr__(self, "base_url", normalize_base_url(base_url))
        object.__setattr__(self, "api_key", secret)
        object.__setattr__(self, "timeout", float(timeout))
        object.__setattr__(self, "connect_timeout", float(connect_timeout))

    @property
    def has_key(self) -> bool:
        """True when a non-empty API key is set."""
        return bool(self.api_key)

    def require_key(self) -> None:
        """Raise ``MissingAPIKeyError`` (with how to set one) if no key is set."""
        if not self.has_key:
            raise MissingAPIKeyError(MISSING_KEY_HELP)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        require_key: bool = True,
    ) -> GatewaySettings:
        """Settings from ``UNIFY_KEY`` and ``UNIFY_BASE_URL``; explicit arguments win.

        Raises ``MissingAPIKeyError`` when there is no key (unless ``require_key`` is False).
        """
        env = os.environ if environ is None else environ
        key = (api_key if api_key is not None else env.get(KEY_ENV_VAR, "")).strip()
        url = base_url or env.get(BASE_URL_ENV_VAR, "").strip() or DEFAULT_BASE_URL
        settings = cls(
            base_url=url,
            api_key=SecretStr(key),
            timeout=timeout,
            connect_timeout=connect_timeout,
        )
        if require_key:
            settings.require_key()
        return settings
