"""A conversation: its messages with full provenance, its spend, and what is resent each turn.

Endpoints are stateless, so the whole history is sent with every request. What is sent follows
three rules:

- a failed or cut turn (an ``ERROR`` or ``CUT`` reply and the user message it answered) is not
  resent: the model never finished a reply to it, and resending half a reply as if it were whole
  would put words in its mouth (and repeat a failure's context forever);
- a ``STOPPED`` reply is resent with the text that arrived, because the user saw it and chose to
  stop it; a ``LENGTH`` or ``FILTERED`` reply is resent as the model left it;
- an empty reply (stopped before any text, or still streaming) is not resent.

Switching model keeps the history: the next request simply names another endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from tui_chat.core.accounting import Spend, estimate_tokens
from tui_chat.core.events import Done, ServedEndpoint, StreamError, StreamEvent, TextDelta, Usage

Role = Literal["system", "user", "assistant"]


class Outcome(StrEnum):
    """How a reply ended. Only ``COMPLETE`` is a reply the model finished."""

    COMPLETE = "complete"  # the model finished (finish_reason "stop", "tool_calls", …)
    STOPPED = "stopped"  # the user stopped it (or the app quit while it streamed)
    CUT = "cut"  # the stream broke or ended without a finish reason after some text
    LENGTH = "length"  # the model reached the token limit (finish_reason "length")
    FILTERED = "filtered"  # the provider's content filter ended it ("content_filter")
    ERROR = "error"  # it failed (nothing arrived, or the gateway reported an error)

    @property
    def words(self) -> str:
        """How the reply ended, in a few words for the provenance line, --plain and exports."""
        return _OUTCOME_WORDS[self]


_OUTCOME_WORDS = {
    Outcome.COMPLETE: "complete",
    Outcome.STOPPED: "stopped",
    Outcome.CUT: "cut off: the stream ended before the reply finished",
    Outcome.LENGTH: "stopped at the token limit",
    Outcome.FILTERED: "stopped by the provider's content filter",
    Outcome.ERROR: "failed",
}


def outcome_of_finish(finish_reason: str | None) -> Outcome:
    """The outcome of a stream that finished with ``finish_reason`` (OpenAI's words; Gemini
    and others through OpenAI-compatible servers say "max_tokens" or "MAX_TOKENS")."""
    reason = (finish_reason or "").lower()
    if reason in ("length", "max_tokens"):
        return Outcome.LENGTH
    if reason in ("content_filter", "safety"):
        return Outcome.FILTERED
    return Outcome.COMPLETE


@dataclass(frozen=True)
class ConversationSettings:
    """A conversation's own settings (the settings screen, f2); saved with it."""

    system_prompt: str | None = None
    temperature: float | None = None  # 0..2; None: the gateway's default
    max_tokens: int | None = None  # None: no limit set
    spend_cap: float | None = None  # credits; None: no cap


@dataclass
class Message:
    """One message and where it came from.

    ``cost`` is in credits (USD); ``ttft_ms`` and ``duration_ms`` in milliseconds from the request.
    ``outcome`` is None while a reply is streaming (and always for user and system messages).
    """

    role: Role
    content: str
    created_at: float = field(default_factory=time.time)
    requested_endpoint: str | None = None
    served_endpoint: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    cost_estimated: bool = False
    ttft_ms: float | None = None
    duration_ms: float | None = None
    outcome: Outcome | None = None
    error: str | None = None
    # The gateway profile the reply came through ("unify", "openrouter", a [gateways.NAME]);
    # None for user messages and for replies saved before it was recorded.
    gateway: str | None = None
    # Credits the gateway's balance fell by over this reply alone (``core.billing``), when that
    # could be measured; it may differ from ``cost`` (a markup, other accounting).
    billed_cost: float | None = None
    # Why a client-side routing preset (@my-fastest...) chose the provider, for the provenance.
    routing_note: str | None = None

    @property
    def is_failed(self) -> bool:
        """True for a reply that ended in an error."""
        return self.outcome is Outcome.ERROR

    @property
    def is_unfinished(self) -> bool:
        """True for a reply that failed or was cut: not resent, and it can be retried."""
        return self.outcome in (Outcome.ERROR, Outcome.CUT)

    # The reply's own clock readings (seconds, on whatever monotonic clock the caller uses): set
    # by ``begin``, read by ``apply`` and ``end``. Not saved; the figures derived from them are.
    started_at: float | None = field(default=None, repr=False, compare=False)
    # ``completion_tokens`` was counted from the text (about four characters a token) because the
    # gateway reported no usage; the figure is then an estimate and shown as one (and saved so).
    tokens_estimated: bool = False

    def begin(self, now: float) -> None:
        """The request for this reply is being sent at ``now`` (seconds on the caller's clock)."""
        self.started_at = now

    def apply(self, event: StreamEvent, now: float | None = None) -> None:
        """Fold one stream event into this (assistant) message.

        ``now`` (seconds, the clock given to ``begin``) times the first text when the gateway
        does not report a time to first token itself.
        """
        if isinstance(event, TextDelta):
            if self.ttft_ms is None and now is not None and self.started_at is not None:
                self.ttft_ms = (now - self.started_at) * 1000
            self.content += event.text
        elif isinstance(event, ServedEndpoint):
            self.served_endpoint = event.endpoint
        elif isinstance(event, Usage):
            self.prompt_tokens = event.prompt_tokens
            self.completion_tokens = event.completion_tokens
            self.tokens_estimated = event.estimated and event.completion_tokens is not None
            self.cost = event.cost
            self.cost_estimated = event.estimated
        elif isinstance(event, Done):
            self.outcome = outcome_of_finish(event.finish_reason)
            # The gateway's own timings, measured at the wire, win over the caller's clock.
            if event.ttft_ms is not None:
                self.ttft_ms = event.ttft_ms
            if event.duration_ms is not None:
                self.duration_ms = event.duration_ms
        elif isinstance(event, StreamError):
            cut = self.content and getattr(event.error, "cuts_reply", False)
            self.outcome = Outcome.CUT if cut else Outcome.ERROR
            self.error = str(event.error)

    @property
    def spend(self) -> Spend:
        """This reply's cost as shown: the figure, "~" if estimated, "–" if unknown."""
        return Spend(self.cost, estimated=self.cost_estimated)

    @property
    def output_tokens(self) -> int:
        """Completion tokens so far: the reported count, else an estimate from the text."""
        if self.completion_tokens is not None:
            return self.completion_tokens
        return estimate_tokens(self.content)

    def live_tokens_per_second(self, now: float) -> float | None:
        """While streaming: tokens so far over the time since the first one (None too early)."""
        if self.started_at is None or self.ttft_ms is None:
            return None
        streaming_s = now - self.started_at - self.ttft_ms / 1000
        if streaming_s <= 0.05:  # a rate over a few milliseconds says nothing
            return None
        return self.output_tokens / streaming_s

    def end(self, now: float) -> None:
        """The stream is over (finished, failed, stopped or cut) at ``now``: fill in what the
        gateway did not report: the duration, and the completion tokens (marked estimated)."""
        if self.duration_ms is None and self.started_at is not None:
            self.duration_ms = (now - self.started_at) * 1000
        if self.completion_tokens is None and self.content:
            self.completion_tokens = estimate_tokens(self.content)
            self.tokens_estimated = True

    @property
    def tokens_per_second(self) -> float | None:
        """Completion tokens over the time after the first token, when both are known."""
        if not self.completion_tokens or not self.duration_ms:
            return None
        streaming_ms = self.duration_ms - (self.ttft_ms or 0.0)
        if streaming_ms <= 0:
            return None
        return self.completion_tokens / (streaming_ms / 1000.0)

    def end_unfinished(self) -> None:
        """The stream ended with neither a finish nor an error (a gateway that broke the
        events' contract): no finish seen means the reply did not finish."""
        if self.outcome is None:
            self.outcome = Outcome.CUT if self.content else Outcome.ERROR
            self.error = self.error or "The stream ended before the reply finished."

    def mark_stopped(self) -> None:
        """The user stopped the reply: keep what arrived, unless it already ended."""
        if self.outcome is None:
            self.outcome = Outcome.STOPPED


@dataclass
class Conversation:
    """The history of one chat, in order, plus an optional system prompt."""

    messages: list[Message] = field(default_factory=list)
    system_prompt: str | None = None

    def add_user(self, text: str) -> Message:
        """Append what the user typed and return it."""
        message = Message(role="user", content=text)
        self.messages.append(message)
        return message

    def start_reply(self, requested_endpoint: str, gateway: str | None = None) -> Message:
        """Append an empty assistant message for a reply about to stream through ``gateway``
        (a profile name), and return it."""
        message = Message(
            role="assistant", content="", requested_endpoint=requested_endpoint, gateway=gateway
        )
        self.messages.append(message)
        return message

    def api_messages(self) -> list[dict[str, str]]:
        """The ``messages`` to send: the system prompt, then every turn that is not failed."""
        sent: list[dict[str, str]] = []
        if self.system_prompt:
            sent.append({"role": "system", "content": self.system_prompt})
        for message in self._resendable():
            sent.append({"role": message.role, "content": message.content})
        return sent

    def _resendable(self) -> Iterator[Message]:
        skipped: set[int] = set()
        for index, message in enumerate(self.messages):
            if message.role == "assistant" and message.is_unfinished:
                skipped.add(index)
                # The user message this reply answered: the nearest one before it.
                for earlier in range(index - 1, -1, -1):
                    if self.messages[earlier].role == "assistant":
                        break
                    if self.messages[earlier].role == "user":
                        skipped.add(earlier)
                        break
        for index, message in enumerate(self.messages):
            if index in skipped:
                continue
            if message.role == "assistant" and not message.content:
                continue
            yield message

    @property
    def total_cost(self) -> float:
        """Credits (USD) spent on every reply so far, as reported (or estimated) per reply."""
        costs = (m.cost for m in self.messages if m.role == "assistant" and m.cost is not None)
        return sum(costs, 0.0)

    @property
    def spend(self) -> Spend:
        """The conversation's spend as shown: the sum of the known costs, marked when it holds an
        estimate or misses a reply with text whose cost is unknown; unknown ("–") when replies
        came and none has a figure; 0 with no replies."""
        replies = [m for m in self.messages if m.role == "assistant" and m.outcome is not None]
        known = [m.cost for m in replies if m.cost is not None]
        unknown = any(m.cost is None and m.content for m in replies)
        if not known:
            return Spend(None if unknown else 0.0)
        estimated = any(m.cost_estimated for m in replies if m.cost is not None)
        return Spend(sum(known, 0.0), estimated=estimated, partial=unknown)

    @property
    def last_reply(self) -> Message | None:
        """The most recent assistant message, if any."""
        for message in reversed(self.messages):
            if message.role == "assistant":
                return message
        return None

    def clear(self) -> None:
        """Forget every message; the system prompt stays."""
        self.messages.clear()
