"""Automatic retries for any gateway, only where they cannot charge twice.

``RetryingGateway(inner, policy)`` wraps any ``Gateway``. When an attempt fails *before any text
arrived* with a rate limit (429), a server error (5xx) or a connection failure, it yields a
``Retrying`` event, waits, and tries again, at most ``policy.max_attempts`` attempts in all. The
wait doubles from ``base_delay_s`` up to ``max_delay_s``; a server's ``Retry-After`` is honoured
instead, unless it is longer than ``max_retry_after_s``: then the error is shown at once (with the
wait the server asked for) rather than freezing the app for minutes.

Once any text has arrived nothing is retried: the provider has started to charge for the reply, and
a silent second request would charge again. Other errors (401, 402, 400, 404, 422, malformed
streams, a cut-off reply) are never retried either: trying again would give the same answer.
Cancelling the consumer (the user pressed stop) cancels the wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from tui_chat.core.events import Retrying, StreamError, StreamEvent, TextDelta, Usage
from tui_chat.gateways.base import Capabilities, Gateway
from tui_chat.gateways.errors import (
    ConnectionFailed,
    GatewayError,
    RateLimitError,
    ServerError,
)

Sleep = Callable[[float], Awaitable[object]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. Times in seconds.

    ``max_attempts``: attempts in all, the first one included (1 disables retrying).
    ``base_delay_s``: the wait after the first failure; it doubles after each further failure,
    capped at ``max_delay_s``. ``max_retry_after_s``: the longest ``Retry-After`` honoured.
    """

    max_attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 8.0
    max_retry_after_s: float = 30.0

    def backoff(self, failures: int) -> float:
        """The wait after ``failures`` failed attempts (1, 2, 4, ... capped), seconds."""
        exponent = max(0, failures - 1)
        return float(min(self.max_delay_s, self.base_delay_s * (2**exponent)))

    def delay_for(self, error: GatewayError, failures: int) -> float | None:
        """Seconds to wait before trying again after ``error``, or None not to retry."""
        if failures >= self.max_attempts or not is_retryable(error):
            return None
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after_s:
                return None
            return max(0.0, error.retry_after)
        return self.backoff(failures)


NO_RETRIES = RetryPolicy(max_attempts=1)


def is_retryable(error: GatewayError) -> bool:
    """429, 5xx and connection failures may succeed if tried again; nothing else will."""
    if isinstance(error, RateLimitError | ConnectionFailed):
        return True
    if isinstance(error, ServerError):
        return error.status is None or error.status >= 500
    return error.status is not None and (error.status == 429 or error.status >= 500)


def retry_reason(error: GatewayError) -> str:
    """A short phrase for a countdown: "429 rate limited", "503 server error"."""
    if isinstance(error, RateLimitError) or error.status == 429:
        return "429 rate limited"
    if error.status is not None and error.status >= 500:
        return f"{error.status} server error"
    if isinstance(error, ConnectionFailed):
        return "could not connect"
    return "server error"


class RetryingGateway:
    """A ``Gateway`` that retries the inner gateway's early failures (see the module docstring)."""

    def __init__(
        self,
        inner: Gateway,
        policy: RetryPolicy | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def __getattr__(self, name: str) -> Any:
        # Anything else (settings, account helpers) is the inner gateway's.
        if name == "inner":  # not set yet (during unpickling): avoid recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"RetryingGateway({self.inner!r}, {self.policy!r})"

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def stream_chat(
        self,
        endpoint: str,
        messages: list[dict[str, str]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """The inner gateway's events, with failed early attempts replaced by ``Retrying``."""
        failures = 0
        while True:
            charged = False  # text or usage arrived: the attempt cost something
            failure: GatewayError | None = None
            stream = self.inner.stream_chat(
                endpoint, messages, temperature=temperature, max_tokens=max_tokens
            )
            async with aclosing(stream):
                async for event in stream:
                    if isinstance(event, StreamError) and not charged:
                        failure = event.error
                        break  # decide below whether to pass it on
                    if isinstance(event, TextDelta | Usage):
                        charged = True
                    yield event
            if failure is None:
                return
            failures += 1
            delay = self.policy.delay_for(failure, failures)
            if delay is None:
                yield StreamError(failure)
                return
            yield Retrying(
                attempt=failures + 1,
                max_attempts=self.policy.max_attempts,
                delay_s=delay,
                reason=retry_reason(failure),
            )
            await self._sleep(delay)


# -- background polls (balance, listings) -----------------------------------------------------


@dataclass
class PollBackoff:
    """When to try a failed background poll again: ``base_s``, doubling, capped at ``max_s``.

    ``failed()`` records a failure and returns the wait before the next try (seconds);
    ``succeeded()`` starts over. ``delays`` keeps every wait handed out, for tests and logs.
    """

    base_s: float = 5.0
    max_s: float = 300.0
    failures: int = 0
    delays: list[float] = field(default_factory=list)

    def failed(self) -> float:
        self.failures += 1
        delay = float(min(self.max_s, self.base_s * (2 ** min(self.failures - 1, 32))))
        self.delays.append(delay)
        return delay

    def succeeded(self) -> None:
        self.failures = 0

    @property
    def backing_off(self) -> bool:
        return self.failures > 0


def stale_reason(error: BaseException) -> str:
    """Two or three words for a stale marker: "offline", "HTTP 503", "unreadable reply"."""
    if isinstance(error, ConnectionFailed):
        return "offline"
    if isinstance(error, GatewayError):
        if error.status is not None:
            return f"HTTP {error.status}"
        return "unreadable reply" if error.detail else "error"
    if isinstance(error, OSError):
        return "offline"
    return "error"
