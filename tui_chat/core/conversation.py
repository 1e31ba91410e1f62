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

A conversation is a tree of messages. ``Conversation.messages`` is the branch on screen, from the
root to a leaf: what is shown and what is resent. The other messages at a position of that branch
are its *alternates* (siblings: the same parent): regenerating a reply adds a sibling reply to the
same user message, editing a user message adds a sibling user message (a new branch from its
parent), a comparison adds several sibling replies at once. Each message keeps its own
provenance. Every reply of every branch was paid for, so ``spend`` and ``total_cost`` count them
all. Which child of a message is shown is the one with the highest ``shown_rank`` (ties: the
newest): each change of branch stamps the new branch with a higher rank, so flipping back to an
earlier message continues along the descendants shown most recently below it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
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


class _Node:
    """One message in the tree (the root has none), its children in creation order."""

    __slots__ = ("children", "message", "parent", "rank")

    def __init__(self, message: Message | None, parent: _Node | None, rank: int) -> None:
        self.message = message
        self.parent = parent
        self.children: list[_Node] = []
        self.rank = rank

    def shown_child(self) -> _Node | None:
        """The child shown most recently: the highest rank, the newest of equal ranks."""
        best: _Node | None = None
        for child in self.children:
            if best is None or child.rank >= best.rank:
                best = child
        return best


@dataclass
class Conversation:
    """The history of one chat, plus an optional system prompt.

    ``messages`` is the branch on screen (root to leaf, in order); the tree behind it holds every
    alternate. Code may still append to or remove from ``messages`` directly (a new message goes
    below the one before it; a removed message leaves the tree): the tree catches up before each
    tree operation.
    """

    messages: list[Message] = field(default_factory=list)
    system_prompt: str | None = None
    _root: _Node = field(init=False, repr=False, compare=False)
    _nodes: dict[int, _Node] = field(init=False, repr=False, compare=False)
    _synced: list[Message] = field(init=False, repr=False, compare=False)
    _rank: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        self._root = _Node(None, None, 0)
        self._nodes = {}
        self._synced = []

    # -- the tree --------------------------------------------------------------------------

    def _sync(self) -> None:
        """Bring the tree in line with ``messages`` after direct edits of the list."""
        branch = self.messages
        synced = self._synced
        if len(branch) == len(synced) and all(a is b for a, b in zip(branch, synced, strict=True)):
            return
        on_branch = {id(message) for message in branch}
        for gone in synced:
            if id(gone) not in on_branch:
                self._drop(gone)
        parent = self._root
        for message in branch:
            node = self._nodes.get(id(message))
            if node is None or node.message is not message:
                node = _Node(message, parent, self._rank)
                parent.children.append(node)
                self._nodes[id(message)] = node
            elif node.parent is not parent:
                self._detach(node)
                node.parent = parent
                parent.children.append(node)
            if parent.shown_child() is not node:
                node.rank = self._rank = self._rank + 1
            parent = node
        self._synced = list(branch)

    def _detach(self, node: _Node) -> None:
        if node.parent is not None and node in node.parent.children:
            node.parent.children.remove(node)

    def _drop(self, message: Message) -> None:
        """Forget a message removed from the branch, with everything below it."""
        node = self._nodes.get(id(message))
        if node is None or node.message is not message:
            return
        self._detach(node)
        stack = [node]
        while stack:
            current = stack.pop()
            if current.message is not None:
                self._nodes.pop(id(current.message), None)
            stack.extend(current.children)

    def _node(self, message: Message) -> _Node:
        self._sync()
        node = self._nodes.get(id(message))
        if node is None or node.message is not message:
            raise ValueError("the message is not in this conversation")
        return node

    def _show(self, node: _Node) -> None:
        """Make the branch on screen go through ``node`` and on along the descendants shown
        most recently; the new branch is stamped with a new rank."""
        self._rank += 1
        path: list[_Node] = []
        current: _Node | None = node
        while current is not None and current.message is not None:
            path.append(current)
            current = current.parent
        path.reverse()
        below = node.shown_child()
        while below is not None:
            path.append(below)
            below = below.shown_child()
        for step in path:
            step.rank = self._rank
        self.messages[:] = [step.message for step in path if step.message is not None]
        self._synced = list(self.messages)

    def alternates(self, message: Message) -> list[Message]:
        """``message`` and its siblings (the same parent), in creation order."""
        node = self._node(message)
        assert node.parent is not None
        return [child.message for child in node.parent.children if child.message is not None]

    def alternate_position(self, message: Message) -> tuple[int, int]:
        """``(n, count)``: ``message`` is alternate n (from 1) of ``count`` ("2/3")."""
        siblings = self.alternates(message)
        index = next(i for i, sibling in enumerate(siblings) if sibling is message)
        return index + 1, len(siblings)

    def parent_of(self, message: Message) -> Message | None:
        """The message ``message`` follows (None for the first of a branch)."""
        node = self._node(message)
        return node.parent.message if node.parent is not None else None

    def branch_point(self, message: Message) -> int:
        """The position (index into a branch's ``messages``) where ``message`` and its
        alternates sit: the number of messages before it on its branch."""
        node = self._node(message)
        depth = 0
        current = node.parent
        while current is not None and current.message is not None:
            depth += 1
            current = current.parent
        return depth

    def add_alternate(self, of: Message, new: Message) -> None:
        """Add ``new`` as the newest sibling of ``of`` (same parent) and show the branch
        through it (``new`` has nothing below it yet: the branch ends there)."""
        node = self._node(of)
        assert node.parent is not None
        if id(new) in self._nodes:
            raise ValueError("the new alternate is already in this conversation")
        child = _Node(new, node.parent, self._rank)
        node.parent.children.append(child)
        self._nodes[id(new)] = child
        self._show(child)

    def start_alternate(
        self, of: Message, requested_endpoint: str, gateway: str | None = None
    ) -> Message:
        """An empty reply to ``of``'s parent beside ``of`` (regenerate, compare), shown."""
        reply = Message(
            role="assistant", content="", requested_endpoint=requested_endpoint, gateway=gateway
        )
        self.add_alternate(of, reply)
        return reply

    def show_alternate(self, message: Message) -> None:
        """Show the branch through ``message``, continuing along the descendants shown most
        recently below it."""
        self._show(self._node(message))

    def attach(self, message: Message, parent: Message | None, shown_rank: int = 0) -> None:
        """Put a loaded ``message`` in the tree below ``parent`` (None: a first message),
        with its saved rank; parents before children, siblings in creation order. The branch
        on screen is not changed: call ``show_saved_branch()`` once all are attached."""
        self._sync()
        under = self._root if parent is None else self._node(parent)
        node = _Node(message, under, shown_rank)
        under.children.append(node)
        self._nodes[id(message)] = node
        self._rank = max(self._rank, shown_rank)

    def show_saved_branch(self) -> None:
        """Show the branch of the highest ranks from the root (after ``attach``)."""
        first = self._root.shown_child()
        if first is None:
            self.messages.clear()
            self._synced = []
            return
        path: list[Message] = []
        node: _Node | None = first
        while node is not None:
            assert node.message is not None
            path.append(node.message)
            node = node.shown_child()
        self.messages[:] = path
        self._synced = list(path)

    def shown_rank(self, message: Message) -> int:
        """The rank saved with ``message``: the higher, the more recently it was shown."""
        return self._node(message).rank

    def all_messages(self) -> list[Message]:
        """Every message of every branch, parents before children, depth first, siblings in
        creation order."""
        self._sync()
        found: list[Message] = []
        stack = list(reversed(self._root.children))
        while stack:
            node = stack.pop()
            if node.message is not None:
                found.append(node.message)
            stack.extend(reversed(node.children))
        return found

    def snapshot(self) -> Conversation:
        """A copy of every branch (each message copied), the same branch on screen: for a
        thread to read while this one goes on changing."""
        copy = Conversation(system_prompt=self.system_prompt)
        copies: dict[int, Message] = {}
        for message in self.all_messages():
            parent = self.parent_of(message)
            copies[id(message)] = duplicate = replace(message)
            under = None if parent is None else copies[id(parent)]
            copy.attach(duplicate, under, self.shown_rank(message))
        copy.show_saved_branch()
        return copy

    @property
    def has_alternates(self) -> bool:
        """True when some message has a sibling (the tree is more than the branch)."""
        self._sync()
        return len(self._nodes) > len(self.messages)

    # -- the branch on screen -------------------------------------------------------------

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
        """Credits (USD) spent on every reply so far, of every branch, as reported (or
        estimated) per reply."""
        every = self.all_messages()
        costs = (m.cost for m in every if m.role == "assistant" and m.cost is not None)
        return sum(costs, 0.0)

    @property
    def spend(self) -> Spend:
        """The conversation's spend as shown: the sum of the known costs, marked when it holds an
        estimate or misses a reply with text whose cost is unknown; unknown ("–") when replies
        came and none has a figure; 0 with no replies. Every branch counts: the gateway charged
        for each alternate (``branch_spend`` is the branch on screen alone)."""
        return _spend_of(self.all_messages())

    @property
    def branch_spend(self) -> Spend:
        """The spend of the branch on screen alone (as ``spend``)."""
        return _spend_of(self.messages)

    @property
    def last_reply(self) -> Message | None:
        """The most recent assistant message of the branch on screen, if any."""
        for message in reversed(self.messages):
            if message.role == "assistant":
                return message
        return None

    def clear(self) -> None:
        """Forget every message of every branch; the system prompt stays."""
        self.messages.clear()
        self.__post_init__()


def _spend_of(messages: list[Message]) -> Spend:
    replies = [m for m in messages if m.role == "assistant" and m.outcome is not None]
    known = [m.cost for m in replies if m.cost is not None]
    unknown = any(m.cost is None and m.content for m in replies)
    if not known:
        return Spend(None if unknown else 0.0)
    estimated = any(m.cost_estimated for m in replies if m.cost is not None)
    return Spend(sum(known, 0.0), estimated=estimated, partial=unknown)
