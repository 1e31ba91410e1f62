"""The reply in flight: one streamer from the prompt to the provenance line.

``ReplyStreamer.send`` checks what would refuse a message, shows it and starts one exclusive
async worker (group ``"reply"``) that consumes the gateway's typed events with one ``match``.
The core ``Message`` folds every event (``Message.apply``) and holds every figure: times on the
app's one clock, tokens from the gateway's usage or a marked estimate. The live spend is
estimated here, from that message and the served endpoint's prices (``core.accounting``); the
status bar only shows it. When the stream is over the streamer posts ``ReplyFinished``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Protocol

from textual.message import Message as TextualMessage

from tui_chat.core.accounting import estimate_cost, estimate_reply_cost, estimate_tokens_for_chars
from tui_chat.core.conversation import Conversation, Message, Outcome
from tui_chat.core.endpoint import provider_of
from tui_chat.core.events import Retrying, ServedEndpoint, StreamError, TextDelta
from tui_chat.core.my_routing import RoutingChoice, preset_of
from tui_chat.gateways.errors import ConnectionFailed
from tui_chat.ui.host import AppHost

if TYPE_CHECKING:
    from textual.timer import Timer

    from tui_chat.gateways.base import Gateway
    from tui_chat.ui.account_watch import AccountWatch
    from tui_chat.ui.widgets.budget_card import BudgetCard
    from tui_chat.ui.widgets.messages import ErrorCard, ReplyView

LIVE_TICK_S = 0.1  # the live figures in the status bar tick about ten times a second

PREPARE_AGAIN_S = 30.0
"""Typing in the prompt opens the gateway's connection again when it was last used (a reply or
a prepare) longer ago than this, in seconds: an idle connection may have been closed since."""

QUIET_AFTER_S = 3.0
"""Seconds with nothing from the gateway before the reply says it is waiting, counting."""

CONTINUE_PROMPT = "Continue exactly where your last reply stopped, without repeating any of it."
"""The turn sent by Continue under a reply that reached the token limit."""


class ReplyFinished(TextualMessage):
    """A reply's stream is over: finished, failed or stopped (``message.outcome`` says which)."""

    def __init__(self, message: Message) -> None:
        super().__init__()
        self.message = message


class HttpStackLoaded(TextualMessage):
    """The warm-up thread has loaded the HTTP client stack: the gateway can be prepared now
    (``ReplyStreamer.prepare``) without blocking the event loop on imports."""


class ReplySaving(Protocol):
    """What the streamer needs of the saved conversations (``SavedConversations``)."""

    def message_added(self, message: Message) -> None: ...

    def message_changed(self, message: Message, *, final: bool = False) -> None: ...

    def message_removed(self, message: Message) -> None: ...

    def spend_cap_problem(self, next_prompt: float | None = None) -> str | None: ...


class ReplySpending(Protocol):
    """What the streamer needs of the spend watch (``SpendWatch``): the budgets' refusal, the
    replies' times for billed vs reported, and the routing presets resolved."""

    def budget_problem(self, next_prompt: float | None = None) -> str | None: ...

    def allow_once(self) -> None: ...

    def reply_started(self, reply: Message) -> None: ...

    def reply_removed(self, reply: Message) -> None: ...

    def route(self, endpoint: str) -> RoutingChoice | None: ...


class ReplyHost(AppHost, Protocol):
    """What the streamer needs of the app."""

    gateway: Gateway | None
    conversation: Conversation
    endpoint: str
    temperature: float | None
    max_tokens: int | None
    clock: Callable[[], float]
    startup_problem: str | None
    paused: bool
    streaming: bool
    show_credits: bool
    show_provider: bool
    gateway_label: str

    @property
    def profile_name(self) -> str | None: ...

    def endpoint_problem(self, endpoint: str) -> str | None: ...


class ReplyStreamer:
    """Sends the prompt, streams the reply into the log, and finishes it with its figures."""

    def __init__(
        self,
        host: ReplyHost,
        *,
        saving: ReplySaving,
        account: AccountWatch,
        spending: ReplySpending | None = None,
    ) -> None:
        self.host = host
        self.saving = saving
        self.account = account
        self.spending = spending
        self._refused: tuple[str, bool] | None = None  # a send refused at a budget: its text
        # The reply streaming now (or held on screen while paused after it ended).
        self.message: Message | None = None
        self.view: ReplyView | None = None
        self._failed_prompt: str | None = None  # back to the box if the reply fails
        self._live = False  # text has arrived and the stream is still open
        self._prompt_chars = 0  # the length of what was sent, for the live estimate
        self._live_estimate: float | None = None  # the estimate last put on the live reply
        # The automatic retry being waited for (gateways.retry), and its deadline on the clock.
        self._retry_wait: tuple[Retrying, float] | None = None
        self._retry_timer: Timer | None = None
        # When the last event came (the clock), and whether the reply says it is waiting.
        self._last_event_at = 0.0
        self._quiet_timer: Timer | None = None
        self._quiet_shown = False
        # The gateway last used (a prepare or a reply) and when, on time.monotonic().
        self._contact: tuple[object, float] | None = None
        # An earlier user message being edited (ui/branches.py): the next message sent is a
        # new branch beside it instead of a turn at the end.
        self.editing: Message | None = None

    @property
    def live_reply(self) -> Message | None:
        """The reply whose stream is open, if any (saved as it is when the app quits)."""
        return self.message if self._live else None

    # -- sending ----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Get the gateway ready for the next message, before it is sent: build its HTTP client
        and open a connection (``StreamingGateway.prepare``), in a worker. The app calls it
        after its warm-up and as the user types; it does nothing while a reply streams or when
        the gateway was used in the last PREPARE_AGAIN_S seconds."""
        host = self.host
        gateway = host.gateway
        prepare = getattr(gateway, "prepare", None)
        now = time.monotonic()
        if prepare is None or host.streaming:
            return
        contact = self._contact
        if contact is not None and contact[0] is gateway and now - contact[1] < PREPARE_AGAIN_S:
            return
        self._contact = (gateway, now)
        # (the function, not a coroutine made now: one never started, the app quitting first,
        # was never awaited)
        host.run_worker(prepare, group="prepare", exclusive=True, exit_on_error=False)

    def send(self, text: str) -> None:
        """Send a prompt. On any refusal the typed text stays in the box."""
        self._send(text, typed=True)

    def _send(self, text: str, *, typed: bool) -> bool:
        """Send `text` as the next turn (`typed`: from the prompt box, which is then cleared);
        False if it was refused (and said why)."""
        host = self.host
        if host.streaming:
            host.notify(
                "A reply is still arriving: press esc to stop it, or wait.", severity="warning"
            )
            return False
        host.paused = False
        if host.gateway is None:
            host.chat_log.add_error(
                "No gateway to send to", host.startup_problem or "No API key set.", can_retry=False
            )
            return False
        over_cap = self.saving.spend_cap_problem(self._prompt_estimate(text))
        if over_cap:
            host.notify(over_cap, title="Spend cap reached", severity="warning")
            return False
        over_budget = (
            None
            if self.spending is None
            else self.spending.budget_problem(self._prompt_estimate(text))
        )
        if over_budget:
            # The typed text stays in the box; "Send anyway" on the card sends it once.
            from tui_chat.ui.widgets.budget_card import BudgetCard

            self._refused = (text, typed)
            for earlier in host.chat_log.query(BudgetCard):
                earlier.remove()  # one refusal on screen: the latest
            host.chat_log.mount(BudgetCard(over_budget))
            host.chat_log.anchor()
            return False
        problem = host.endpoint_problem(host.endpoint)
        if problem is not None:
            host.chat_log.add_error("The model string is not valid", problem, can_retry=False)
            return False
        if typed:
            host.prompt.remember(text)
            host.prompt.take_sent(text)
        user_message = self._add_user(text)
        self.saving.message_added(user_message)
        host.chat_log.add_user(text, user_message)
        host.chat_log.anchor()
        self._begin(text)
        return True

    def _add_user(self, text: str) -> Message:
        """The user's turn: at the end, or (editing) a new branch beside the edited message,
        the log rebuilt from the branch up to it."""
        host = self.host
        conversation = host.conversation
        edited, self.editing = self.editing, None
        if edited is None or not any(shown is edited for shown in conversation.messages):
            return conversation.add_user(text)
        message = Message(role="user", content=text)
        conversation.add_alternate(edited, message)
        host.chat_log.show_branch(
            conversation.messages[:-1],
            show_credits=host.show_credits,
            show_provider=host.show_provider,
        )
        return message

    def regenerate(self, of: Message) -> bool:
        """Ask again for the reply ``of`` on the endpoint in use: a new alternate beside it
        (``of`` is kept); False if refused (and said why)."""
        host = self.host
        if host.streaming:
            host.notify("A reply is still arriving: press esc to stop it, or wait.")
            return False
        if host.gateway is None:
            host.notify(host.startup_problem or "No API key set.", severity="warning")
            return False
        problem = host.endpoint_problem(host.endpoint)
        if problem is not None:
            host.notify(problem, title="The model string is not valid", severity="warning")
            return False
        parent = host.conversation.parent_of(of)
        host.paused = False
        self._begin(parent.content if parent is not None else "", alternate_of=of)
        return True

    def send_anyway(self, card: BudgetCard) -> None:
        """ "Send anyway" on a budget refusal: send what was refused, past the budgets once."""
        refused, self._refused = self._refused, None
        card.remove()
        if refused is None or self.spending is None:
            return
        text, typed = refused
        if typed and self.host.prompt.text.strip() and self.host.prompt.text != text:
            text = self.host.prompt.text  # edited since: what is in the box now
        self.spending.allow_once()
        self._send(text, typed=typed)

    def retry(self, card: ErrorCard) -> None:
        """Send the failed turn again: drop the failed reply, keep the user's message."""
        host = self.host
        if host.streaming:
            return
        conversation = host.conversation
        last = conversation.last_reply
        if last is None or not last.is_unfinished:
            card.remove()
            return
        conversation.messages.remove(last)
        self.saving.message_removed(last)
        if self.spending is not None:
            self.spending.reply_removed(last)
        for view in host.chat_log.replies:
            if view.message is last:
                view.remove()
        card.remove()
        user = conversation.messages[-1] if conversation.messages else None
        if user is not None and user.role == "user":
            if host.prompt.text == user.content:
                host.prompt.clear()
            self._begin(user.content)

    def continue_reply(self, card: ErrorCard | None) -> None:
        """Ask the model to go on from a reply that reached the token limit: a new turn that
        says so (shown, saved and resent like any other), answered by the same endpoint."""
        if self.host.streaming:
            self.host.notify("A reply is still arriving.", severity="warning", timeout=2)
            return
        last = self.host.conversation.last_reply
        if last is None or last.outcome is not Outcome.LENGTH:
            if card is not None:
                card.remove()
            return
        if self._send(CONTINUE_PROMPT, typed=False) and card is not None:
            card.remove()

    def _begin(self, prompt_text: str, *, alternate_of: Message | None = None) -> None:
        host = self.host
        # The profile's name, as the spend screen groups replies by ("unify", a [gateways.X]).
        gateway = host.profile_name or host.gateway_label
        if alternate_of is not None:  # regenerate: a sibling of the earlier reply
            reply = host.conversation.start_alternate(alternate_of, host.endpoint, gateway)
        else:
            reply = host.conversation.start_reply(host.endpoint, gateway=gateway)
        self.saving.message_added(reply)
        view = host.chat_log.add_reply(reply, streaming=True)
        self.message, self.view = reply, view
        self._failed_prompt = prompt_text
        if self.spending is not None:
            self.spending.reply_started(reply)
        host.run_worker(self._stream(reply, view), exclusive=True, group="reply")

    # -- the stream -------------------------------------------------------------------------

    async def _stream(self, reply: Message, view: ReplyView) -> None:
        """Consume the gateway's events for one reply and show them as they come."""
        host = self.host
        gateway = host.gateway
        assert gateway is not None  # send() refuses without one
        host.streaming = True
        status = host.status
        status.speed = None
        status.live_cost = None  # until the prices give an estimate ("–" meanwhile)
        status.live = True
        clock = host.clock
        messages = host.conversation.api_messages()
        self._prompt_chars = sum(len(m.get("content", "")) for m in messages)
        self._live_estimate = None
        reply.begin(clock())
        last_tick = 0.0
        error: BaseException | None = None
        self._last_event_at = clock()
        self._quiet_timer = host.set_interval(0.5, partial(self._tick_quiet, view))
        try:
            view.set_hold(host.paused)
            endpoint = reply.requested_endpoint or host.endpoint
            if self.spending is not None and preset_of(endpoint) is not None:
                # @my-fastest...: a concrete endpoint from the user's own replies (a read of
                # the store, in a thread), or the gateway's own routing without the history.
                choice = await asyncio.to_thread(self.spending.route, endpoint)
                if choice is not None:
                    endpoint, reply.routing_note = choice.endpoint, choice.note
            async for event in gateway.stream_chat(
                endpoint,
                messages,
                temperature=host.temperature,
                max_tokens=host.max_tokens,
            ):
                now = clock()
                reply.apply(event, now)
                self._last_event_at = now
                if self._quiet_shown:
                    self._quiet_shown = False
                    view.set_note("")
                if self._retry_wait is not None and not isinstance(event, Retrying):
                    self._clear_retry(view)
                match event:
                    case Retrying():
                        self._show_retry(event, view)
                    case TextDelta(text=text):
                        self._live = True
                        view.append(text)
                        self.saving.message_changed(reply)  # throttled: saved at most once a second
                        if now - last_tick > LIVE_TICK_S:
                            last_tick = now
                            self.tick_live()
                    case ServedEndpoint(endpoint=endpoint):
                        status.served_endpoint = endpoint
                        if endpoint not in self.account.details:
                            self.account.load_details(endpoint)
                    case StreamError(error=failure):
                        error = failure
                    case _:
                        pass  # Usage and Done: folded into the message above
            reply.end_unfinished()  # (only if the gateway sent neither Done nor StreamError)
        except asyncio.CancelledError:
            reply.mark_stopped()
            raise
        except Exception as unexpected:  # a bug must not take the user's session down
            error = unexpected
            reply.outcome = Outcome.ERROR
            reply.error = f"Unexpected error: {type(unexpected).__name__}: {unexpected}"
        finally:
            self._clear_retry(view)
            self._stop_quiet_timer()
            self._live = False
            reply.end(clock())
            if host.is_running and view.is_attached:  # not while the app shuts down
                self._finish(reply, view, error)
            else:
                self.saving.message_changed(reply, final=True)

    def _prompt_estimate(self, text: str) -> float | None:
        """Credits the next request's prompt (the history resent, then ``text``) would cost at
        the endpoint's input price; None when that price is not known (a routing mode)."""
        host = self.host
        details = self.account.details.get(host.endpoint)
        if details is None or details.input_cost is None:
            return None
        chars = sum(len(m["content"]) for m in host.conversation.api_messages()) + len(text)
        return estimate_cost(estimate_tokens_for_chars(chars), 0, details.input_cost, 0.0)

    def estimated_cost(self, reply: Message) -> float | None:
        """The reply's cost estimated from its served endpoint's prices, else those of the
        concrete endpoint it was sent to (None: unknown, e.g. a routing mode not yet served)."""
        details = self.account.details.get(reply.served_endpoint or "")
        if details is None and reply.requested_endpoint:
            details = self.account.details.get(reply.requested_endpoint)
        if details is None:
            return None
        return estimate_reply_cost(self._prompt_chars, reply.output_tokens, details)

    def tick_live(self) -> None:
        """Update the live spend estimate and speed of the reply that is streaming."""
        reply = self.live_reply
        if reply is None:
            return
        status = self.host.status
        estimate = self.estimated_cost(reply)
        if estimate is not None:
            status.live_cost = estimate
            if reply.cost is None or reply.cost_estimated:
                # Kept on the reply (marked) and so in its saves while it streams: a reply
                # whose app is killed still has its estimate when it is reopened, and the
                # conversation's total counts it (the gateway charged for it).
                reply.cost, reply.cost_estimated = estimate, True
                self._live_estimate = estimate
        speed = reply.live_tokens_per_second(self.host.clock())
        if speed is not None:
            status.speed = speed

    def _finish(self, reply: Message, view: ReplyView, error: BaseException | None) -> None:
        host = self.host
        if reply.outcome is Outcome.ERROR and not reply.content:
            # Refused (an HTTP error, a context too long): nothing was served, nothing to
            # estimate; a reported figure, if the gateway sent one, stands.
            if reply.cost_estimated:
                reply.cost, reply.cost_estimated = None, False
        elif reply.cost is None or (reply.cost_estimated and reply.cost == self._live_estimate):
            # Stopped or cut before the gateway's final figure: keep the estimate, marked so
            # (from the whole text: the live one was made at the last tick).
            estimate = self.estimated_cost(reply)
            if estimate:
                reply.cost = estimate
                reply.cost_estimated = True
        host.streaming = False
        self._contact = (host.gateway, time.monotonic())  # its connection was just used
        self.saving.message_changed(reply, final=True)
        view.finish(show_credits=host.show_credits, show_provider=host.show_provider)
        if reply.outcome is Outcome.ERROR and not reply.content:
            view.display = False  # nothing arrived: the error card says it all
        status = host.status
        if reply.outcome is Outcome.COMPLETE and host.paused:
            # The user is still reading: keep holding until they resume.
            status.paused_note = "reply complete, ctrl+s shows it"
        else:
            host.paused = False
            self.message = self.view = None
        status.live_cost = None
        status.live = False
        status.speed = reply.tokens_per_second
        status.show_spend(host.conversation)  # this reply's figure or "–", the total, marked
        # "offline" only when the gateway could not be reached: a cut stream, an error status
        # or an unreadable chunk all came from a server that answered.
        status.connection = "offline" if isinstance(error, ConnectionFailed) else "online"
        if reply.is_unfinished:
            title, detail = describe_failure(error, reply)
            refused = getattr(error, "status", None) in (401, 403)  # offer a new key
            host.chat_log.add_error(title, detail, can_retry=True, can_enter_key=refused)
            # The prompt comes back to the box so nothing typed is lost (unless new text is there).
            prompt = host.prompt
            if self._failed_prompt and not prompt.text and self._failed_prompt != CONTINUE_PROMPT:
                prompt.load_text(self._failed_prompt)
                prompt.move_cursor(prompt.document.end)
        elif reply.outcome is Outcome.LENGTH:
            limit = f" (max_tokens {host.max_tokens})" if host.max_tokens else ""
            host.chat_log.add_error(
                f"The reply reached the token limit{limit}",
                "Continue asks the model to go on from where it stopped.",
                can_retry=False,
                can_continue=True,
            )
        elif reply.outcome is Outcome.FILTERED:
            host.chat_log.add_error(
                "The provider's content filter stopped the reply",
                "What arrived before it is kept above.",
                can_retry=False,
            )
        if reply.outcome is Outcome.STOPPED:
            host.notify("Reply stopped; the partial text is kept.", timeout=2)
        if reply.outcome is not Outcome.COMPLETE:
            # Stopped or failed: back to typing. A finished reply leaves focus where the user
            # put it (they may be scrolling the log).
            host.prompt.focus()
        host.post_message(ReplyFinished(reply))

    # -- pause ------------------------------------------------------------------------------

    def hold(self, paused: bool) -> None:
        """Hold the reply's text still (paused) or show everything that arrived."""
        if self.view is None:
            return
        self.view.set_hold(paused)
        if not paused and not self.host.streaming:
            self.message = self.view = None  # it was held after it ended: now it is done

    # -- a quiet gateway --------------------------------------------------------------------

    def _tick_quiet(self, view: ReplyView) -> None:
        """Nothing from the gateway for a while (before the answer, or between pieces): say so
        under the reply with the seconds counting, until something comes or esc stops it."""
        if self._retry_wait is not None or not view.is_attached:
            return  # a retry countdown says what is going on
        quiet = self.host.clock() - self._last_event_at
        if quiet < QUIET_AFTER_S:
            return
        view.set_note(f"waiting for the gateway \u00b7 {int(quiet)} s \u00b7 esc stops")
        self._quiet_shown = True

    def _stop_quiet_timer(self) -> None:
        timer, self._quiet_timer = self._quiet_timer, None
        if timer is not None:
            timer.stop()
        self._quiet_shown = False

    # -- automatic retries ------------------------------------------------------------------

    def _show_retry(self, event: Retrying, view: ReplyView) -> None:
        """Count down to the next automatic attempt, in the reply area and the status bar."""
        self._retry_wait = (event, self.host.clock() + event.delay_s)
        self._tick_retry(view)
        if self._retry_timer is None:
            self._retry_timer = self.host.set_interval(0.25, partial(self._tick_retry, view))

    def _tick_retry(self, view: ReplyView) -> None:
        if self._retry_wait is None:
            return
        event, deadline = self._retry_wait
        left = max(0, math.ceil(deadline - self.host.clock()))
        text = (
            f"{event.reason}, retrying in {left} s "
            f"(attempt {event.attempt}/{event.max_attempts}; esc cancels)"
        )
        self.host.status.retry_countdown = text
        view.set_note(text)

    def _clear_retry(self, view: ReplyView) -> None:
        timer, self._retry_timer = self._retry_timer, None
        if timer is not None:
            timer.stop()
        if self._retry_wait is None:
            return
        self._retry_wait = None
        if self.host.is_running:
            self.host.status.retry_countdown = ""
            if view.is_attached:
                view.set_note("")


def describe_failure(error: BaseException | None, reply: Message) -> tuple[str, str]:
    """A plain-words title and the gateway's detail for an error card."""
    status = getattr(error, "status", None)
    detail = getattr(error, "detail", None) or reply.error or str(error)
    kind = type(error).__name__ if error is not None else "Error"
    titles = {
        "AuthenticationError": "The gateway refused the API key",
        "InsufficientCreditsError": "Out of credits",
        "BadRequestError": "The gateway rejected the request",
        "NotFoundError": "No endpoint matched",
        "RateLimitError": "Rate limited by the gateway",
        "ServerError": "The gateway had a server error",
        "ConnectionFailed": "Could not reach the gateway",
        "StreamInterrupted": "The reply was cut off",
        "NoAnswer": "The gateway took the request but did not answer",
        "MalformedResponse": "The gateway sent something unreadable",
    }
    title = titles.get(kind, "The reply failed")
    if status:
        title = f"{title} (HTTP {status})"
    if reply.content:
        title += "; the partial reply above is kept"
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        wait = duration_words(retry_after)
        detail = f"{detail}\nThe gateway asked to wait {wait} before trying again."
    served = reply.served_endpoint or reply.requested_endpoint
    if served:
        detail = f"{detail}\nEndpoint: {served} (provider: {provider_of(served) or '?'})"
    return title, detail


def duration_words(seconds: float) -> str:
    """A wait in plain words: "45 s", "3 min", "2 h"."""
    if seconds < 120:
        return f"{math.ceil(seconds)} s"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} min"
    return f"{math.ceil(seconds / 3600)} h"
