"""The full-screen Textual app: chat log, prompt, selector panel, status bar.

The app is one client of the core: it owns the Conversation (the one source of truth for history
and spend), runs the streaming reply in an exclusive async worker, and runs blocking account calls
(balance, listings) in thread workers. Widgets never touch the network.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Footer

from tui_chat.config import DEFAULT_MODEL, AppConfig, GatewayProfile
from tui_chat.ui.connecting import ConnectionSetup, PendingConnection
from tui_chat.core.accounting import estimate_cost
from tui_chat.core.conversation import Conversation, Message, Outcome
from tui_chat.core.endpoint import (
    ROUTING_MODES,
    EndpointError,
    model_of,
    parse_endpoint,
    provider_of,
)
from tui_chat.core.events import Retrying, ServedEndpoint, StreamError, TextDelta
from tui_chat.core.text import inert
from tui_chat.ui.gateway_switch import GatewayCommands, GatewaySwitching
from tui_chat.gateways.errors import GatewayError, UnsupportedByGateway
from tui_chat.gateways.retry import PollBackoff, is_retryable, stale_reason
from tui_chat.profiles import ProfileConnector
from tui_chat.ui.bindings import textual_bindings
from tui_chat.ui.saving import SavedConversations, StoreOpener
from tui_chat.ui.widgets.chat_log import ChatLog
from tui_chat.ui.widgets.markdown_stream import code_blocks
from tui_chat.ui.widgets.messages import ErrorCard, ReplyView, tokens_per_second
from tui_chat.ui.widgets.prompt_stand_in import PromptStandIn
from tui_chat.ui.widgets.selector import SelectorPanel
from tui_chat.ui.widgets.status_bar import StatusBar
from tui_chat.ui.worker_calls import deliver

if TYPE_CHECKING:
    from tui_chat.keys import KeyringChoice
    from tui_chat.store import Store
    from tui_chat.ui.widgets.prompt_input import PromptInput

WIDE_TERMINAL = 110  # columns from which the selector panel shows by default


def _literal_hit(matcher: Matcher, label: str) -> Text:
    """Like ``Matcher.highlight`` but ``label`` is data (a server's model name): never parsed as
    markup, control characters made visible, the matched letters shown reversed."""
    shown = inert(label)
    display = Text(shown)
    if len(shown) == len(label):  # C1 stand-ins are longer; then skip the highlight
        score, offsets = matcher.fuzzy_search.match(matcher.query, label)
        if score:
            for offset in offsets:
                if not label[offset].isspace():
                    display.stylize("reverse", offset, offset + 1)
    return display


class ModelCommands(Provider):
    """Command palette: fuzzy search over the gateway's models, or use a typed endpoint string."""

    @property
    def _app(self) -> UnifyTUI:
        app = self.app
        assert isinstance(app, UnifyTUI)
        return app

    async def search(self, query: str) -> Hits:
        app = self._app
        matcher = self.matcher(query)
        typed = query.strip()
        if "@" in typed:
            try:
                parse_endpoint(typed)
            except EndpointError:
                pass
            else:
                yield Hit(
                    1.0,
                    Text(inert(f"Use endpoint {typed}")),
                    partial(app.switch_endpoint, typed),
                    text=f"Use endpoint {typed}",
                    help="Switch to this endpoint string from the next message",
                )
        for model in app.known_models:
            label = f"Switch model: {model}"
            score = matcher.match(label)
            if score > 0:
                yield Hit(
                    score,
                    _literal_hit(matcher, label),
                    partial(app.switch_model, model),
                    text=label,
                    help="Keeps the routing mode or provider when it can",
                )

    async def discover(self) -> Hits:
        app = self._app
        for model in app.known_models[:20]:
            yield DiscoveryHit(
                Text(inert(f"Switch model: {model}")), partial(app.switch_model, model), text=model
            )


class UnifyTUI(SavedConversations, ConnectionSetup, GatewaySwitching, App[None]):
    """A chat client for unified LLM gateways."""

    TITLE = "unify-tui"
    # Relative to this file (Textual resolves CSS_PATH against the module of the class).
    CSS_PATH: ClassVar[Any] = [
        "styles/app.tcss",
        "styles/chat.tcss",
        "styles/selector.tcss",
        "styles/status.tcss",
    ]
    COMMANDS = App.COMMANDS | {ModelCommands, GatewayCommands}
    # The footer shows the keys a user needs to find; the others (toggles with a checkbox in
    # the panel, copying) are in the command palette's key list (ctrl+p). Each footer key is a
    # widget, ~1.5 ms of start-up (measured), and at 120 columns more would be cut off.
    BINDINGS: ClassVar[list[BindingType]] = textual_bindings("app")

    show_credits: reactive[bool] = reactive(True)
    show_provider: reactive[bool] = reactive(True)
    paused: reactive[bool] = reactive(False)
    streaming: reactive[bool] = reactive(False)

    def __init__(
        self,
        *,
        gateway: Any | None,
        account: Any | None,
        model: str = DEFAULT_MODEL,
        gateway_label: str = "Unify",
        startup_problem: str | None = None,
        show_credits: bool = True,
        show_provider: bool = True,
        temperature: float | None = None,
        max_tokens: int | None = None,
        balance_poll_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        store: Store | None = None,
        open_store: StoreOpener | None = None,
        store_notice: str | None = None,
        export_dir: Path | None = None,
        save_interval_s: float = 1.0,
        config: AppConfig | None = None,
        system_prompt: str | None = None,
        spend_cap: float | None = None,
        theme: str | None = None,
        keymap: Mapping[str, str] | None = None,
        startup_notice: str | None = None,
        pending_connection: PendingConnection | None = None,
        profiles: Mapping[str, GatewayProfile] | None = None,
        profile_name: str | None = None,
        connect_profile: ProfileConnector | None = None,
        keyring: KeyringChoice = None,
        keys_file: Path | None = None,
        pin_model: bool = False,
        after_first_frame: Sequence[Callable[[], None]] = (),
        after_warm_up: Sequence[Callable[[], None]] = (),
    ) -> None:
        super().__init__()
        self.gateway = gateway
        self.account = account
        self.gateway_label = gateway_label
        self.startup_problem = startup_problem
        self.conversation = Conversation()
        self.endpoint = model
        # ``model`` was asked for on the command line (--model, --gateway): the conversation
        # reopened at start continues with it instead of its saved model (saving._show_saved).
        self.pin_model = pin_model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.balance_poll_s = balance_poll_s
        self.clock = clock  # seconds; injected so tests and snapshots can pin timings
        self.known_models: list[str] = []
        self._details: dict[str, Any] = {}
        self._reply_view: ReplyView | None = None
        self._failed_prompt: str | None = None
        # (reply, tokens so far, prompt characters, start time) while a reply streams.
        self._live: tuple[Message, int, int, float] | None = None
        self._prompt: PromptInput | None = None  # built after the first frame (prompt)
        # True between mount and unmount: watchers that touch widgets check it. (App.is_mounted
        # is a method taking a widget, so `if self.is_mounted` was always true.)
        self.ui_ready = False
        # The automatic retry being waited for (gateways.retry), and its deadline on self.clock.
        self._retry_wait: tuple[Retrying, float] | None = None
        self._retry_timer: Any = None
        self._balance_timer: Any = None
        # Failed background polls wait longer each time (gateways.retry.PollBackoff).
        self.balance_backoff = PollBackoff()
        self.models_backoff = PollBackoff()
        self.providers_backoff = PollBackoff()
        self.details_backoff = PollBackoff()
        # The one pending retry (a timer) of each endpoint whose details failed to load.
        self._details_retries: dict[str, Any] = {}
        self._balance_retry_at: float | None = None  # time.monotonic() of the next try
        # Called once, in a thread, when the first frame is on screen: what the first frame need
        # not wait for (the demo gateway's start, re-enabling the garbage collector).
        self._after_first_frame = list(after_first_frame)
        # Called in that thread once the warm-up has imported what the first reply needs (the
        # command line freezes the heap there: see cli._run_app).
        self._after_warm_up = list(after_warm_up)
        self.set_reactive(UnifyTUI.show_credits, show_credits)
        self.set_reactive(UnifyTUI.show_provider, show_provider)
        # Saved conversations (tui_chat/ui/saving.py); store None: chat without saving.
        # ``store``, or ``open_store`` to open it after the first frame (the command line's way).
        self._init_saving(store, store_notice, export_dir, save_interval_s, open_store)
        # From config.toml (tui_chat/ui/connecting.py): defaults a conversation's own settings
        # override; spend_cap in credits per conversation.
        self.config = config
        self.default_system_prompt = system_prompt
        self.default_spend_cap = spend_cap
        self.conversation.system_prompt = system_prompt
        self._init_setup(
            pending=pending_connection, notice=startup_notice, theme=theme, keymap=keymap
        )
        # Gateway profiles the selector can switch between (tui_chat/ui/gateway_switch.py).
        self._init_switching(
            gateway=gateway,
            profiles=profiles,
            profile_name=profile_name,
            connect_profile=connect_profile,
            keyring=keyring,  # where a key typed when switching to a profile is saved
            keys_file=keys_file,
        )

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="chat-pane"):
                yield ChatLog(id="chat-log")
                # Its Stop and Pause buttons are mounted after the first frame (on_ready): they
                # are hidden until a reply streams, and Button's stylesheet is Textual's largest.
                yield Horizontal(id="reply-controls")
                # The real prompt (a TextArea) is built after the first frame: see prompt.
                yield PromptStandIn(id="prompt-stand-in")
            yield SelectorPanel(id="selector")
        yield StatusBar(id="status")
        yield Footer()

    @property
    def chat_log(self) -> ChatLog:
        return self.query_one(ChatLog)

    @property
    def prompt(self) -> PromptInput:
        """The prompt box. The first frame shows a stand-in (tui_chat/ui/widgets/prompt_stand_in.py);
        the prompt replaces it when the first frame is up (on_ready), or here on first use."""
        return self._prompt if self._prompt is not None else self._build_prompt()

    def _build_prompt(self) -> PromptInput:
        """Put the prompt where the stand-in is, with what was typed into the stand-in."""
        from tui_chat.ui.widgets.prompt_input import PromptInput

        stand_in = self.query_one(PromptStandIn)
        prompt = self._prompt = PromptInput(id="prompt", text=stand_in.typed)
        stand_in.parent.mount(prompt, after=stand_in)  # type: ignore[union-attr]
        # Focus goes where the stand-in's was.
        take_focus = stand_in.screen.focused in (None, stand_in)
        stand_in.remove()
        if take_focus:
            prompt.focus()
        if stand_in.submit:
            prompt.post_message(PromptInput.Submitted(prompt, stand_in.typed))
        return prompt

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def selector(self) -> SelectorPanel:
        return self.query_one(SelectorPanel)

    def on_mount(self) -> None:
        self.ui_ready = True
        status = self.status
        status.gateway = self.gateway_label
        status.show_credits = self.show_credits
        status.show_provider = self.show_provider
        status.spend_cap = self.spend_cap
        self.selector.set_current(self.endpoint)
        self.selector.set_toggles(show_credits=self.show_credits, show_provider=self.show_provider)
        self.selector.set_gateway_note(self.gateway_label)
        self._mount_switching()
        self.selector.display = self.size.width >= WIDE_TERMINAL
        # At once, not later as focus() would: the prompt built in its place takes it over.
        self.screen.set_focus(self.query_one(PromptStandIn))
        if self.startup_problem:
            self.chat_log.add_notice(self.startup_problem)
            status.connection = "no key"
        else:
            self.chat_log.add_notice(
                f"Chatting with {self.endpoint}. Enter sends; ctrl+l switches model; "
                "ctrl+p opens the command palette."
            )
        self._apply_setup()
        if self._open_store is None:
            self._start_saving()
        self._start_connection()

    def on_ready(self, event: events.Ready) -> None:
        """The first frame is on screen: now build and start what it did not need."""
        if self._prompt is None:
            self._build_prompt()  # in the stand-in's place
        if self._open_store is not None:
            self.open_store_and_start_saving()  # then reopens the last conversation
        self.selector.call_next(self.selector.build)  # its widgets (and their stylesheets)
        self.query_one("#reply-controls").mount(
            Button("■ Stop (esc)", id="stop-button", compact=True),
            Button(self._pause_label(), id="pause-button", compact=True),
        )
        self._warm_up()
        self._start_account()

    @work(thread=True, exclusive=True, group="warm-up")
    def _warm_up(self) -> None:
        """After the first frame, in a thread: the caller's start-up work (the demo gateway),
        then the HTTP client stack the first message needs (~0.5 s kept out of start-up and out
        of the first reply's wait; benchmarks/bench_startup.py) and the code highlighters, so no
        frame of a first reply stalls on them."""
        from tui_chat.gateways.unify import warm_up
        from tui_chat.ui.widgets.markdown_stream import warm_up_highlighting

        for job in self._after_first_frame:
            job()
        warm_up()
        warm_up_highlighting()
        for job in self._after_warm_up:
            job()

    def _start_account(self) -> None:
        """Balance, listings and details for the current account (none: nothing to load)."""
        if self.account is None:
            return
        self.refresh_balance()
        self.load_models()
        try:
            current = parse_endpoint(self.endpoint)
        except EndpointError:
            current = None  # said when sending; the listings still load
        if current is not None:
            self.load_providers(current.model)
            if not current.is_routing and not current.is_fallback:
                self.load_details(self.endpoint)
        if self._balance_timer is not None:
            self._balance_timer.stop()
        self._balance_timer = self.set_interval(self.balance_poll_s, self._poll_balance)

    def use_gateway(self, gateway: Any, account: Any, label: str) -> None:
        """Chat through ``gateway`` (and ``account`` for balance/listings) from now on.

        Used once a key has been entered; history is kept. The old gateway is not closed here.
        """
        self.gateway = gateway
        self.account = account
        self.gateway_label = label
        self.capabilities = getattr(gateway, "capabilities", None) or self.capabilities
        # Connected (after the key dialog, or by switching profile): nothing is pending any more.
        self.pending_connection = None
        self.startup_problem = None
        self.status.gateway = label
        self.status.connection = "connecting" if account is not None else "online"
        self.selector.set_gateway_note(label)
        self._start_account()

    @property
    def spend_cap(self) -> float | None:
        """The cap in force, in credits: the conversation's own, else config.toml's."""
        own = self.conversation_settings.spend_cap
        return self.default_spend_cap if own is None else own

    async def on_unmount(self) -> None:
        self.ui_ready = False
        self._stop_saving()
        # Close the HTTP client while its event loop is still running.
        if self.gateway is not None:
            await self.gateway.aclose()

    # -- sending and the reply worker -----------------------------------------------------

    def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        event.stop()
        self.send(event.text)

    def send(self, text: str) -> None:
        """Send a prompt. On any refusal the typed text stays in the box."""
        if self.streaming:
            self.notify(
                "A reply is still arriving: press esc to stop it, or wait.", severity="warning"
            )
            return
        self.paused = False
        if self.gateway is None:
            self.chat_log.add_error(
                "No gateway to send to", self.startup_problem or "No API key set.", can_retry=False
            )
            return
        over_cap = self.spend_cap_problem()
        if over_cap:
            self.notify(over_cap, title="Spend cap reached", severity="warning")
            return
        problem = self.endpoint_problem(self.endpoint)
        if problem is not None:
            self.chat_log.add_error("The model string is not valid", problem, can_retry=False)
            return
        self.prompt.remember(text)
        self.prompt.clear()
        user_message = self.conversation.add_user(text)
        self._record_added(user_message)
        self.chat_log.add_user(text, user_message)
        self.chat_log.anchor()
        self._begin_reply(text)

    def _begin_reply(self, prompt_text: str) -> None:
        reply = self.conversation.start_reply(self.endpoint)
        self._record_added(reply)
        view = self.chat_log.add_reply(reply, streaming=True)
        self._reply_view = view
        self._failed_prompt = prompt_text
        self.stream_reply(reply, view)

    @work(exclusive=True, group="reply")
    async def stream_reply(self, reply: Message, view: ReplyView) -> None:
        """Consume the gateway's events for one reply and show them as they come."""
        self.streaming = True
        self.status.speed = None
        self.status.live_cost = 0.0
        started = self.clock()
        messages = self.conversation.api_messages()
        prompt_chars = sum(len(m.get("content", "")) for m in messages)
        tokens = 0
        last_status = 0.0
        error: Any = None
        try:
            view.set_hold(self.paused)
            async for event in self.gateway.stream_chat(
                reply.requested_endpoint or self.endpoint,
                messages,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
            ):
                reply.apply(event)
                if isinstance(event, Retrying):
                    self._show_retry(event, view)
                    continue
                if self._retry_wait is not None:
                    self._clear_retry(view)
                if isinstance(event, TextDelta):
                    if reply.ttft_ms is None:
                        reply.ttft_ms = (self.clock() - started) * 1000
                    view.append(event.text)
                    self._record_changed(reply)  # throttled: saved at most once a second
                    tokens += 1
                    self._live = (reply, tokens, prompt_chars, started)
                    now = self.clock()
                    if now - last_status > 0.1:  # the live figures tick ~10 times a second
                        last_status = now
                        self._tick_live()
                elif isinstance(event, ServedEndpoint):
                    self.status.served_endpoint = event.endpoint
                    if event.endpoint not in self._details and self.account is not None:
                        self.load_details(event.endpoint)
                elif isinstance(event, StreamError):
                    error = event.error
            if reply.outcome is None:
                reply.outcome = Outcome.COMPLETE
        except asyncio.CancelledError:
            reply.mark_stopped()
            raise
        except Exception as unexpected:  # a bug must not take the user's session down
            error = unexpected
            reply.outcome = Outcome.ERROR
            reply.error = f"Unexpected error: {type(unexpected).__name__}: {unexpected}"
        finally:
            self._clear_retry(view)
            if reply.duration_ms is None:
                reply.duration_ms = (self.clock() - started) * 1000
            if reply.completion_tokens is None and tokens:
                reply.completion_tokens = tokens
            if self.is_running and view.is_attached:  # not while the app shuts down
                self._finish_reply(reply, view, error)
            else:
                self._record_changed(reply, final=True)

    def _show_retry(self, event: Retrying, view: ReplyView) -> None:
        """Count down to the next automatic attempt, in the reply area and the status bar."""
        self._retry_wait = (event, self.clock() + event.delay_s)
        self._tick_retry(view)
        if self._retry_timer is None:
            self._retry_timer = self.set_interval(0.25, partial(self._tick_retry, view))

    def _tick_retry(self, view: ReplyView) -> None:
        if self._retry_wait is None:
            return
        event, deadline = self._retry_wait
        left = max(0, math.ceil(deadline - self.clock()))
        text = (
            f"{event.reason}, retrying in {left} s "
            f"(attempt {event.attempt}/{event.max_attempts}; esc cancels)"
        )
        self.status.retry_countdown = text
        view.set_note(text)

    def _clear_retry(self, view: ReplyView) -> None:
        timer, self._retry_timer = self._retry_timer, None
        if timer is not None:
            timer.stop()
        if self._retry_wait is None:
            return
        self._retry_wait = None
        if self.is_running:
            self.status.retry_countdown = ""
            if view.is_attached:
                view.set_note("")

    def _tick_live(self) -> None:
        """Update the live spend estimate and speed of the reply that is streaming."""
        if self._live is None:
            return
        reply, tokens, prompt_chars, started = self._live
        elapsed = self.clock() - started
        status = self.status
        details = self._details.get(reply.served_endpoint or "")
        if details is not None:
            status.live_cost = estimate_cost(
                prompt_tokens=prompt_chars // 4,
                completion_tokens=tokens,
                input_cost_per_m=details.input_cost,
                output_cost_per_m=details.output_cost,
            )
        streaming_s = elapsed - (reply.ttft_ms or 0) / 1000
        if streaming_s > 0.05:
            status.speed = tokens / streaming_s

    def _finish_reply(self, reply: Message, view: ReplyView, error: Any) -> None:
        if reply.cost is None and self.status.live_cost:
            # Stopped or cut before the gateway's final figure: keep the estimate, marked so.
            reply.cost = self.status.live_cost
            reply.cost_estimated = True
        self.streaming = False
        self._live = None
        self._record_changed(reply, final=True)
        view.finish(show_credits=self.show_credits, show_provider=self.show_provider)
        if reply.outcome is Outcome.ERROR and not reply.content:
            view.display = False  # nothing arrived: the error card says it all
        if reply.outcome is Outcome.COMPLETE and self.paused:
            # The user is still reading: keep holding until they resume.
            self.status.paused_note = "reply complete, ctrl+s shows it"
        else:
            self.paused = False
            self._reply_view = None
        status = self.status
        status.live_cost = None
        status.speed = tokens_per_second(reply)
        status.total_cost = self.conversation.total_cost
        if reply.cost is not None:
            status.last_cost = reply.cost
        if reply.outcome is Outcome.ERROR:
            title, detail = _describe_failure(error, reply)
            self.chat_log.add_error(title, detail, can_retry=True)
            status.connection = "online" if getattr(error, "status", None) else "offline"
            # The prompt comes back to the box so nothing typed is lost (unless new text is there).
            if self._failed_prompt and not self.prompt.text:
                self.prompt.load_text(self._failed_prompt)
                self.prompt.move_cursor(self.prompt.document.end)
        else:
            status.connection = "online"
        if reply.outcome is Outcome.STOPPED:
            self.notify("Reply stopped; the partial text is kept.", timeout=2)
        if reply.outcome is not Outcome.COMPLETE:
            # Stopped or failed: back to typing. A finished reply leaves focus where the user
            # put it (they may be scrolling the log).
            self.prompt.focus()
        if self.account is not None and reply.outcome is not Outcome.ERROR:
            self.refresh_balance()

    # -- background listings (thread workers around blocking requests calls) ---------------

    @work(thread=True, exclusive=True, group="balance")
    def refresh_balance(self) -> None:
        if not self.capabilities.has_balance:
            deliver(self, self._no_balance)
            return
        try:
            balance = self.account.credits()
        except Exception as error:  # shown as stale, never fatal
            deliver(self, self._balance_failed, error)
        else:
            deliver(self, self._balance_loaded, balance)

    def _no_balance(self) -> None:
        """A gateway kind without a balance: nothing to show, and no failure either."""
        status = self.status
        status.balance = None
        status.balance_stale = False
        if status.connection in ("connecting", "offline"):
            status.connection = "online"

    def _poll_balance(self) -> None:
        """The periodic balance poll; skipped while backing off after a failure."""
        if self._balance_retry_at is not None and time.monotonic() < self._balance_retry_at:
            return
        self.refresh_balance()

    def _balance_loaded(self, balance: float) -> None:
        self.balance_backoff.succeeded()
        self._balance_retry_at = None
        status = self.status
        status.balance = balance
        status.balance_stale = False
        status.stale_reason = ""
        if status.connection in ("connecting", "offline"):
            status.connection = "online"

    def _balance_failed(self, error: BaseException) -> None:
        """Keep the last balance, marked stale with why; try again later, each time later."""
        status = self.status
        status.balance_stale = True
        status.stale_reason = stale_reason(error)
        if status.balance is None or status.stale_reason == "offline":
            status.connection = "offline"
        delay = self.balance_backoff.failed()
        self._balance_retry_at = time.monotonic() + delay
        self.set_timer(delay, self._poll_balance)
        self.log.warning(f"balance refresh failed ({status.stale_reason}); next try in {delay:g} s")

    @work(thread=True, exclusive=True, group="models")
    def load_models(self) -> None:
        try:
            models = self.account.models()
        except Exception as error:
            deliver(self, self._models_failed, error)
        else:
            deliver(self, self._models_loaded, list(models))

    def _models_failed(self, error: BaseException) -> None:
        delay = self.models_backoff.failed()
        self.selector.set_models_failed(
            f"Could not list models ({stale_reason(error)}): {error}\nTrying again in {delay:g} s."
        )
        self.set_timer(delay, self.load_models)

    def _models_loaded(self, models: list[str]) -> None:
        self.models_backoff.succeeded()
        self.known_models = models
        self.selector.set_models(models)

    @work(thread=True, exclusive=True, group="providers")
    def load_providers(self, model: str) -> None:
        if not self.capabilities.provider_choice:
            return
        try:
            providers = self.account.providers(model)
        except Exception as error:
            deliver(self, self._providers_failed, model, error)
            return
        deliver(self, self._providers_loaded, model, list(providers))

    def _providers_failed(self, model: str, error: BaseException) -> None:
        """The routing modes still work; say why the providers are missing, try again later
        (each time later) while the panel still shows this model."""
        delay = self.providers_backoff.failed()
        self.selector.set_providers(model, [])
        self.selector.set_providers_note(
            model,
            f"Could not list the providers ({stale_reason(error)}); trying again in {delay:g} s. "
            "The routing modes work meanwhile.",
        )
        self.log.warning(f"providers of {model}: {error}")
        self.set_timer(delay, partial(self._retry_providers, model))

    def _retry_providers(self, model: str) -> None:
        if self.selector.model == model:
            self.load_providers(model)

    def _providers_loaded(self, model: str, providers: list[str]) -> None:
        self.providers_backoff.succeeded()
        self.selector.set_providers(model, providers)

    def load_details(self, endpoint: str) -> None:
        """Load the prices and context window of the concrete ``endpoint``: for the panel while
        it shows that endpoint, and for the live spend estimate of a reply it serves.

        A transient failure is tried again later (``_details_failed``); this request replaces
        any retry of ``endpoint`` still pending.
        """
        self._cancel_details_retry(endpoint)
        self._fetch_details(endpoint)

    @work(thread=True, group="details")
    def _fetch_details(self, endpoint: str) -> None:
        try:
            details = self.account.endpoint_details(endpoint)
        except Exception as error:
            deliver(self, self._details_failed, endpoint, error)
            return
        deliver(self, self._details_loaded, endpoint, details)

    def _details_shown(self, endpoint: str) -> bool:
        """True while the panel shows the details of ``endpoint`` (the endpoint in use)."""
        return self.endpoint == endpoint

    def _details_wanted(self, endpoint: str) -> bool:
        """Still worth loading: the panel shows it, or a reply it serves is streaming now (the
        live spend estimate needs its prices; a later reply asks again by itself)."""
        if self.account is None:
            return False
        if self._details_shown(endpoint):
            return True
        serving = self.streaming and self.status.served_endpoint == endpoint
        return serving and endpoint not in self._details

    def _details_failed(self, endpoint: str, error: BaseException) -> None:
        """Say why the details are missing; try a transient failure (429, 5xx, offline) again
        later, each time later, while they are still wanted. What cannot succeed (the gateway
        kind has no details, an unknown endpoint, a refused key) is said once, not retried."""
        shown = self._details_shown(endpoint)
        if isinstance(error, GatewayError):
            transient = is_retryable(error)  # never UnsupportedByGateway, 400, 401, 404
        else:
            transient = isinstance(error, OSError)
        if not transient or not self._details_wanted(endpoint):
            if shown:
                # what the gateway kind cannot do is said in its own words
                text = error.detail if isinstance(error, UnsupportedByGateway) else error
                self.selector.set_details(endpoint, f"No details: {text}")
            return
        delay = self.details_backoff.failed()
        if shown:
            self.selector.set_details(
                endpoint,
                f"Could not load the details ({stale_reason(error)}); trying again in {delay:g} s.",
            )
        self.log.warning(f"details of {endpoint}: {error}; next try in {delay:g} s")
        self._cancel_details_retry(endpoint)  # one pending retry per endpoint
        self._details_retries[endpoint] = self.set_timer(
            delay, partial(self._retry_details, endpoint)
        )

    def _retry_details(self, endpoint: str) -> None:
        self._details_retries.pop(endpoint, None)
        if self._details_wanted(endpoint):
            self.load_details(endpoint)

    def _cancel_details_retry(self, endpoint: str) -> None:
        timer = self._details_retries.pop(endpoint, None)
        if timer is not None:
            timer.stop()

    def _details_loaded(self, endpoint: str, details: Any) -> None:
        self.details_backoff.succeeded()
        self._details[endpoint] = details
        if self._live is not None and self._live[0].served_endpoint == endpoint:
            self._tick_live()
        if self._details_shown(endpoint):
            context = f"{details.context_window:,}" if details.context_window else "?"
            self.selector.set_details(
                endpoint,
                f"${details.input_cost:g} in · ${details.output_cost:g} out per M tokens\n"
                f"context window {context} tokens",
            )

    # -- switching model ------------------------------------------------------------------

    def switch_endpoint(self, endpoint: str) -> bool:
        """Use ``endpoint`` from the next message on. History is kept. False if invalid."""
        endpoint = endpoint.strip()
        problem = self.endpoint_problem(endpoint)
        if problem is not None:
            # The message quotes what was typed (or a server's model name): data, not markup.
            self.notify(
                inert(problem), title="Not a valid endpoint", severity="error", markup=False
            )
            return False
        if endpoint == self.endpoint:
            return True
        old, self.endpoint = self.endpoint, endpoint
        if not self._details_wanted(old):
            self._cancel_details_retry(old)  # the panel no longer shows it
        self._record_settings(model=endpoint)
        self.chat_log.add_marker(endpoint)
        self.selector.set_current(endpoint)
        self.notify(inert(f"Next messages go to {endpoint}"), timeout=2, markup=False)
        try:
            parsed = parse_endpoint(endpoint)
            concrete = not parsed.is_routing and not parsed.is_fallback
        except EndpointError:
            concrete = True  # a plain model name (OpenAI-compatible) or a native OpenRouter id
        if self.account is not None and concrete:
            self.load_details(endpoint)
        else:
            self.selector.set_details(endpoint, "")
        model = model_of(endpoint)
        if (
            self.account is not None
            and self.capabilities.provider_choice
            and "->" not in endpoint  # (a fallback chain lists nothing)
            and model != model_of(old)
        ):
            self.load_providers(model)  # another model (typed, palette): its own providers
        return True

    def switch_model(self, model: str) -> None:
        """Switch model, keeping a routing mode (or the provider when it serves the model)."""
        if not self.capabilities.provider_choice:
            self.switch_endpoint(model)  # a plain server runs the model it is asked for
            return
        try:
            current = parse_endpoint(self.endpoint)
        except EndpointError:  # e.g. a native OpenRouter id: start from a routing mode
            current = parse_endpoint(f"{model}@{ROUTING_MODES[0]}")
        provider = current.provider if current.is_routing else ROUTING_MODES[0]
        if not current.is_routing:
            provider = current.provider
        same_model = model == model_of(self.endpoint)
        self.switch_endpoint(f"{model}@{provider}")  # (lists another model's providers)
        if self.account is not None and same_model:
            self.load_providers(model)  # chosen again: list them again (e.g. after a failure)

    @on(SelectorPanel.EndpointChosen)
    def _endpoint_chosen(self, event: SelectorPanel.EndpointChosen) -> None:
        self.switch_endpoint(event.endpoint)

    @on(SelectorPanel.ModelHighlighted)
    def _model_highlighted(self, event: SelectorPanel.ModelHighlighted) -> None:
        if self.account is not None:
            self.load_providers(event.model)

    @on(SelectorPanel.ToggleChanged)
    def _toggle_changed(self, event: SelectorPanel.ToggleChanged) -> None:
        setattr(self, event.name, event.value)

    # -- reactives ------------------------------------------------------------------------

    def watch_show_credits(self, value: bool) -> None:
        self._apply_toggles()

    def watch_show_provider(self, value: bool) -> None:
        self._apply_toggles()

    def _apply_toggles(self) -> None:
        if not self.ui_ready:
            return
        self.status.show_credits = self.show_credits
        self.status.show_provider = self.show_provider
        self.selector.set_toggles(show_credits=self.show_credits, show_provider=self.show_provider)
        for reply in self.chat_log.replies:
            if reply.message.outcome is not None:
                reply.refresh_provenance(
                    show_credits=self.show_credits, show_provider=self.show_provider
                )

    def watch_paused(self, paused: bool) -> None:
        if not self.ui_ready:
            return
        self.status.paused = paused
        if not paused:
            self.status.paused_note = ""
        if self._reply_view is not None:
            self._reply_view.set_hold(paused)
            if not paused and not self.streaming:
                self._reply_view = None
        for button in self.query("#pause-button").results(Button):  # none before on_ready
            button.label = self._pause_label()
        self.refresh_bindings()

    def _pause_label(self) -> str:
        return "▶ Resume (ctrl+s)" if self.paused else "⏸ Pause (ctrl+s)"

    def watch_streaming(self, streaming: bool) -> None:
        if not self.ui_ready:
            return
        self.query_one("#reply-controls").set_class(streaming, "-visible")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return True if self.streaming else None
        if action == "pause":
            return self.streaming and not self.paused
        if action == "resume":
            return self.paused
        return True

    # -- actions --------------------------------------------------------------------------

    def action_stop(self) -> None:
        if self.streaming:
            self.workers.cancel_group(self, "reply")

    def action_pause(self) -> None:
        if self.streaming:
            self.paused = True

    def action_resume(self) -> None:
        self.paused = False

    def action_retry(self) -> None:
        cards = list(self.chat_log.query(ErrorCard))
        if cards and cards[-1].can_retry:
            self._retry(cards[-1])
        else:
            self.notify("Nothing to retry.", timeout=2)

    @on(ErrorCard.RetryRequested)
    def _retry_requested(self, event: ErrorCard.RetryRequested) -> None:
        self._retry(event.card)

    def _retry(self, card: ErrorCard) -> None:
        """Send the failed turn again: drop the failed reply, keep the user's message."""
        if self.streaming:
            return
        last = self.conversation.last_reply
        if last is None or last.outcome is not Outcome.ERROR:
            card.remove()
            return
        self.conversation.messages.remove(last)
        self._record_removed(last)
        for view in self.chat_log.replies:
            if view.message is last:
                view.remove()
        card.remove()
        user = self.conversation.messages[-1] if self.conversation.messages else None
        if user is not None and user.role == "user":
            if self.prompt.text == user.content:
                self.prompt.clear()
            self._begin_reply(user.content)

    def action_toggle_panel(self) -> None:
        self.selector.display = not self.selector.display

    def action_switch_model(self) -> None:
        self.action_command_palette()

    def action_new_conversation(self) -> None:
        self.workers.cancel_group(self, "reply")
        self._leave_conversation()
        self.conversation = Conversation()
        self._apply_settings(self.conversation_settings)
        self.chat_log.clear_turns()
        self.status.total_cost = 0.0
        self.status.last_cost = None
        self.chat_log.add_notice(f"New conversation with {self.endpoint}.")

    def action_clear_history(self) -> None:
        self.workers.cancel_group(self, "reply")
        self._record_cleared()
        self.conversation.clear()
        self.chat_log.clear_turns()
        self.status.total_cost = self.conversation.total_cost
        self.chat_log.add_notice("History cleared: the next message starts afresh.")

    def action_toggle_credits(self) -> None:
        self.show_credits = not self.show_credits

    def action_toggle_provider(self) -> None:
        self.show_provider = not self.show_provider

    def action_refresh_balance(self) -> None:
        if self.account is None or not self.capabilities.has_balance:
            reason = self.capabilities.reason("has_balance") or "This gateway has no balance."
            self.notify(reason, timeout=3)
            return
        self.refresh_balance()

    def action_copy_reply(self) -> None:
        last = self.conversation.last_reply
        if last is None or not last.content:
            self.notify("No reply to copy yet.", timeout=2)
            return
        self.copy_to_clipboard(last.content)
        self.notify("Copied the last reply.", timeout=2)

    def action_copy_code(self) -> None:
        # From the conversation, not the log's widgets: old pages of a long log may be folded.
        for message in reversed(self.conversation.messages):
            blocks = code_blocks(message.content) if message.role == "assistant" else []
            if blocks:
                self.copy_to_clipboard(blocks[-1])
                self.notify("Copied the last code block.", timeout=2)
                return
        self.notify("No code block to copy yet.", timeout=2)

    @on(Button.Pressed, "#stop-button")
    def _stop_pressed(self) -> None:
        self.action_stop()

    @on(Button.Pressed, "#pause-button")
    def _pause_pressed(self) -> None:
        if self.paused:
            self.action_resume()
        else:
            self.action_pause()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands: list[tuple[str, str, Callable[[], Any]]] = [
            ("Stop reply", "Stop the reply; the partial text is kept", self.action_stop),
            ("Pause reply", "Hold the log still while the reply keeps arriving", self.action_pause),
            ("Resume reply", "Show everything that arrived while paused", self.action_resume),
            ("Retry", "Send the failed message again", self.action_retry),
            (
                "Toggle model panel",
                "Show or hide the model/provider panel",
                self.action_toggle_panel,
            ),
            ("New conversation", "Start a new conversation", self.action_new_conversation),
            (
                "Conversations",
                "Open, search, rename or delete saved conversations",
                self.action_conversations,
            ),
            (
                "Conversation settings",
                "System prompt, temperature, max tokens, spend cap",
                self.action_settings,
            ),
            (
                "Export conversation as Markdown",
                "Write this conversation to a .md file",
                self.action_export_markdown,
            ),
            (
                "Export conversation as JSON",
                "Write this conversation to a .json file",
                self.action_export_json,
            ),
            ("Clear history", "Forget this conversation's messages", self.action_clear_history),
            ("Toggle credits", "Show or hide costs and the balance", self.action_toggle_credits),
            ("Toggle provider", "Show or hide the serving provider", self.action_toggle_provider),
            ("Refresh balance", "Ask the gateway for the balance now", self.action_refresh_balance),
            ("Copy last reply", "Copy the last reply to the clipboard", self.action_copy_reply),
            ("Copy last code block", "Copy the last fenced code block", self.action_copy_code),
            ("Enter API key", "Paste the API key (kept privately)", self.action_enter_key),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)


def _describe_failure(error: Any, reply: Message) -> tuple[str, str]:
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
        "MalformedResponse": "The gateway sent something unreadable",
    }
    title = titles.get(kind, "The reply failed")
    if status:
        title = f"{title} (HTTP {status})"
    if reply.content:
        title += "; the partial reply above is kept"
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        wait = _duration(retry_after)
        detail = f"{detail}\nThe gateway asked to wait {wait} before trying again."
    served = reply.served_endpoint or reply.requested_endpoint
    if served:
        detail = f"{detail}\nEndpoint: {served} (provider: {provider_of(served) or '?'})"
    return title, detail


def _duration(seconds: float) -> str:
    """A wait in plain words: "45 s", "3 min", "2 h"."""
    if seconds < 120:
        return f"{math.ceil(seconds)} s"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} min"
    return f"{math.ceil(seconds / 3600)} h"
