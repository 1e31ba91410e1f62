"""The account half every gateway kind shares: blocking GETs with the key, and a TTL cache.

The app calls account clients from thread workers. ``requests`` (with urllib3,
charset_normalizer and certifi, ~60-100 ms) is not imported with this module: the first call
imports it, or ``tui_chat.gateways.http_stacks.warm_up()`` does, after the app's first frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use, never at start-up
    import requests

from tui_chat._version import __version__
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import (
    ConnectionFailed,
    MalformedResponse,
    cause_text,
    detail_from_body,
    from_response,
)

USER_AGENT = f"unify-tui/{__version__}"


class AccountClient:
    """The blocking HTTP plumbing every account client shares: GET with the key, a TTL cache.

    Listings are cached for ``cache_ttl_s`` seconds. Every failure raises a ``GatewayError``
    subclass with the status and the server's detail.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        session: requests.Session | None = None,
        cache_ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        # Made on the first call (see _http()): importing requests is kept out of start-up.
        self._session = session
        self._cache_ttl_s = cache_ttl_s
        self._clock = clock
        self._cache: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def client_headers(self) -> dict[str, str]:
        """Extra headers on every request (none here)."""
        return {}

    def _http(self) -> requests.Session:
        """The HTTP session, made (and ``requests`` imported) on the first call."""
        session = self._session
        if session is None:
            import requests

            with self._lock:
                if self._session is None:
                    self._session = requests.Session()
                session = self._session
        return session

    def close(self) -> None:
        """Close the HTTP session, if one was opened."""
        if self._session is not None:
            self._session.close()

    def clear_cache(self) -> None:
        """Forget cached listings and details (e.g. after switching gateway)."""
        with self._lock:
            self._cache.clear()

    def _headers(self) -> dict[str, str]:
        self.settings.require_key()
        return {
            "Authorization": f"Bearer {self.settings.api_key.get_secret_value()}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **self.client_headers(),
        }

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        import requests

        url = f"{self.settings.base_url}/{path}"
        try:
            response = self._http().get(
                url,
                params=dict(params or {}),
                headers=self._headers(),
                timeout=(self.settings.connect_timeout, self.settings.timeout),
            )
        except requests.Timeout as exc:
            raise ConnectionFailed(
                f"no answer from {self.settings.base_url} within {self.settings.timeout:g} s"
            ) from exc
        except requests.RequestException as exc:
            raise ConnectionFailed(
                f"{self.settings.base_url} did not answer ({cause_text(exc)})"
            ) from exc
        if response.status_code >= 400:
            raise from_response(response.status_code, response.content, response.headers)
        try:
            return response.json()  # JSON, never eval()
        except ValueError as exc:
            raise MalformedResponse(
                f"/{path} did not return JSON: {detail_from_body(response.text) or 'empty body'}",
                status=response.status_code,
            ) from exc

    def _cached_get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        key = (path, tuple(sorted((params or {}).items())))
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        value = self._get(path, params)
        with self._lock:
            self._cache[key] = (now + self._cache_ttl_s, value)
        return value
