"""Compare endpoints: one prompt streamed to two to four endpoints at once.

A ``Comparison`` holds one reply (a core ``Message``) per endpoint. Each reply is streamed on
its own (``stream_reply``): every event is folded into its message (``Message.apply``) on the
caller's clock, so each reply has its own served endpoint, time to first token, speed, tokens,
cost and outcome (``ReplyFigures``). A failure in one stream ends that reply only; the others
go on. Nothing is added to a conversation until one reply is picked (``Comparison.keep``).

Before sending, ``send_estimate`` says what sending the history to one endpoint would cost
(its input price); a routing mode has no price until it is served, so its estimate is None,
shown as "–".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from tui_chat.core.accounting import (
    NO_FIGURE,
    Prices,
    Spend,
    estimate_cost,
    estimate_tokens_for_chars,
)
from tui_chat.core.conversation import Message, Outcome
from tui_chat.core.endpoint import EndpointError, endpoint_problem, parse_endpoint, provider_of
from tui_chat.core.events import StreamError, StreamEvent

if TYPE_CHECKING:
    from tui_chat.core.conversation import Conversation

MIN_ENDPOINTS = 2
MAX_ENDPOINTS = 4


class ChatStreams(Protocol):
    """What a comparison needs of a gateway (``gateways.base.Gateway`` is one)."""

    def stream_chat(
        self,
        endpoint: str,
        messages: list[dict[str, str]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[StreamEvent]: ...


def comparison_problem(kind: str, endpoints: Sequence[str]) -> str | None:
    """Why these endpoints cannot be compared on a gateway of ``kind`` (a sentence), or None.

    Two to four endpoint strings, each one the gateway kind can take (``endpoint_problem``);
    the same endpoint twice is allowed (it shows how much one endpoint varies).
    """
    chosen = [text.strip() for text in endpoints if text.strip()]
    if not MIN_ENDPOINTS <= len(chosen) <= MAX_ENDPOINTS:
        return f"Compare {MIN_ENDPOINTS} to {MAX_ENDPOINTS} endpoints, not {len(chosen)}."
    for number, text in enumerate(chosen, 1):
        problem = endpoint_problem(kind, text)
        if problem is not None:
            return f"Endpoint {number}: {problem}"
    return None


def has_own_prices(endpoint: str) -> bool:
    """True for one concrete ``model@provider``, whose prices the gateway can say before
    sending; False for a routing mode, the router, a fallback chain (the provider is chosen
    when it is served) and a bare model name."""
    if "@" not in endpoint:
        return False
    try:
        parsed = parse_endpoint(endpoint)
    except EndpointError:
        return False
    return not (parsed.is_routing or parsed.is_fallback)


def prompt_chars(messages: Sequence[dict[str, str]]) -> int:
    """The characters of what is sent, for estimates (about four characters a token)."""
    return sum(len(message.get("content", "")) for message in messages)


def send_estimate(messages: Sequence[dict[str, str]], prices: Prices | None) -> float | None:
    """Credits that sending ``messages`` (the history and the new prompt) to one endpoint costs
    at its input price, before any reply; None when the price is unknown (a routing mode)."""
    if prices is None or prices.input_cost is None:
        return None
    return estimate_cost(estimate_tokens_for_chars(prompt_chars(messages)), 0, prices.input_cost, 0)


def total_estimate(estimates: Sequence[float | None]) -> Spend:
    """The estimates added up: "~" always; "≥" when some are unknown; "–" when none is known."""
    known = [estimate for estimate in estimates if estimate is not None]
    if not known:
        return Spend(None)
    return Spend(sum(known, 0.0), estimated=True, partial=len(known) < len(estimates))


@dataclass(frozen=True)
class ReplyFigures:
    """One compared reply's figures: ms for times, credits for cost, tokens per second."""

    requested_endpoint: str
    served_endpoint: str | None
    ttft_ms: float | None
    tokens_per_second: float | None
    tokens: int
    tokens_estimated: bool
    cost: Spend
    outcome: Outcome | None  # None while it streams
    error: str | None

    @classmethod
    def of(cls, reply: Message, now: float | None = None) -> ReplyFigures:
        """The figures of ``reply``; while it streams, the speed so far at ``now`` (its clock)."""
        speed = reply.tokens_per_second
        if reply.outcome is None and now is not None:
            speed = reply.live_tokens_per_second(now)
        return cls(
            requested_endpoint=reply.requested_endpoint or "",
            served_endpoint=reply.served_endpoint,
            ttft_ms=reply.ttft_ms,
            tokens_per_second=speed,
            tokens=reply.output_tokens,
            tokens_estimated=reply.completion_tokens is None or reply.tokens_estimated,
            cost=reply.spend,
            outcome=reply.outcome,
            error=reply.error,
        )

    @property
    def provider(self) -> str:
        """The provider that served the reply, else the one (or the routing mode) asked for."""
        served = self.served_endpoint
        if served:
            return provider_of(served) or served
        return provider_of(self.requested_endpoint) or self.requested_endpoint

    def line(self, *, show_credits: bool = True) -> str:
        """``groq · TTFT 120 ms · 850 tok/s · 512 tok · 0.000120 credits · complete``."""
        parts = [self.provider or NO_FIGURE]
        parts.append(NO_FIGURE if self.ttft_ms is None else f"TTFT {self.ttft_ms:.0f} ms")
        speed = self.tokens_per_second
        parts.append(f"{NO_FIGURE} tok/s" if speed is None else f"{speed:.0f} tok/s")
        parts.append(f"{'~' if self.tokens_estimated and self.tokens else ''}{self.tokens} tok")
        if show_credits:
            parts.append(f"{self.cost} credits")
        parts.append("streaming" if self.outcome is None else self.outcome.words)
        return " · ".join(parts)


async def stream_reply(
    gateway: ChatStreams,
    reply: Message,
    messages: list[dict[str, str]],
    *,
    endpoint: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_event: Callable[[StreamEvent], None] | None = None,
) -> BaseException | None:
    """Stream one reply into ``reply`` and return what failed it (None when nothing did).

    Each event is folded into ``reply`` on ``clock`` (seconds) before ``on_event`` sees it.
    ``endpoint``: what is sent as the model (default: the reply's requested endpoint, e.g. a
    preset resolved by the caller). Cancelling the task stops the reply (STOPPED, the text
    kept) and re-raises; an unexpected exception ends it as ERROR instead of propagating, so one
    broken stream never takes the others down. The reply's ``end`` is always called.
    """
    failure: BaseException | None = None
    reply.begin(clock())
    try:
        async for event in gateway.stream_chat(
            endpoint or reply.requested_endpoint or "",
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
        ):
            reply.apply(event, clock())
            if isinstance(event, StreamError):
                failure = event.error
            if on_event is not None:
                on_event(event)
        reply.end_unfinished()  # (only if the gateway sent neither Done nor StreamError)
    except asyncio.CancelledError:
        reply.mark_stopped()
        raise
    except Exception as unexpected:  # a bug in one stream must not end the comparison
        failure = unexpected
        reply.outcome = Outcome.ERROR
        reply.error = f"Unexpected error: {type(unexpected).__name__}: {unexpected}"
    finally:
        reply.end(clock())
    return failure


@dataclass
class Comparison:
    """One prompt and one reply per endpoint, in the order the endpoints were given.

    ``replies[i]`` answers ``endpoints[i]``; ``failures[i]`` is what failed it (None if nothing).
    ``kept`` is the index of the reply picked to continue with, once one is.
    """

    prompt: str
    endpoints: tuple[str, ...]
    replies: list[Message] = field(default_factory=list)
    failures: list[BaseException | None] = field(default_factory=list)
    kept: int | None = None

    @classmethod
    def start(
        cls, prompt: str, endpoints: Sequence[str], *, gateway: str | None = None
    ) -> Comparison:
        """An empty reply for each endpoint (through the gateway profile ``gateway``)."""
        chosen = tuple(text.strip() for text in endpoints if text.strip())
        replies = [
            Message(role="assistant", content="", requested_endpoint=text, gateway=gateway)
            for text in chosen
        ]
        return cls(prompt, chosen, replies, [None] * len(chosen))

    def figures(self, now: float | None = None) -> list[ReplyFigures]:
        """Each reply's figures, in order (live speeds at ``now`` while they stream)."""
        return [ReplyFigures.of(reply, now) for reply in self.replies]

    @property
    def spend(self) -> Spend:
        """What every reply of the comparison cost together (each one was charged)."""
        known = [reply.cost for reply in self.replies if reply.cost is not None]
        unknown = any(reply.cost is None and reply.content for reply in self.replies)
        if not known:
            return Spend(None if unknown else 0.0)
        estimated = any(reply.cost_estimated for reply in self.replies if reply.cost is not None)
        return Spend(sum(known, 0.0), estimated=estimated, partial=unknown)

    @property
    def finished(self) -> bool:
        """True once every reply has ended (finished, failed or stopped)."""
        return all(reply.outcome is not None for reply in self.replies)

    async def stream_one(
        self,
        index: int,
        gateway: ChatStreams,
        messages: list[dict[str, str]],
        *,
        endpoint: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[StreamEvent], None] | None = None,
    ) -> None:
        """Stream reply ``index`` (see ``stream_reply``); its failure goes to ``failures``."""
        self.failures[index] = await stream_reply(
            gateway,
            self.replies[index],
            messages,
            endpoint=endpoint,
            temperature=temperature,
            max_tokens=max_tokens,
            clock=clock,
            on_event=on_event,
        )

    async def run(
        self,
        gateway: ChatStreams,
        messages: list[dict[str, str]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[int, StreamEvent], None] | None = None,
    ) -> None:
        """Stream every reply at once and return when all have ended. ``messages`` is what is
        sent to each (the history and the prompt); ``on_event(index, event)`` sees each event.
        Cancelling stops every reply still streaming."""

        def each(index: int) -> Callable[[StreamEvent], None] | None:
            if on_event is None:
                return None
            return lambda event: on_event(index, event)

        await asyncio.gather(
            *(
                self.stream_one(
                    index,
                    gateway,
                    messages,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    clock=clock,
                    on_event=each(index),
                )
                for index in range(len(self.replies))
            )
        )

    def keep(self, conversation: Conversation, index: int) -> Message:
        """Continue ``conversation`` with reply ``index``: the prompt and that reply become its
        next turn; the other replies stay with that turn as alternates, so their cost counts in
        the conversation's spend. Returns the kept reply."""
        if not 0 <= index < len(self.replies):
            raise IndexError(f"no reply {index} in a comparison of {len(self.replies)}")
        kept = self.replies[index]
        conversation.add_user(self.prompt)
        first = self.replies[0]
        conversation.messages.append(first)
        for reply in self.replies[1:]:
            conversation.add_alternate(first, reply)  # in the endpoints' order: "2/3"
        conversation.show_alternate(kept)
        self.kept = index
        return kept
