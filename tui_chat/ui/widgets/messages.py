"""The pieces of the chat log: a user turn, a streaming reply, a model-switch marker, an error card.

Everything that came from a model, a server or the user is shown as data (``Content`` built from
plain text), never parsed as markup.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.widgets import Button, Static

from tui_chat.core.accounting import format_credits
from tui_chat.core.billing import differs
from tui_chat.core.conversation import Message, Outcome
from tui_chat.core.text import inert
from tui_chat.ui.widgets.markdown_stream import StreamingMarkdown


def provenance_text(
    message: Message,
    *,
    show_credits: bool,
    show_provider: bool,
    alternate: tuple[int, int] | None = None,
) -> str:
    """The quiet line under a reply: which alternate it is ("2/3", when there are several),
    endpoint, tokens, cost, time to first token, speed."""
    parts: list[str] = []
    if alternate is not None and alternate[1] > 1:
        parts.append(f"{alternate[0]}/{alternate[1]}")
    if show_provider:
        parts.append(message.served_endpoint or message.requested_endpoint or "unknown endpoint")
        if message.routing_note:  # why @my-fastest... chose that provider
            parts.append(message.routing_note)
    if message.completion_tokens is not None:
        # "~": counted from the text because the gateway reported no usage
        estimated = "~" if message.tokens_estimated else ""
        parts.append(f"{estimated}{message.completion_tokens} tok")
    if show_credits and message.cost is not None:
        parts.append(f"{message.spend} credits")  # "~" marks an estimate
        if differs(message.cost, message.billed_cost):  # the balance fell by another figure
            parts.append(f"billed {format_credits(message.billed_cost)}")
    if message.ttft_ms is not None:
        parts.append(f"TTFT {message.ttft_ms:.0f} ms")
    speed = message.tokens_per_second
    if speed is not None:
        parts.append(f"{speed:.0f} tok/s")
    if message.outcome is Outcome.STOPPED:
        parts.append("stopped")
    elif message.outcome is Outcome.ERROR and message.content:
        parts.append("incomplete: the reply failed (not resent as context)")
    elif message.outcome is Outcome.CUT:
        parts.append(f"incomplete: {message.outcome.words} (not resent as context)")
    elif message.outcome in (Outcome.LENGTH, Outcome.FILTERED):
        parts.append(f"incomplete: {message.outcome.words}")
    return " · ".join(parts)


def outcome_class(outcome: Outcome | None) -> str:
    """The CSS class of a reply that ended so: ``-stopped``, ``-failed`` (failed or cut),
    ``-incomplete`` (token limit, filter), or "" (complete, or still streaming)."""
    if outcome is Outcome.STOPPED:
        return "-stopped"
    if outcome in (Outcome.ERROR, Outcome.CUT):
        return "-failed"
    if outcome in (Outcome.LENGTH, Outcome.FILTERED):
        return "-incomplete"
    return ""


class UserTurn(Static):
    """What the user sent, shown verbatim."""

    ALLOW_SELECT = True

    def __init__(self, text: str, alternate: tuple[int, int] | None = None) -> None:
        shown = Content(inert(text))
        if alternate is not None and alternate[1] > 1:
            # Which edit of this message is shown; alt+left / alt+right flip them.
            marker = Content.styled(f"  {alternate[0]}/{alternate[1]}", "dim")
            shown = Content.assemble(shown, marker)
        super().__init__(shown, classes="user-turn")
        self.text = text
        self.alternate = alternate


class ReplyView(Vertical):
    """One assistant reply: the streaming Markdown body and its provenance line."""

    def __init__(
        self, message: Message, *, streaming: bool, alternate: tuple[int, int] | None = None
    ) -> None:
        super().__init__(classes="reply")
        self.message = message
        self.alternate = alternate  # (n, count): "2/3" in the provenance line when count > 1
        self.body = StreamingMarkdown(message.content, streaming=streaming)
        self.provenance = Static("", classes="provenance")
        if streaming:
            self.add_class("-streaming")

    def compose(self) -> ComposeResult:
        yield self.body
        yield self.provenance

    def append(self, text: str) -> None:
        self.body.append(text)

    def set_hold(self, hold: bool) -> None:
        self.body.hold = hold

    def finish(self, *, show_credits: bool, show_provider: bool) -> None:
        self.body.finish()
        self.remove_class("-streaming")
        self.show_ending()
        self.refresh_provenance(show_credits=show_credits, show_provider=show_provider)

    def show_ending(self) -> None:
        """Style the reply by how it ended (its border: stopped, failed or cut, incomplete)."""
        ending = outcome_class(self.message.outcome)
        if ending:
            self.add_class(ending)

    def set_note(self, text: str) -> None:
        """A line under a reply that is still on its way (e.g. a retry countdown)."""
        self.provenance.update(Content(inert(text)))
        self.provenance.display = bool(text)

    def refresh_provenance(self, *, show_credits: bool, show_provider: bool) -> None:
        text = provenance_text(
            self.message,
            show_credits=show_credits,
            show_provider=show_provider,
            alternate=self.alternate,
        )
        self.provenance.update(Content(inert(text)))
        self.provenance.display = bool(text)


class ModelMarker(Static):
    """A divider in the log where the model changed; history carries on across it."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(Content(f"── model: {inert(endpoint)} ──"), classes="model-marker")
        self.endpoint = endpoint


class ErrorCard(Vertical):
    """A failure, inline in the log: what happened in plain words, and a retry button."""

    @dataclass
    class RetryRequested(TextualMessage):
        card: ErrorCard

    @dataclass
    class ContinueRequested(TextualMessage):
        """Continue pressed under a reply that reached the token limit."""

        card: ErrorCard

    @dataclass
    class KeyRequested(TextualMessage):
        """ "Enter API key" pressed under a refused key (401/403)."""

        card: ErrorCard

    def __init__(
        self,
        title: str,
        detail: str,
        *,
        can_retry: bool = True,
        can_continue: bool = False,
        can_enter_key: bool = False,
    ) -> None:
        super().__init__(classes="error-card")
        self.title = title
        self.detail = detail
        self.can_retry = can_retry
        self.can_continue = can_continue
        self.can_enter_key = can_enter_key

    def compose(self) -> ComposeResult:
        yield Static(Content(inert(self.title)), classes="error-title")
        if self.detail:
            yield Static(Content(inert(self.detail)), classes="error-detail")
        if self.can_retry or self.can_continue or self.can_enter_key:
            with Horizontal(classes="error-actions"):
                if self.can_continue:
                    yield Button("Continue", id="continue", variant="primary", compact=True)
                if self.can_enter_key:
                    yield Button("Enter API key", id="enter-key", variant="primary", compact=True)
                if self.can_retry:
                    yield Button("Retry", id="retry", variant="error", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "retry":
            event.stop()
            self.post_message(self.RetryRequested(self))
        elif event.button.id == "continue":
            event.stop()
            self.post_message(self.ContinueRequested(self))
        elif event.button.id == "enter-key":
            event.stop()
            self.post_message(self.KeyRequested(self))


class Notice(Static):
    """A one-line notice from the app itself (start-up hints, missing key)."""

    def __init__(self, text: str) -> None:
        super().__init__(Content(inert(text)), classes="notice")
