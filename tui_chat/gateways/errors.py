"""Gateway errors: one hierarchy, each carrying the HTTP status and the server's ``detail``.

``str(err)`` is a plain sentence for a person, e.g. "The gateway rejected the API key
(HTTP 401): Invalid API key. You can generate one at https://console.unify.ai/login".
The app maps these to what it shows in one place; the plain ``Agent`` prints ``str(err)``.

``from_response()`` turns any error response into the right class: FastAPI ``{"detail": ...}``
(also the 422 list form), OpenRouter-style ``{"error": {"message": ...}}``, plain text, and HTML
pages from proxies, which are reduced to a short sentence.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from typing import Any

from tui_chat.core.text import valid_text

_MAX_DETAIL_CHARS = 300


class GatewayError(Exception):
    """Something went wrong talking to a gateway.

    ``status``: the HTTP status, or None when there was no response.
    ``detail``: the server's own words (or ours, when the server said nothing useful).
    ``retry_after``: seconds the server asked us to wait, if it said.
    """

    summary = "The gateway returned an error"
    # True when the failure cuts a reply short (the stream broke or ended without a finish):
    # text that arrived before it is a partial reply, not a failed one (``Outcome.CUT``).
    cuts_reply = False

    def __init__(
        self,
        detail: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.detail = valid_text(detail)  # server words: kept, shown and saved, so valid
        self.status = status
        self.retry_after = retry_after
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        head = self.summary
        if self.status is not None:
            head += f" (HTTP {self.status})"
        if self.detail and self.detail != self.summary:
            return f"{head}: {self.detail}"
        return f"{head}."

    def __str__(self) -> str:
        return self._sentence()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(detail={self.detail!r}, status={self.status!r}, "
            f"retry_after={self.retry_after!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments need help to survive pickling (e.g. across processes).
        return (_rebuild, (type(self), self.detail, self.status, self.retry_after))


def _rebuild(
    cls: type[GatewayError], detail: str, status: int | None, retry_after: float | None
) -> GatewayError:
    return cls(detail, status=status, retry_after=retry_after)


class AuthenticationError(GatewayError):
    """401 or 403: the key is wrong, missing, or the account is suspended."""

    summary = "The gateway rejected the API key"


class InsufficientCreditsError(GatewayError):
    """402: the account has no credits left (or an unpaid invoice)."""

    summary = "The account is out of credits"


class BadRequestError(GatewayError):
    """400 or 422: the request was refused, most often an unknown model or provider."""

    summary = "The gateway refused the request"


class NotFoundError(GatewayError):
    """404: nothing matched (an endpoint, or no provider within the thresholds)."""

    summary = "The gateway found nothing for this request"


class RateLimitError(GatewayError):
    """429: too many requests; ``retry_after`` says how long to wait when the server said."""

    summary = "The gateway is rate limiting requests"


class ServerError(GatewayError):
    """5xx, or an error reported inside a stream by the provider."""

    summary = "The gateway or the provider had a server error"


class ConnectionFailed(GatewayError):
    """No response: connection refused, DNS failure, TLS failure, or timeout."""

    summary = "Could not reach the gateway"


class NoAnswer(GatewayError):
    """The gateway took the request and sent nothing back within the read timeout.

    Not retried: the server is there but stuck, and trying again would keep the user waiting a
    whole timeout more each time (four minutes at the default)."""

    summary = "The gateway took the request but did not answer"


class StreamInterrupted(GatewayError):
    """The connection was cut (or went silent) in the middle of a reply."""

    summary = "The connection was cut in the middle of the reply"
    cuts_reply = True


class MalformedResponse(GatewayError):
    """The gateway answered with something that is not what the API promises."""

    summary = "The gateway sent a response that could not be read"


class UnsupportedByGateway(GatewayError):
    """The gateway kind cannot do this (no balance on a plain server, no provider listing)."""

    summary = "This gateway does not offer that"


class ConfigurationError(GatewayError):
    """The client is not set up to talk to a gateway (no key, bad base URL)."""

    summary = "The gateway is not configured"


class MissingAPIKeyError(ConfigurationError):
    """No API key was given or found in the environment."""

    summary = "No API key is set"


_BY_STATUS: dict[int, type[GatewayError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: AuthenticationError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_class_for(status: int | None) -> type[GatewayError]:
    """The error class for an HTTP status."""
    if status is None:
        return GatewayError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return GatewayError


def from_response(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
) -> GatewayError:
    """Build the error for a non-2xx response from its status, raw body and headers."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else (body or "")
    detail = detail_from_body(text) or _reason_phrase(status)
    # A LiteLLM proxy passes its provider's Retry-After on under a prefixed name only.
    retry_after = parse_retry_after(
        _header(headers, "retry-after") or _header(headers, "llm_provider-retry-after")
    )
    return error_class_for(status)(detail, status=status, retry_after=retry_after)


def from_error_object(error: object, *, status: int | None = None) -> GatewayError:
    """Build the error for an ``{"error": {...}}`` object that arrived inside a stream."""
    detail = _detail_from_json(error)
    if status is None and isinstance(error, Mapping):
        code = error.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
            status = code
    cls = error_class_for(status) if status is not None else ServerError
    return cls(detail or "The provider reported an error mid-stream", status=status)


def detail_from_body(text: str) -> str:
    """The server's message from an error body, as one short plain sentence ("" if none)."""
    stripped = text.strip()
    if not stripped:
        return ""
    import json  # on the first error body, not at start-up

    try:
        parsed = json.loads(stripped)
    except ValueError:
        parsed = None
    else:
        found = _detail_from_json(parsed)
        if found:
            return found
    if parsed is not None:
        return _shorten(stripped)
    if _looks_like_html(stripped):
        return _detail_from_html(stripped)
    return _shorten(stripped)


def _detail_from_json(parsed: object) -> str:
    if isinstance(parsed, str):
        return _shorten(parsed)
    if not isinstance(parsed, Mapping):
        return ""
    detail = parsed.get("detail")
    if isinstance(detail, str) and detail.strip():
        return _shorten(detail)
    if isinstance(detail, list) and detail:
        return _shorten("; ".join(_validation_item(item) for item in detail))
    error = parsed.get("error")
    if isinstance(error, Mapping):
        message = error.get("message")
        if isinstance(message, str) and message.strip():
            return _shorten(message)
    if isinstance(error, str) and error.strip():
        return _shorten(error)
    message = parsed.get("message")
    if isinstance(message, str) and message.strip():
        return _shorten(message)
    return ""


def _validation_item(item: object) -> str:
    # FastAPI/pydantic 422: {"loc": ["body", "messages"], "msg": "field required", ...}
    if not isinstance(item, Mapping):
        return str(item)
    msg = str(item.get("msg", "invalid value"))
    loc = item.get("loc")
    if isinstance(loc, list | tuple):
        where = ".".join(str(part) for part in loc if part != "body")
        if where:
            return f"{where}: {msg}"
    return msg


def _looks_like_html(text: str) -> bool:
    head = text[:500].lower()
    return "<html" in head or "<!doctype" in head or "<body" in head or "<head" in head


_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_H1_RE = re.compile(r"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_SCRIPT_RE = re.compile(r"<(script|style)[^>]*>.*?</\1>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")


def _detail_from_html(page: str) -> str:
    for pattern in (_TITLE_RE, _H1_RE):
        match = pattern.search(page)
        if match:
            text = _plain(match.group(1))
            if text:
                return _shorten(f"the server sent a web page: {text}")
    text = _plain(_SCRIPT_RE.sub(" ", page))
    return _shorten(f"the server sent a web page: {text}" if text else "the server sent a web page")


def _plain(fragment: str) -> str:
    import html  # error pages are rare: not imported at start-up

    return " ".join(html.unescape(_TAG_RE.sub(" ", fragment)).split())


def _shorten(text: str) -> str:
    # Keep it on one line and short enough for a status bar or a terminal line.
    one_line = " ".join(text.split())
    if len(one_line) <= _MAX_DETAIL_CHARS:
        return one_line
    return one_line[: _MAX_DETAIL_CHARS - 1].rstrip() + "…"


def _reason_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP status {status}"


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        import email.utils  # an HTTP date is rare; the module is slow to import

        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return max(0.0, seconds)


_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^\n]+)")


def cause_text(exc: BaseException) -> str:
    """A short reason from an exception chain ("Connection refused"), not a wall of repr."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for candidate in reversed(chain):
        if isinstance(candidate, OSError) and isinstance(candidate.errno, int):
            if candidate.errno > 0:
                return os.strerror(candidate.errno)
            if candidate.strerror:
                return str(candidate.strerror)  # getaddrinfo: "Name or service not known"
    for candidate in reversed(chain):
        match = _ERRNO_RE.search(str(candidate))
        if match:
            return match.group(1).strip()[:200]
    for candidate in reversed(chain):
        text = " ".join(str(candidate).split())
        if text and text != "Connection error.":
            return text[:200]
    return type(chain[-1]).__name__
