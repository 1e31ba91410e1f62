"""The typed events a streaming reply is made of.

A gateway's ``stream_chat()`` yields these, in this order: at most one ``ServedEndpoint`` before
the first text (and again if the served endpoint changes), any number of ``TextDelta``, then at
most one ``Usage``, and last exactly one ``Done`` or one ``StreamError``. Nothing follows either.

A retrying wrapper (gateways.retry) may also yield ``Retrying`` before the first text: the attempt
failed, nothing was received, and another attempt follows after ``delay_s`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # core never imports the wire at run time
    from tui_chat.gateways.errors import GatewayError


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the reply's text, as it arrived."""

    text: str


@dataclass(frozen=True, slots=True)
class ServedEndpoint:
    """The concrete ``model@provider`` that is serving the reply (first seen, or changed)."""

    endpoint: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts and cost of the reply; ``cost`` is in credits (1 credit = 1 USD).

    ``estimated`` is True when the figures were computed locally rather than reported.
    """

    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Done:
    """The stream ended normally (``[DONE]`` or end of file).

    ``ttft_ms``: milliseconds from sending the request to the first text (None if no text came);
    ``duration_ms``: milliseconds from sending the request to the end of the stream.
    """

    finish_reason: str | None
    ttft_ms: float | None = None
    duration_ms: float | None = None


@dataclass(frozen=True, slots=True)
class StreamError:
    """The stream failed; nothing follows it. ``str(error)`` is a sentence for the user."""

    error: GatewayError


@dataclass(frozen=True, slots=True)
class Retrying:
    """An attempt failed before any text arrived; attempt ``attempt`` of ``max_attempts`` follows
    after ``delay_s`` seconds. ``reason`` is a short plain phrase ("429 rate limited")."""

    attempt: int
    max_attempts: int
    delay_s: float
    reason: str


StreamEvent = TextDelta | ServedEndpoint | Usage | Done | StreamError | Retrying
