"""The full-screen Textual app: chat log, prompt, selector panel, status bar.

The app is one client of the core: it owns the Conversation (the one source of truth for history
and spend), runs the streaming reply in an exclusive async worker, and runs blocking account calls
(balance, listings) in thread workers. Widgets never touch the network.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.driver import Driver
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button

from tui_chat.bindings import BINDING_IDS
from tui_chat.config import DEFAULT_MODEL, AppConfig, GatewayProfile
from tui_chat.connection import PendingConnection, ProfileConnector
from tui_chat.core.conversation import Conversation, Outcome
from tui_chat.core.endpoint import (
    ROUTING_MODES,
    EndpointError,
    model_of,
    parse_endpoint,
    provider_of,
)
from tui_chat.core.provider_facts import measured_speeds
from tui_chat.core.text import inert
from tui_chat.gateways.base import UNIFY_CAPABILITIES, Capabilities
from tui_chat.ui.account_watch import (
    AccountWatch,
    BalanceFailed,
    BalanceLoaded,
    BalanceNotReported,
    DetailsFailed,
    DetailsLoaded,
    ModelsFailed,
    ModelsLoaded,
    ProviderFactsLoaded,
    ProvidersFailed,
    ProvidersLoaded,
)
from tui_chat.ui.bindings import textual_bindings
from tui_chat.ui.branches import Branches
from tui_chat.ui.commands import PALETTE_ACTIONS, ModelCommands
from tui_chat.ui.gateway_switcher import (
    GatewayCommands,
    GatewayConnected,
    GatewayKeyMissing,
    GatewaySwitcher,
    GatewaySwitchFailed,
)
from tui_chat.ui.key_flow import KeyFlow, KeyNotSaved, KeySaved
from tui_chat.ui.ordered_keys import run_in_order
from tui_chat.ui.reply_stream import HttpStackLoaded, ReplyFinished, ReplyStreamer
from tui_chat.ui.saved_conversations import SavedConversations, StoreOpener
from tui_chat.ui.saved_messages import (
    ConversationDeleted,
    ConversationListReady,
    ConversationWriteFailed,
    ExportFailed,
    ExportWritten,
    SaveFailed,
    SavesWaiting,
    StoreOpened,
    StoreWaiting,
)
from tui_chat.ui.spend_watch import SpendWatch, StoredSpendLoaded
from tui_chat.ui.widgets.budget_card import BudgetCard
from tui_chat.ui.widgets.chat_log import ChatLog
from tui_chat.ui.widgets.footer import KeyFooter
from tui_chat.ui.widgets.markdown_stream import code_blocks
from tui_chat.ui.widgets.messages import ErrorCard
from tui_chat.ui.widgets.prompt_stand_in import PromptStandIn
from tui_chat.ui.widgets.selector import SelectorPanel
from tui_chat.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from rich.console import RenderableType
    from textual.widgets import TextArea

    from tui_chat.core.conversation import ConversationSettings
    from tui_chat.gateways.base import Account, Gateway
    from tui_chat.keys import KeyringChoice
    from tui_chat.store import Store
    from tui_chat.store.recorder import ConversationRecorder
    from tui_chat.ui.screens.conversations import OpenConversation
    from tui_chat.ui.widgets.prompt_input import PromptInput

WIDE_TERMINAL = 110  # columns from which the selector panel shows by default
CHAT_MIN_COLUMNS = 60  # a resize that would leave the chat less than this hides the panel
PANEL_COLUMNS = (30, 42)  # the panel's width: what the chat leaves, within these bounds


def _terminal_hung_up() -> bool:
    """True when the terminal the app runs in has hung up (poll reports POLLHUP on it)."""
    import select

    if not hasattr(select, "poll"):
        return False
    poll = select.poll()
    for stream in (sys.__stdin__, sys.__stderr__):  # what Textual's Linux driver reads, writes
        try:
            poll.register(stream.fileno(), select.POLLOUT)  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            continue
    return any(events & (select.POLLHUP | select.POLLERR) for _, events in poll.poll(0))


class UnifyTUI(App[None]):
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

    gateway: Gateway | None  # None: no key yet, nothing is sent
    account: Account | None  # None: nothing to list (or no key yet)
    startup_problem: str | None
    # The collaborators, built in __init__.
    saved: SavedConversations
    account_watch: AccountWatch
    replies: ReplyStreamer

    show_credits: reactive[bool] = reactive(True)
    show_provider: reactive[bool] = reactive(True)
    paused: reactive[bool] = reactive(False)
    streaming: reactive[bool] = reactive(False)

    def __init__(
        self,
        *,
        gateway: Gateway | None,
        account: Account | None,
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
        remember_theme: Callable[[str], None] | None = None,
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
        # reopened at start continues with it instead of its saved model (SavedConversations).
        self.pin_model = pin_model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.clock = clock  # seconds; injected so tests and snapshots can pin timings
        self._prompt: PromptInput | None = None  # built after the first frame (prompt)
        self._exit_signal: int | None = None  # SIGTERM or SIGHUP, once one has come
        # True between mount and unmount: watchers that touch widgets check it. (App.is_mounted
        # is a method taking a widget, so `if self.is_mounted` was always true.)
        self.ui_ready = False
        # Called once, in a thread, when the first frame is on screen: what the first frame need
        # not wait for (the demo gateway's start, re-enabling the garbage collector).
        self._after_first_frame = list(after_first_frame)
        # Called in that thread once the warm-up has imported what the first reply needs (the
        # command line freezes the heap there: see cli._run_app).
        self._after_warm_up = list(after_warm_up)
        self.set_reactive(UnifyTUI.show_credits, show_credits)
        self.set_reactive(UnifyTUI.show_provider, show_provider)
        # Saved conversations (tui_chat/ui/saved_conversations.py); store None: chat without
        # saving. ``store``, or ``open_store`` to open it after the first frame (the command
        # line's way).
        self.saved = SavedConversations(
            self,
            store=store,
            store_notice=store_notice,
            export_dir=export_dir,
            flush_interval_s=save_interval_s,
            open_store=open_store,
            live_reply=lambda: self.replies.live_reply,
        )
        # What the account reports, and the reply in flight.
        self.account_watch = AccountWatch(self, balance_poll_s=balance_poll_s)
        # Budgets, low balance, billed vs reported, routing presets (tui_chat/ui/spend_watch.py).
        self.spend_watch = SpendWatch(self)
        self.replies = ReplyStreamer(
            self, saving=self.saved, account=self.account_watch, spending=self.spend_watch
        )
        self.branches = Branches(self, replies=self.replies, saving=self.saved)
        # From config.toml: defaults a conversation's own settings
        # override; spend_cap in credits per conversation.
        self.config = config
        self.default_system_prompt = system_prompt
        self.default_spend_cap = spend_cap
        self.conversation.system_prompt = system_prompt
        # The connection still to make at start-up (tui_chat/ui/key_flow.py asks for its key).
        self.pending_connection: PendingConnection | None = pending_connection
        self.startup_notice = startup_notice
        self.theme_name = theme
        # Called with the theme the user picks (the palette's "Change theme"); None: forgotten.
        self._remember_theme = remember_theme
        self._theme_set_up = False  # the theme of the start is not a pick
        self.keymap_setting: dict[str, str] = dict(keymap or {})
        if self.keymap_setting:
            self.set_keymap(self.keymap_setting)
        self._panel_wanted = False  # the selector panel: shown when wanted and there is room
        # (model, provider) kept by "Switch model" until the model's providers are listed.
        self._kept_provider: tuple[str, str] | None = None
        self.capabilities: Capabilities = getattr(gateway, "capabilities", None) or (
            # still waiting for a key: what its kind can do is known already
            _kind_capabilities(pending_connection.profile.kind)
            if pending_connection is not None
            else UNIFY_CAPABILITIES
        )
        self.key_flow = KeyFlow(self)
        # Gateway profiles the selector can switch between (tui_chat/ui/gateway_switcher.py).
        self.switcher = GatewaySwitcher(
            self,
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
                chat_log = ChatLog(id="chat-log")
                # "2/3" on turns with alternates, from whichever conversation is shown.
                chat_log.alternate_of = lambda message: self.conversation.alternate_position(
                    message
                )
                yield chat_log
                # Its Stop and Pause buttons are mounted after the first frame (on_ready): they
                # are hidden until a reply streams, and Button's stylesheet is Textual's largest.
                yield Horizontal(id="reply-controls")
                # The real prompt (a TextArea) is built after the first frame: see prompt.
                yield PromptStandIn(id="prompt-stand-in")
            yield SelectorPanel(id="selector")
        yield StatusBar(id="status")
        yield KeyFooter()

    @property
    def chat_log(self) -> ChatLog:
        return self.query_one(ChatLog)

    @property
    def prompt(self) -> PromptInput:
        """The prompt box. The first frame shows a stand-in (ui/widgets/prompt_stand_in.py); the
        prompt replaces it when the first frame is up (on_ready), or here on first use."""
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

    def get_driver_class(self) -> type[Driver]:
        from tui_chat.ui.terminal_keys import use_key_parser

        return use_key_parser(super().get_driver_class())  # alt+enter as terminals send it

    async def on_event(self, event: events.Event) -> None:
        # A key bound by the focused widget runs in turn, not after the keys typed behind it
        # (tui_chat/ui/ordered_keys.py).
        if isinstance(event, events.Key) and not event.is_forwarded:
            self.app_focus = True
            if await run_in_order(self, event):
                return
        await super().on_event(event)

    def on_mount(self) -> None:
        self.ui_ready = True
        if not self.is_headless:  # a real terminal (not a test's), and its signals
            self._exit_on_signals()
        status = self.status
        status.gateway = self.gateway_label
        status.show_credits = self.show_credits
        status.show_provider = self.show_provider
        status.spend_cap = self.spend_cap
        self.selector.set_current(self.endpoint)
        self.selector.set_toggles(show_credits=self.show_credits, show_provider=self.show_provider)
        self.selector.set_gateway_note(self.gateway_label)
        self.switcher.mount()
        self._panel_wanted = self.size.width >= WIDE_TERMINAL
        self._fit_panel()
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
        self.saved.start()  # with a store given; one opened after the first frame: later
        self.spend_watch.start()
        self.key_flow.connect_pending()

    def _exit_on_signals(self) -> None:
        """SIGTERM and SIGHUP end the app as ctrl+q does, not at once.

        By default they end the process on the spot: the partial reply unsaved and the terminal
        left in the alternate screen with mouse tracking on and no cursor. Handled here, the app
        exits the usual way (the partial reply saved, the terminal restored) with status
        128 + the signal's number, which is how a shell reports a process ended by that signal,
        so a supervisor still sees why it ended. A second one ends the process at once.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            try:
                loop.add_signal_handler(signum, self._on_exit_signal, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                return  # no signal handlers on this loop or platform: the default stays

    def _on_exit_signal(self, signum: int) -> None:
        if _terminal_hung_up():
            # The terminal is gone (its window or tmux pane closed, which is what sends
            # SIGHUP): there is nothing to restore, and Textual's shutdown would wait for ever
            # to write to it (its writer thread ends at the first failed write). Save what was
            # arriving (stopped, as a quit leaves it), finish the database's writes, end here.
            reply = self.replies.live_reply
            if reply is not None:
                reply.mark_stopped()
                reply.end(self.clock())
            self.saved.stop()
            os._exit(128 + signum)
        if self._exit_signal is not None:  # already ending, and asked again: end now
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        self._exit_signal = signum
        self.exit(return_code=128 + signum)

    def on_ready(self, event: events.Ready) -> None:
        """The first frame is on screen: now build and start what it did not need."""
        if self._prompt is None:
            self._build_prompt()  # in the stand-in's place
        self.saved.open_store_in_background()  # if it opens it itself; then reopens the last
        self.selector.call_next(self.selector.build)  # its widgets (and their stylesheets)
        self.query_one("#reply-controls").mount(
            Button("■ Stop (esc)", id="stop-button", compact=True),
            Button(self._pause_label(), id="pause-button", compact=True),
        )
        self._warm_up()
        self.account_watch.start()

    @work(thread=True, exclusive=True, group="warm-up")
    def _warm_up(self) -> None:
        """After the first frame, in a thread: the caller's start-up work (the demo gateway),
        then the HTTP client stack the first message needs (~0.5 s kept out of start-up and out
        of the first reply's wait; benchmarks/bench_startup.py) and the code highlighters, so no
        frame of a first reply stalls on them."""
        from tui_chat.gateways.http_stacks import warm_up
        from tui_chat.ui.widgets.markdown_stream import warm_up_highlighting

        for job in self._after_first_frame:
            job()
        warm_up()
        self.post_message(HttpStackLoaded())  # now the gateway's connection can be opened
        warm_up_highlighting()
        for job in self._after_warm_up:
            job()

    def use_gateway(self, gateway: Gateway, account: Account | None, label: str) -> None:
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
        self.switcher.apply_capabilities()  # e.g. "Balance n/a" once a key connected a kind
        self.account_watch.start()

    @property
    def spend_cap(self) -> float | None:
        """The cap in force, in credits: the conversation's own, else config.toml's."""
        return self.saved.spend_cap

    async def on_unmount(self) -> None:
        self.ui_ready = False
        self.saved.stop()
        # Close the HTTP client while its event loop is still running.
        if self.gateway is not None:
            await self.gateway.aclose()

    # -- sending and the reply worker -----------------------------------------------------

    def on_http_stack_loaded(self, message: HttpStackLoaded) -> None:
        self.replies.prepare()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if event.text_area is self._prompt:  # typing a message: get the gateway ready for it
            self.replies.prepare()

    def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        event.stop()
        self.send(event.text)

    def send(self, text: str) -> None:
        """Send a prompt (``ReplyStreamer.send``). On any refusal the typed text stays."""
        self.replies.send(text)

    @property
    def known_models(self) -> list[str]:
        """The gateway's models, as last listed (empty until then)."""
        return self.account_watch.known_models

    @known_models.setter
    def known_models(self, models: list[str]) -> None:
        self.account_watch.known_models = models

    # -- what the thread workers report --------------------------------------------------
    # A result can arrive while the app closes (the screens already gone): then it is dropped,
    # since nobody is left to show it.

    @property
    def showing(self) -> bool:
        """True while the app's widgets are there to show what a worker reports."""
        return self.ui_ready and self.is_running

    @on(ReplyFinished)
    def _reply_finished(self, event: ReplyFinished) -> None:
        if self.showing:  # older turns of a long session fold away like stored ones (memory)
            self.chat_log.page_live_turns(self.conversation.messages)
        if self.showing:
            self.spend_watch.reply_finished(event.message)
        if self.showing and self.account is not None and not event.message.is_failed:
            self.account_watch.refresh_balance()
            self.account_watch.gateway_answered()  # listings that failed meanwhile: now

    @on(BalanceLoaded)
    def _balance_loaded(self, event: BalanceLoaded) -> None:
        if self.showing:
            self.account_watch.balance_loaded(event.balance)
            self.spend_watch.balance_loaded(
                event.balance,
                event.requested_at,
                save=lambda reply: self.saved.message_changed(reply, final=True),
            )

    @on(StoredSpendLoaded)
    def _stored_spend_loaded(self, event: StoredSpendLoaded) -> None:
        if self.showing:
            self.spend_watch.stored_loaded(event)

    @on(BudgetCard.SendAnyway)
    def _send_anyway(self, event: BudgetCard.SendAnyway) -> None:
        self.replies.send_anyway(event.card)

    def action_billing_summary(self) -> None:
        """The session's billed vs reported reconciliation, in a notification."""
        self.notify(
            self.spend_watch.reconciliation(), title="Billed vs reported (this session)", timeout=15
        )

    @on(BalanceNotReported)
    def _balance_not_reported(self, event: BalanceNotReported) -> None:
        if self.showing:
            self.account_watch.balance_not_reported()

    @on(BalanceFailed)
    def _balance_failed(self, event: BalanceFailed) -> None:
        if self.showing:
            self.account_watch.balance_failed(event.error)

    @on(ModelsLoaded)
    def _models_loaded(self, event: ModelsLoaded) -> None:
        if self.showing:
            self.account_watch.models_loaded(event.models)

    @on(ModelsFailed)
    def _models_failed(self, event: ModelsFailed) -> None:
        if self.showing:
            self.account_watch.models_failed(event.error)

    @on(ProvidersLoaded)
    def _providers_loaded(self, event: ProvidersLoaded) -> None:
        if self.showing:
            self.account_watch.providers_loaded(event.model, event.providers)
            self._check_kept_provider(event.model, event.providers)

    def _check_kept_provider(self, model: str, providers: list[str]) -> None:
        """After "Switch model: X" kept the provider in use: keep it only if the gateway lists
        it for X; else fall back to a routing mode, and say so (a provider that does not serve
        X failed the next send)."""
        kept = self._kept_provider
        if kept is None or kept[0] != model:
            return  # (a listing of another model, still on its way)
        self._kept_provider = None
        provider = kept[1]
        if provider_of(self.endpoint) != provider or not providers or provider in providers:
            return  # moved on meanwhile, nothing listed to judge by, or it serves the model
        fallback = f"{model}@{ROUTING_MODES[0]}"
        self.switch_endpoint(fallback)
        self.notify(
            inert(f"{provider} does not serve {model}; using {fallback} instead."),
            timeout=5,
            markup=False,
        )

    @on(ProvidersFailed)
    def _providers_failed(self, event: ProvidersFailed) -> None:
        if self.showing:
            self.account_watch.providers_failed(event.model, event.error)

    @on(DetailsLoaded)
    def _details_loaded(self, event: DetailsLoaded) -> None:
        if not self.showing:
            return
        self.account_watch.details_loaded(event.endpoint, event.details)
        live = self.replies.live_reply
        if live is not None and live.served_endpoint == event.endpoint:
            self.replies.tick_live()  # its prices are known now

    @on(SelectorPanel.ProviderFactsWanted)
    def _provider_facts_wanted(self, event: SelectorPanel.ProviderFactsWanted) -> None:
        event.stop()
        self.account_watch.load_provider_facts(event.model, event.providers)

    @on(ProviderFactsLoaded)
    def _provider_facts_loaded(self, event: ProviderFactsLoaded) -> None:
        if self.showing:
            speeds = measured_speeds(self.conversation.messages, event.model)
            self.account_watch.provider_facts_loaded(event.model, event.details, speeds)

    @on(DetailsFailed)
    def _details_failed(self, event: DetailsFailed) -> None:
        if self.showing:
            self.account_watch.details_failed(event.endpoint, event.error)

    # -- switching model ------------------------------------------------------------------

    def load_listings(self, endpoint: str) -> None:
        """Ask for the providers of ``endpoint``'s model and, if it is concrete, its details,
        for the panel (an endpoint set without ``switch_endpoint``: a reopened conversation's)."""
        if self.account is None:
            return
        try:
            parsed = parse_endpoint(endpoint)
        except EndpointError:
            return
        if self.capabilities.provider_choice and not parsed.is_fallback:
            self.account_watch.load_providers(parsed.model)
        if not parsed.is_routing and not parsed.is_fallback:
            self.account_watch.load_details(endpoint)

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
        watch = self.account_watch
        if not watch.details_wanted(old):
            watch.cancel_details_retry(old)  # the panel no longer shows it
        self.saved.settings_changed(model=endpoint)
        self.chat_log.add_marker(endpoint)
        self.selector.set_current(endpoint)
        self.notify(inert(f"Next messages go to {endpoint}"), timeout=2, markup=False)
        try:
            parsed = parse_endpoint(endpoint)
            concrete = not parsed.is_routing and not parsed.is_fallback
        except EndpointError:
            concrete = True  # a plain model name (OpenAI-compatible) or a native OpenRouter id
        if self.account is not None and concrete:
            watch.load_details(endpoint)
        else:
            self.selector.set_details(endpoint, "")
        model = model_of(endpoint)
        if (
            self.account is not None
            and self.capabilities.provider_choice
            and "->" not in endpoint  # (a fallback chain lists nothing)
            and model != model_of(old)
        ):
            watch.load_providers(model)  # another model (typed, palette): its own providers
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
        provider = current.provider  # a routing mode applies to any model: kept as it is
        same_model = model == model_of(self.endpoint)
        # A concrete provider is kept for now and checked once the new model's providers are
        # listed (_check_kept_provider).
        self._kept_provider = None if current.is_routing else (model, provider)
        self.switch_endpoint(f"{model}@{provider}")  # (lists another model's providers)
        if self.account is not None and same_model:
            self.account_watch.load_providers(model)  # chosen again (e.g. after a failure)

    @on(SelectorPanel.EndpointChosen)
    def _endpoint_chosen(self, event: SelectorPanel.EndpointChosen) -> None:
        self.switch_endpoint(event.endpoint)
        # Back to typing: left in the panel, the next message went into a dropdown and was lost.
        self.prompt.focus()

    @on(SelectorPanel.ModelHighlighted)
    def _model_highlighted(self, event: SelectorPanel.ModelHighlighted) -> None:
        if self.account is not None:
            self.account_watch.load_providers(event.model)

    @on(SelectorPanel.ToggleChanged)
    def _toggle_changed(self, event: SelectorPanel.ToggleChanged) -> None:
        setattr(self, event.name, event.value)

    # -- reactives ------------------------------------------------------------------------

    def watch_theme(self, theme_name: str) -> None:
        # (Textual applies the theme in its own _watch_theme, called before this.) A theme
        # picked after start-up is remembered for the next start: config.toml is the user's
        # file and never written (tui_chat/config/state.py).
        if self._theme_set_up and self._remember_theme is not None and theme_name:
            self._remember_theme(theme_name)

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
        self.replies.hold(paused)
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
        elif cards and cards[-1].can_continue:  # the same key goes on at the token limit
            self.replies.continue_reply(cards[-1])
        elif (last := self.conversation.last_reply) and last.outcome is Outcome.LENGTH:
            self.replies.continue_reply(None)  # reopened: the card is not shown again
        elif self.conversation.messages and self.conversation.messages[-1].role == "assistant":
            self.branches.regenerate()  # nothing to retry: the finished reply again
        else:
            self.notify("Nothing to retry.", timeout=2)

    def action_regenerate(self) -> None:
        """ctrl+g: the last reply again on the same endpoint (the earlier one is kept)."""
        self.branches.regenerate()

    def action_regenerate_on(self) -> None:
        """The last reply again on an endpoint picked in the model picker."""
        from tui_chat.ui.screens.model_picker import (
            ModelPickerScreen,
            PickedEndpoint,
            PickedModel,
        )

        if isinstance(self.screen, ModelPickerScreen):
            return

        def picked(pick: PickedModel | PickedEndpoint | None) -> None:
            if isinstance(pick, PickedModel):
                self.switch_model(pick.model)
            elif pick is not None and not self.switch_endpoint(pick.endpoint):
                return
            if pick is not None:
                self.branches.regenerate()
            self.prompt.focus()

        picker = ModelPickerScreen(self.known_models, self.endpoint, self.endpoint_problem)
        self.push_screen(picker, picked)

    def action_previous_alternate(self) -> None:
        self.branches.flip(-1)

    def action_next_alternate(self) -> None:
        self.branches.flip(+1)

    def action_select_previous_turn(self) -> None:
        self.branches.select(-1)

    def action_select_next_turn(self) -> None:
        self.branches.select(+1)

    def action_edit_message(self) -> None:
        self.branches.edit()

    def action_export_alternates(self) -> None:
        self.saved.export("markdown", alternates=True)

    @on(ErrorCard.RetryRequested)
    def _retry_requested(self, event: ErrorCard.RetryRequested) -> None:
        self._retry(event.card)

    def _retry(self, card: ErrorCard) -> None:
        self.replies.retry(card)

    @on(ErrorCard.ContinueRequested)
    def _continue_requested(self, event: ErrorCard.ContinueRequested) -> None:
        self.replies.continue_reply(event.card)

    def action_log_page_up(self) -> None:
        # At once, not animated: each press is one page, and the view is where it lands.
        self.chat_log.scroll_page_up(animate=False)

    def action_log_page_down(self) -> None:
        self.chat_log.scroll_page_down(animate=False)

    def action_log_top(self) -> None:
        self.chat_log.action_scroll_home()

    def action_log_bottom(self) -> None:
        self.chat_log.action_scroll_end()

    def action_toggle_panel(self) -> None:
        # Asked for, the panel shows even where it leaves the chat narrow; resizes decide again.
        self._panel_wanted = not self.selector.display
        self._fit_panel(asked=True)

    def on_resize(self, event: events.Resize) -> None:
        if self.ui_ready:  # (the App's own size follows a moment later: the event's is new)
            self._fit_panel(event.size.width)

    def _fit_panel(self, width: int | None = None, *, asked: bool = False) -> None:
        """Show the panel when the user wants it and the chat keeps CHAT_MIN_COLUMNS (at 60x20
        a shown 42-column panel left a 16-column chat), narrowing it to 30 columns first; it
        comes back when there is room again. Asked for (ctrl+b), it shows even without room."""
        width = self.size.width if width is None else width
        low, high = PANEL_COLUMNS
        panel = max(low, min(high, width - CHAT_MIN_COLUMNS))
        self.selector.styles.width = panel
        room = width - panel >= CHAT_MIN_COLUMNS
        self.selector.display = self._panel_wanted and (room or asked)

    def action_switch_model(self) -> None:
        """Open the model picker (the palette's "Switch model: ..." entries stay as they are)."""
        from tui_chat.ui.screens.model_picker import (  # read on first use, not at start-up
            ModelPick,
            ModelPickerScreen,
            PickedModel,
        )

        if isinstance(self.screen, ModelPickerScreen):
            return  # already open

        def picked(pick: ModelPick | None) -> None:
            if isinstance(pick, PickedModel):
                self.switch_model(pick.model)
            elif pick is not None:
                self.switch_endpoint(pick.endpoint)
            self.prompt.focus()  # back to typing, wherever the focus was before

        picker = ModelPickerScreen(self.known_models, self.endpoint, self.endpoint_problem)
        self.push_screen(picker, picked)

    def action_new_conversation(self) -> None:
        self.workers.cancel_group(self, "reply")
        self.saved.leave_conversation()
        self.conversation = Conversation()
        self.saved.apply_settings(self.conversation_settings)
        self.chat_log.clear_turns()
        self.status.show_spend(self.conversation)
        self.chat_log.add_notice(f"New conversation with {self.endpoint}.")

    def action_clear_history(self) -> None:
        """Ask first (f8 is one key away from f7): the conversation goes from the screen and the
        next request starts afresh."""
        if not self.conversation.messages:
            self.notify("Nothing to clear.", timeout=2)
            return
        from tui_chat.ui.screens.dialogs import ConfirmScreen

        question = (
            f"Clear this conversation's history ({len(self.conversation.messages)} messages)? "
            "The next message starts afresh."
        )

        def answered(clear: bool | None) -> None:
            if clear:
                self._clear_history()

        self.push_screen(ConfirmScreen(question, confirm_label="Clear"), answered)

    def _clear_history(self) -> None:
        self.workers.cancel_group(self, "reply")
        self.saved.history_cleared()
        self.conversation.clear()
        self.chat_log.clear_turns()
        self.status.show_spend(self.conversation)
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
        self.account_watch.refresh_balance(asked=True)

    def action_help(self) -> None:
        from tui_chat.ui.screens.help import toggle_help  # read on first use, not at start-up

        toggle_help(self, self.keymap_setting)

    def action_copy_reply(self) -> None:
        last = self.conversation.last_reply
        if last is None or not last.content:
            self.notify("No reply to copy yet.", timeout=2)
            return
        self.copy_to_clipboard(last.content)
        self.notify("Copied the last reply.", timeout=2)

    def action_copy_code(self) -> None:
        # The last reply's own code only: one from an older reply, copied silently when the last
        # has none, is not what "the last code block" promises. From the conversation, not the
        # log's widgets (old pages of a long log may be folded).
        last = self.conversation.last_reply
        blocks = code_blocks(last.content) if last is not None else []
        if not blocks:
            self.notify("The last reply has no code block.", timeout=3)
            return
        self.copy_to_clipboard(blocks[-1])
        self.notify("Copied the last code block of the last reply.", timeout=2)

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
        for title, help_text, action in PALETTE_ACTIONS:
            yield SystemCommand(title, help_text, getattr(self, f"action_{action}"))

    # -- connecting, the key flow and gateway switching (ui/key_flow.py, ui/gateway_switcher.py)

    @property
    def profiles(self) -> dict[str, GatewayProfile]:
        """The gateway profiles the app can switch between, by name."""
        return self.switcher.profiles

    @property
    def profile_name(self) -> str | None:
        """The name of the gateway profile in use (None when the app was given no profiles)."""
        return self.switcher.profile_name

    @property
    def gateway_kind(self) -> str:
        """The kind of the profile in use ("unify" when the app was given no profiles)."""
        return self.switcher.gateway_kind

    def endpoint_problem(self, endpoint: str) -> str | None:
        """Why ``endpoint`` cannot go to the gateway in use, or None."""
        return self.switcher.endpoint_problem(endpoint)

    def switch_gateway(self, name: str) -> None:
        """Connect to profile ``name`` and chat through it from the next message on."""
        self.switcher.switch(name)

    def load_providers(self, model: str) -> None:
        """List the providers of ``model`` (for the switcher, after a switch)."""
        self.account_watch.load_providers(model)

    def forget_gateway_listings(self) -> None:
        """Drop the model list and endpoint details of the gateway being left (switching)."""
        self.account_watch.forget_account()

    def action_enter_key(self) -> None:
        """Set or replace the key: for the start-up connection still waiting for one, else for
        the profile in use (then connected again with it)."""
        if self.pending_connection is not None:
            self.key_flow.connect_pending()
            return
        if not self.switcher.replace_key():
            self.notify(
                inert(f"{self.gateway_label} takes no key here: it was given on the command line."),
                timeout=4,
                markup=False,
            )

    @on(ErrorCard.KeyRequested)
    def _key_requested(self, event: ErrorCard.KeyRequested) -> None:
        self.action_enter_key()

    @on(SelectorPanel.GatewayChosen)
    def _gateway_chosen(self, event: SelectorPanel.GatewayChosen) -> None:
        self.switcher.switch(event.name)

    @on(GatewayConnected)
    async def _gateway_connected(self, message: GatewayConnected) -> None:
        if not self.showing:
            return
        await self.switcher.connected(message)

    @on(GatewayKeyMissing)
    def _gateway_key_missing(self, message: GatewayKeyMissing) -> None:
        if not self.showing:
            return
        self.switcher.key_missing(message)

    @on(GatewaySwitchFailed)
    def _gateway_switch_failed(self, message: GatewaySwitchFailed) -> None:
        if not self.showing:
            return
        self.switcher.failed(message)

    @on(KeySaved)
    def _key_saved(self, message: KeySaved) -> None:
        if not self.showing:
            return
        self.key_flow.key_saved(message)

    @on(KeyNotSaved)
    def _key_not_saved(self, message: KeyNotSaved) -> None:
        if not self.showing:
            return
        self.key_flow.key_not_saved(message)

    def _apply_setup(self) -> None:
        """On mount: the theme and keymap checks, and the notice of what was wrong."""
        extra: list[str] = []
        if self.theme_name:
            if self.theme_name in self.available_themes:
                self.theme = self.theme_name
            else:
                known = ", ".join(sorted(self.available_themes))
                extra.append(f"theme: there is no theme {self.theme_name!r}; known: {known}")
        self._theme_set_up = True
        unknown = sorted(set(self.keymap_setting) - BINDING_IDS) if self.keymap_setting else []
        if unknown:
            extra.append(
                f"bindings: unknown binding id(s) {', '.join(unknown)}; "
                "see unify-tui --print-config for the ids"
            )
        notice = self.startup_notice
        if extra:
            lines = "\n".join(f"• {line}" for line in extra)
            notice = f"{notice}\n{lines}" if notice else f"Settings not applied:\n{lines}"
        if notice:
            self.chat_log.add_notice(notice)

    def panic(self, *renderables: RenderableType) -> None:
        """Textual's way out after a failure (an unhandled exception, the input thread dying).

        After an exception in a handler Textual has already set the return code 1; after a
        failure elsewhere it sets none, and the process would exit 0 as if the user had quit.
        """
        self.exit(return_code=1)
        super().panic(*renderables)

    def _fatal_error(self) -> None:
        """Exit after an unhandled exception, printing the traceback WITHOUT local variables.

        Textual's own crash report shows every frame's locals, and a frame on the way to the
        gateway can hold the API key as a plain string (a header, the openai client's
        arguments). The frames and the error still show, which is what a bug report needs.
        """
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(
            Segments(self.console.render(traceback, self.console.options))
        )
        self._close_messages_no_wait()

    # -- saved conversations (self.saved): the app's surface, actions and messages ------------

    @property
    def store(self) -> Store | None:
        """The conversation database (None: not saving, or not opened yet)."""
        return self.saved.store

    @property
    def recorder(self) -> ConversationRecorder | None:
        return self.saved.recorder

    @property
    def conversation_id(self) -> int | None:
        """The store id of the conversation on screen (None before its first message is saved)."""
        return self.saved.conversation_id

    @property
    def conversation_title(self) -> str | None:
        return self.saved.title

    @property
    def conversation_settings(self) -> ConversationSettings:
        return self.saved.settings

    @property
    def export_dir(self) -> Path | None:
        """Where exports go (None: ``store.export.default_export_dir()``)."""
        return self.saved.export_dir

    def open_conversation(self, conversation_id: int, message_id: int | None = None) -> None:
        self.saved.open_conversation(conversation_id, message_id)

    def restore_last_conversation(self) -> None:
        self.saved.restore_last_conversation()

    def action_conversations(self) -> None:
        self.saved.show_conversations()

    def action_spend(self) -> None:
        """f9: the spend screen over every saved reply (tui_chat/ui/screens/spend.py)."""
        from tui_chat.ui.screens.spend import SpendScreen  # not in start-up

        store = self.store
        if store is None:
            self.notify(
                "Conversations are not being saved in this session, so there is no spend to show.",
                severity="warning",
            )
            return
        if isinstance(self.screen, SpendScreen):
            return
        recorder = self.recorder
        spend = SpendScreen(
            store.path,
            flush=None if recorder is None else recorder.flush,
            export_dir=self.export_dir,
            session_billing=self.spend_watch.reconciliation,
        )
        self.push_screen(spend, self._spend_conversation_chosen)

    def _spend_conversation_chosen(self, choice: OpenConversation | None) -> None:
        if choice is None or choice.conversation_id == self.conversation_id:
            return
        if self.streaming:
            self.notify("Stop the reply (esc) before opening another conversation.")
            return
        self.open_conversation(choice.conversation_id)

    def action_compare(self) -> None:
        """ctrl+t: send the prompt to 2 to 4 endpoints at once (tui_chat/ui/screens/compare.py)."""
        from tui_chat.ui.screens.compare import open_compare  # not in start-up

        open_compare(self)

    def action_settings(self) -> None:
        self.saved.edit_settings()

    def action_export_markdown(self) -> None:
        self.saved.export("markdown")

    def action_export_json(self) -> None:
        self.saved.export("json")

    @on(StoreOpened)
    def _store_opened(self, event: StoreOpened) -> None:
        if not self.showing:
            return
        self.saved.store_opened(event)
        self.spend_watch.load_stored()

    @on(ConversationListReady)
    def _conversation_list_ready(self, event: ConversationListReady) -> None:
        if not self.showing:
            return
        self.saved.conversation_list_ready(event)

    @on(ConversationDeleted)
    def _conversation_deleted(self, event: ConversationDeleted) -> None:
        if not self.showing:
            return
        self.saved.conversation_deleted(event)

    @on(ConversationWriteFailed)
    def _conversation_write_failed(self, event: ConversationWriteFailed) -> None:
        if not self.showing:
            return
        self.saved.conversation_write_failed(event)

    @on(ExportWritten)
    def _export_written(self, event: ExportWritten) -> None:
        if not self.showing:
            return
        self.saved.export_written(event)

    @on(ExportFailed)
    def _export_failed(self, event: ExportFailed) -> None:
        if not self.showing:
            return
        self.saved.export_failed(event)

    @on(SaveFailed)
    def _save_failed(self, event: SaveFailed) -> None:
        if not self.showing:
            return
        self.saved.save_failed(event)

    @on(SavesWaiting)
    def _saves_waiting(self, event: SavesWaiting) -> None:
        if not self.showing:
            return
        self.saved.saves_waiting(event)

    @on(StoreWaiting)
    def _store_waiting(self, event: StoreWaiting) -> None:
        if not self.showing:
            return
        self.saved.store_waiting(event)


def _kind_capabilities(kind: str) -> Capabilities:
    """What a gateway kind can do (Unify's for a kind not known)."""
    from tui_chat.gateways.errors import ConfigurationError
    from tui_chat.gateways.factory import capabilities_for

    try:
        return capabilities_for(kind)
    except ConfigurationError:
        return UNIFY_CAPABILITIES
