"""Compare endpoints (ctrl+t, palette "Compare endpoints"): one prompt, 2 to 4 endpoints at once.

``open_compare(app)`` shows ``CompareSetupScreen``: the prompt (from the prompt box) and four
endpoint fields, prefilled with the current endpoint and two routing modes of its model, each
checked as it is typed (``core.endpoint.endpoint_problem``), with the estimated cost of sending
the history to it and the total. "Compare" opens ``CompareScreen``: one column per endpoint
(side by side from 120 columns, stacked below), each streamed by its own worker (group
``compare-<i>``) through ``core.compare``, live with its served provider, TTFT, speed, tokens and
cost; each stops on its own (its button, shift+1..4), a failure shows its error card in its
column. Picking one (its button, 1..4) ends the others and dismisses with its index; the app then
calls ``finish_compare``: the prompt and the picked reply continue the conversation, the others
are that turn's alternates (``Comparison.keep``), all saved and all counted in the spend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import PurePath
from typing import TYPE_CHECKING, ClassVar, Protocol

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

from tui_chat.core.accounting import (
    NO_FIGURE,
    estimate_reply_cost,
    estimate_tokens_for_chars,
    format_credits,
)
from tui_chat.core.compare import (
    MAX_ENDPOINTS,
    MIN_ENDPOINTS,
    Comparison,
    has_own_prices,
    prompt_chars,
    send_estimate,
    total_estimate,
)
from tui_chat.core.conversation import Message, Outcome
from tui_chat.core.endpoint import endpoint_problem, model_of
from tui_chat.core.events import ServedEndpoint, StreamEvent, TextDelta
from tui_chat.core.my_routing import preset_of
from tui_chat.core.text import inert
from tui_chat.ui.bindings import textual_bindings
from tui_chat.ui.host import AppHost
from tui_chat.ui.reply_stream import ReplyFinished, describe_failure
from tui_chat.ui.screens import SCREEN_STYLES
from tui_chat.ui.widgets.compare_column import CompareColumn
from tui_chat.ui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from tui_chat.core.conversation import Conversation
    from tui_chat.core.my_routing import RoutingChoice
    from tui_chat.gateways.base import Account, Capabilities, EndpointDetails, Gateway

COMPARE_STYLES = "../styles/compare.tcss"
LIVE_TICK_S = 0.1  # the columns' figures tick about ten times a second
COMPARE_MODES = ("lowest-input-cost", "highest-tks-per-sec")
"""The routing modes offered beside the current endpoint when the gateway has routing."""


class CompareSaving(Protocol):
    def message_added(self, message: Message) -> None: ...

    def message_changed(self, message: Message, *, final: bool = False) -> None: ...

    def spend_cap_problem(self, next_prompt: float | None = None) -> str | None: ...


class CompareSpending(Protocol):
    def budget_problem(self, next_prompt: float | None = None) -> str | None: ...

    def reply_started(self, reply: Message) -> None: ...

    def route(self, endpoint: str) -> RoutingChoice | None: ...


class CompareDetails(Protocol):
    details: dict[str, EndpointDetails]

    def load_details(self, endpoint: str) -> None: ...


class CompareHost(AppHost, Protocol):
    """What comparing needs of the app."""

    gateway: Gateway | None
    account: Account | None
    conversation: Conversation
    endpoint: str
    temperature: float | None
    max_tokens: int | None
    clock: Callable[[], float]
    show_credits: bool
    show_provider: bool
    capabilities: Capabilities
    gateway_label: str

    @property
    def profile_name(self) -> str | None: ...

    @property
    def gateway_kind(self) -> str: ...

    @property
    def saved(self) -> CompareSaving: ...

    @property
    def spend_watch(self) -> CompareSpending: ...

    @property
    def account_watch(self) -> CompareDetails: ...


@dataclass(frozen=True)
class CompareRequest:
    """What the setup screen was sent with: the prompt and 2 to 4 endpoint strings."""

    prompt: str
    endpoints: tuple[str, ...]


def default_endpoints(endpoint: str, *, routing: bool) -> list[str]:
    """The fields' first values: the current endpoint, then (with routing) two routing modes
    of its model, then empty ones."""
    chosen = [endpoint]
    model = model_of(endpoint) if "@" in endpoint else endpoint
    if routing and model and "->" not in endpoint and not model.startswith("router"):
        chosen += [f"{model}@{mode}" for mode in COMPARE_MODES if f"{model}@{mode}" != endpoint]
    return (chosen + [""] * MAX_ENDPOINTS)[:MAX_ENDPOINTS]


def estimate_text(estimate: float | None) -> str:
    return NO_FIGURE if estimate is None else f"~{format_credits(estimate)}"


# -- choosing the endpoints ---------------------------------------------------------------------


class ProvidersListed(TextualMessage):
    """The providers of the current model, for a named provider among the defaults."""

    def __init__(self, model: str, providers: list[str]) -> None:
        super().__init__()
        self.model = model
        self.providers = providers


class CompareSetupScreen(ModalScreen[CompareRequest | None]):
    """The prompt, 2 to 4 endpoint fields with their estimates, and "Compare"."""

    CSS_PATH: ClassVar[str | PurePath | list[str | PurePath] | None] = [
        SCREEN_STYLES,
        COMPARE_STYLES,
    ]
    BINDINGS: ClassVar[list[BindingType]] = textual_bindings("dialog")

    def __init__(
        self,
        prompt: str,
        endpoints: list[str],
        *,
        kind: str,
        history: list[dict[str, str]],
        details: Callable[[str], EndpointDetails | None],
        providers: Callable[[str], list[str]] | None = None,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.prompt_text = prompt
        self.endpoints = endpoints
        self.kind = kind
        self.history = history
        self._details = details  # the prices known for a concrete endpoint (None: not yet)
        self._providers = providers  # blocking: a model's providers (None: no provider choice)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="compare-setup"):
            yield Label(
                "Compare endpoints: the prompt goes to each at once", classes="dialog-question"
            )
            yield Input(
                self.prompt_text,
                placeholder="The prompt to send",
                id="compare-prompt",
                compact=True,
            )
            for index, value in enumerate(self.endpoints):
                with Horizontal(classes="compare-field"):
                    yield Input(
                        value,
                        placeholder="model@provider or model@routing-mode (empty: not used)",
                        id=f"compare-endpoint-{index}",
                        compact=True,
                    )
                    yield Static("", id=f"compare-estimate-{index}", classes="compare-estimate")
                yield Static("", id=f"compare-problem-{index}", classes="dialog-error")
            yield Static("", id="compare-total")
            yield Static("", id="compare-problem", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Compare", id="compare", variant="primary")

    def on_mount(self) -> None:
        self._check()
        self.set_interval(0.25, self._show_estimates)  # prices arrive in the app's worker
        self.query_one("#compare-prompt", Input).focus()
        first = self.endpoints[0]
        if self._providers is not None and "@" in first and not has_own_prices(first):
            self._list_providers(model_of(first))  # a routing mode: offer a named provider too

    @work(thread=True, exit_on_error=False, group="compare-providers")
    def _list_providers(self, model: str) -> None:
        assert self._providers is not None
        try:
            providers = self._providers(model)
        except Exception:  # no listing: the fields stay as they are
            return
        self.post_message(ProvidersListed(model, providers))

    @on(ProvidersListed)
    def _providers_listed(self, event: ProvidersListed) -> None:
        taken = set(self._fields())
        for provider in event.providers:
            endpoint = f"{event.model}@{provider}"
            if endpoint in taken:
                continue
            for index, value in enumerate(self._fields()):
                if not value:
                    field = self.query_one(f"#compare-endpoint-{index}", Input)
                    field.value = endpoint  # (its prices are asked for by the estimate)
                    return
            return

    def _fields(self) -> list[str]:
        return [
            self.query_one(f"#compare-endpoint-{index}", Input).value.strip()
            for index in range(len(self.endpoints))
        ]

    def _prompt(self) -> str:
        return self.query_one("#compare-prompt", Input).value

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._check()

    def _check(self) -> str | None:
        """Check every field and show why it cannot be sent; the first problem, or None."""
        first: str | None = None
        for index, value in enumerate(self._fields()):
            problem = endpoint_problem(self.kind, value) if value else None
            self.query_one(f"#compare-problem-{index}", Static).update(
                Content(inert(problem or ""))
            )
            self.query_one(f"#compare-problem-{index}", Static).display = problem is not None
            if problem is not None and first is None:
                first = f"Endpoint {index + 1}: {problem}"
        chosen = [value for value in self._fields() if value]
        if first is None and not MIN_ENDPOINTS <= len(chosen) <= MAX_ENDPOINTS:
            first = f"Fill in {MIN_ENDPOINTS} to {MAX_ENDPOINTS} endpoints."
        if first is None and not self._prompt().strip():
            first = "Type the prompt to send."
        self._show_estimates()
        return first

    def _show_estimates(self) -> None:
        messages = [*self.history, {"role": "user", "content": self._prompt()}]
        estimates: list[float | None] = []
        for index, value in enumerate(self._fields()):
            estimate: float | None = None
            if value and has_own_prices(value):
                estimate = send_estimate(messages, self._details(value))
            if value:
                estimates.append(estimate)
            self.query_one(f"#compare-estimate-{index}", Static).update(
                estimate_text(estimate) if value else ""
            )
        total = total_estimate(estimates)
        self.query_one("#compare-total", Static).update(
            f"Sending the history to all: {total} credits (input price; \u2013: a routing "
            "mode, priced once served)"
        )

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._send()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "compare":
            self._send()
        else:
            self.dismiss(None)

    def _send(self) -> None:
        problem = self._check()
        self.query_one("#compare-problem", Static).update(Content(inert(problem or "")))
        if problem is not None:
            return
        endpoints = tuple(value for value in self._fields() if value)
        self.dismiss(CompareRequest(self._prompt(), endpoints))

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_compare(host: CompareHost) -> None:
    """ctrl+t: the setup screen, unless something refuses a comparison now."""
    if host.streaming:
        host.notify("A reply is still arriving: press esc to stop it, or wait.", severity="warning")
        return
    if host.gateway is None:
        host.notify("No gateway to send to: enter an API key first.", severity="warning")
        return
    account = host.account_watch
    for endpoint in default_endpoints(host.endpoint, routing=host.capabilities.routing_modes):
        if endpoint and has_own_prices(endpoint) and endpoint not in account.details:
            account.load_details(endpoint)

    def details(endpoint: str) -> EndpointDetails | None:
        known = account.details.get(endpoint)
        if known is None and host.capabilities.endpoint_details:
            account.load_details(endpoint)  # (once per endpoint; the watch keeps the rest)
        return known

    listing = host.account
    setup = CompareSetupScreen(
        host.prompt.text,
        default_endpoints(host.endpoint, routing=host.capabilities.routing_modes),
        kind=host.gateway_kind,
        history=host.conversation.api_messages(),
        details=details,
        providers=listing.providers
        if listing is not None and host.capabilities.provider_choice
        else None,
    )
    host.push_screen(setup, partial(_start_compare, host))


def _start_compare(host: CompareHost, request: CompareRequest | None) -> None:
    if request is None or host.gateway is None:
        return
    if host.streaming:
        host.notify("A reply is still arriving: press esc to stop it, or wait.", severity="warning")
        return
    messages = [*host.conversation.api_messages(), {"role": "user", "content": request.prompt}]
    estimates = [
        send_estimate(messages, host.account_watch.details.get(endpoint))
        if has_own_prices(endpoint)
        else None
        for endpoint in request.endpoints
    ]
    total = total_estimate(estimates).amount
    over = host.saved.spend_cap_problem(total) or host.spend_watch.budget_problem(total)
    if over:
        host.notify(over, title="Not sent", severity="warning")
        return
    if host.prompt.text == request.prompt:
        host.prompt.remember(request.prompt)
        host.prompt.take_sent(request.prompt)
    gateway_name = host.profile_name or host.gateway_label
    comparison = Comparison.start(request.prompt, request.endpoints, gateway=gateway_name)
    screen = CompareScreen(host, comparison, messages)
    host.push_screen(
        screen, lambda index: finish_compare(host, comparison, index, screen.next_message)
    )


def finish_compare(
    host: CompareHost, comparison: Comparison, index: int | None, next_message: str = ""
) -> None:
    """The compare screen closed: continue with reply ``index`` (None: none has text, so
    nothing is kept and the prompt goes back to the box). ``next_message``, typed below the
    columns, goes to the prompt box (not sent)."""
    prompt = host.prompt
    if index is None:
        if not prompt.text:
            prompt.load_text(comparison.prompt)
            prompt.move_cursor(prompt.document.end)
        return
    if next_message.strip() and not prompt.text:
        prompt.load_text(next_message)
        prompt.move_cursor(prompt.document.end)
    conversation = host.conversation
    kept = comparison.keep(conversation, index)
    user = conversation.messages[-2]
    host.saved.message_added(user)
    for reply in comparison.replies:
        host.saved.message_added(reply)
        host.saved.message_changed(reply, final=True)
    log = host.chat_log
    log.add_user(user.content, user)
    view = log.add_reply(kept, streaming=False)
    view.finish(show_credits=host.show_credits, show_provider=host.show_provider)
    log.anchor()
    host.status.show_spend(conversation)  # "Chat" counts every reply of the comparison
    host.status.speed = kept.tokens_per_second
    others = len(comparison.replies) - 1
    host.notify(
        f"Continued with {index + 1}; the other {others} stay as alternates of this turn.",
        timeout=3,
    )
    host.prompt.focus()


# -- the comparison -----------------------------------------------------------------------------


class CompareScreen(Screen[int | None]):
    """The replies streaming in columns; dismissed with the index of the one to continue with."""

    CSS_PATH = COMPARE_STYLES
    BINDINGS: ClassVar[list[BindingType]] = textual_bindings("compare")
    # Side by side from 120 columns; stacked (one above the other) below.
    HORIZONTAL_BREAKPOINTS = [(0, "-stacked"), (120, "-side-by-side")]

    def __init__(
        self, host: CompareHost, comparison: Comparison, messages: list[dict[str, str]]
    ) -> None:
        super().__init__()
        self.host = host
        self.comparison = comparison
        self.messages = messages
        self.columns = [
            CompareColumn(index, reply) for index, reply in enumerate(comparison.replies)
        ]
        self._prompt_chars = prompt_chars(messages)
        self._live_estimates: dict[int, float] = {}
        self._picked: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            Content(f"Compare \u00b7 {inert(self.comparison.prompt)}"), id="compare-heading"
        )
        with Horizontal(id="compare-columns"):
            yield from self.columns
        yield Static("", id="compare-spend")
        yield Input(
            placeholder="Your next message, typed while they stream: it goes to the box "
            "with the reply you pick",
            id="compare-next",
            compact=True,
        )
        yield KeyFooter()  # the app's footer: it lets go of the keys it took down

    @property
    def next_message(self) -> str:
        """What was typed below the columns, for the prompt box once a reply is picked."""
        return self.query_one("#compare-next", Input).value

    def on_mount(self) -> None:
        self.set_focus(None)  # digits pick a reply until the user goes to the next message
        for index, reply in enumerate(self.comparison.replies):
            self.host.spend_watch.reply_started(reply)
            self.run_worker(
                self._stream(index), group=f"compare-{index}", exclusive=True, exit_on_error=False
            )
        self.set_interval(LIVE_TICK_S, self._tick)
        self._tick()

    # -- streaming -------------------------------------------------------------------------

    async def _stream(self, index: int) -> None:
        host = self.host
        gateway = host.gateway
        reply = self.comparison.replies[index]
        column = self.columns[index]
        endpoint = reply.requested_endpoint or ""
        try:
            if gateway is None:
                reply.outcome, reply.error = Outcome.ERROR, "No gateway to send to."
                return
            if preset_of(endpoint) is not None:  # @my-fastest...: resolved from the store
                choice = await asyncio.to_thread(host.spend_watch.route, endpoint)
                if choice is not None:
                    endpoint, reply.routing_note = choice.endpoint, choice.note
            await self.comparison.stream_one(
                index,
                gateway,
                self.messages,
                endpoint=endpoint,
                temperature=host.temperature,
                max_tokens=host.max_tokens,
                clock=host.clock,
                on_event=partial(self._event, column),
            )
        finally:
            self._finish(index)

    def _event(self, column: CompareColumn, event: StreamEvent) -> None:
        match event:
            case TextDelta(text=text):
                column.append(text)
            case ServedEndpoint(endpoint=served):
                if served not in self.host.account_watch.details:
                    self.host.account_watch.load_details(served)
            case _:
                pass

    def _estimate(self, reply: Message) -> float | None:
        """The reply's cost from its served endpoint's prices (None: not known yet)."""
        details = self.host.account_watch.details
        prices = details.get(reply.served_endpoint or "") or details.get(
            reply.requested_endpoint or ""
        )
        if prices is None:
            return None
        return estimate_reply_cost(self._prompt_chars, reply.output_tokens, prices)

    def _tick(self) -> None:
        """The live figures of every column, and the comparison's spend so far."""
        now = self.host.clock()
        for index, column in enumerate(self.columns):
            reply = column.reply
            if reply.outcome is None and reply.content:
                estimate = self._estimate(reply)
                if estimate is not None and (reply.cost is None or reply.cost_estimated):
                    reply.cost, reply.cost_estimated = estimate, True
                    self._live_estimates[index] = estimate
            column.follow()
            if reply.outcome is None:
                column.show_figures(
                    self.comparison.figures(now)[index], show_credits=self.host.show_credits
                )
        self._show_spend()

    def _show_spend(self) -> None:
        spend = self.comparison.spend
        history = estimate_tokens_for_chars(self._prompt_chars)
        self.query_one("#compare-spend", Static).update(
            f"All replies: {spend} credits \u00b7 ~{history} prompt tokens sent to each",
            layout=False,  # one row, always
        )

    def _finish(self, index: int) -> None:
        reply = self.comparison.replies[index]
        column = self.columns[index]
        if reply.outcome is Outcome.ERROR and not reply.content:
            if reply.cost_estimated:  # refused: nothing was served, nothing to estimate
                reply.cost, reply.cost_estimated = None, False
        elif reply.cost is None or (
            reply.cost_estimated and reply.cost == self._live_estimates.get(index)
        ):
            estimate = self._estimate(reply)  # stopped or cut before the final figure
            if estimate:
                reply.cost, reply.cost_estimated = estimate, True
        failure = None
        if reply.is_unfinished:
            failure = describe_failure(self.comparison.failures[index], reply)
        if not self.is_attached:
            return
        column.finish(
            self.comparison.figures()[index],
            show_credits=self.host.show_credits,
            show_provider=self.host.show_provider,
            failure=failure,
        )
        self._show_spend()
        self.host.post_message(ReplyFinished(reply))  # budgets, billing, the balance
        if self.comparison.finished and self._picked is not None:
            self.dismiss(self._picked)

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Only whether the column exists: the keys' state never changes while the replies
        # stream, so the footer is not rebuilt (a rebuild is ~15 ms, and held keys back at the
        # start). A pick of a reply without text does nothing.
        if action in ("pick", "stop_column") and parameters:
            index = parameters[0]
            return isinstance(index, int) and index < len(self.columns)
        return True

    def action_stop_column(self, index: int) -> None:
        """Stop reply ``index`` only (its text is kept)."""
        if 0 <= index < len(self.columns) and self.comparison.replies[index].outcome is None:
            self.app.workers.cancel_group(self, f"compare-{index}")

    def action_stop_or_close(self) -> None:
        """esc: stop every reply still streaming; once all have ended, go back with the first
        reply that has text (or none)."""
        if not self.comparison.finished:
            for index in range(len(self.columns)):
                self.action_stop_column(index)
            return
        first = next((i for i, r in enumerate(self.comparison.replies) if r.content), None)
        self.dismiss(first)

    def action_pick(self, index: int) -> None:
        """Continue with reply ``index``: the others still streaming are stopped first."""
        if not 0 <= index < len(self.columns) or not self.comparison.replies[index].content:
            return
        self._picked = index
        if self.comparison.finished:
            self.dismiss(index)
            return
        for other in range(len(self.columns)):
            self.action_stop_column(other)

    @on(Input.Submitted, "#compare-next")
    def _next_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.notify("Pick a reply (its button or 1-4) to continue with; this text goes with it.")
        self.set_focus(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        name, _, number = (event.button.id or "").partition("-")
        if not number.isdigit():
            return
        if name == "stop":
            self.action_stop_column(int(number))
        elif name == "pick":
            self.action_pick(int(number))
