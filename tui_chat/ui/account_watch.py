"""The account watch: balance, model and provider listings, endpoint details, and their backoff.

Every call to the account blocks (``requests``), so each runs in a thread worker that reports
back with a typed message (``BalanceLoaded``, ``ProvidersFailed``, ...). The App routes those
messages here (``UnifyTUI`` has one ``@on`` per message); this class decides what the panel and
the status bar show and when a failed poll is tried again (each time later: ``PollBackoff``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Protocol

from textual.message import Message as TextualMessage

from tui_chat.core.accounting import format_credits
from tui_chat.core.endpoint import EndpointError, parse_endpoint
from tui_chat.core.provider_facts import facts_line
from tui_chat.gateways.errors import GatewayError, UnsupportedByGateway
from tui_chat.gateways.retry import PollBackoff, is_retryable, stale_reason
from tui_chat.ui.host import AppHost

if TYPE_CHECKING:
    from textual.timer import Timer

    from tui_chat.gateways.base import Account, Capabilities, EndpointDetails


# -- what the thread workers report ---------------------------------------------------------


class BalanceLoaded(TextualMessage):
    """The gateway reported the balance, in credits. ``requested_at``: when it was asked for,
    on the app's clock (None: not known); billed vs reported (core.billing) needs it."""

    def __init__(self, balance: float, requested_at: float | None = None) -> None:
        super().__init__()
        self.balance = balance
        self.requested_at = requested_at


class BalanceNotReported(TextualMessage):
    """The gateway kind has no balance: nothing to show, and no failure either."""


class BalanceFailed(TextualMessage):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class ModelsLoaded(TextualMessage):
    def __init__(self, models: list[str]) -> None:
        super().__init__()
        self.models = models


class ModelsFailed(TextualMessage):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class ProvidersLoaded(TextualMessage):
    def __init__(self, model: str, providers: list[str]) -> None:
        super().__init__()
        self.model = model
        self.providers = providers


class ProvidersFailed(TextualMessage):
    def __init__(self, model: str, error: BaseException) -> None:
        super().__init__()
        self.model = model
        self.error = error


class DetailsLoaded(TextualMessage):
    """Prices and context window of a concrete ``endpoint``."""

    def __init__(self, endpoint: str, details: EndpointDetails) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.details = details


class DetailsFailed(TextualMessage):
    def __init__(self, endpoint: str, error: BaseException) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.error = error


class ProviderFactsLoaded(TextualMessage):
    """The details of the providers of ``model`` that could be loaded (the rest are left out:
    the list shows what is known, and a failure here is not worth a note)."""

    def __init__(self, model: str, details: dict[str, EndpointDetails]) -> None:
        super().__init__()
        self.model = model
        self.details = details


class AccountHost(AppHost, Protocol):
    """What the watch needs of the app."""

    account: Account | None
    capabilities: Capabilities
    endpoint: str  # the endpoint the next message goes to (the panel shows its details)
    streaming: bool
    clock: Callable[[], float]


class AccountWatch:
    """Keeps the balance, the listings and the endpoint details of the account in use."""

    def __init__(self, host: AccountHost, *, balance_poll_s: float = 60.0) -> None:
        self.host = host
        self.balance_poll_s = balance_poll_s
        self.known_models: list[str] = []
        # Prices and context windows, by concrete endpoint (for the panel and live estimates).
        self.details: dict[str, EndpointDetails] = {}
        # Failed background polls wait longer each time.
        self.balance_backoff = PollBackoff()
        # Listings are one small GET each: retried at least every minute (a five-minute wait
        # left "Could not list models" on screen long after the server was back).
        self.models_backoff = PollBackoff(max_s=60.0)
        self.providers_backoff = PollBackoff(max_s=60.0)
        self.details_backoff = PollBackoff()
        self._balance_timer: Timer | None = None
        self._balance_retry_at: float | None = None  # time.monotonic() of the next try
        self._balance_asked = False  # the user asked (f5): say how it went
        # The one pending retry (a timer) of each endpoint whose details failed to load.
        self._details_retries: dict[str, Timer] = {}
        # The pending retries of the model list and of a model's providers, if they failed.
        self._models_retry: Timer | None = None
        self._providers_retry: tuple[str, Timer] | None = None

    # -- starting -----------------------------------------------------------------------

    def start(self) -> None:
        """Balance, listings and details for the current account (none: nothing to load)."""
        host = self.host
        if host.account is None:
            return
        self.refresh_balance()
        self.load_models()
        try:
            current = parse_endpoint(host.endpoint)
        except EndpointError:
            current = None  # said when sending; the listings still load
        if current is not None:
            self.load_providers(current.model)
            if not current.is_routing and not current.is_fallback:
                self.load_details(host.endpoint)
        if self._balance_timer is not None:
            self._balance_timer.stop()
        self._balance_timer = host.set_interval(self.balance_poll_s, self._poll_balance)

    def forget_account(self) -> None:
        """Another gateway is in use: what was listed for the old one no longer applies."""
        self.known_models = []
        self.details.clear()

    def gateway_answered(self) -> None:
        """The gateway just answered (a reply, the balance, a listing): what failed to load
        meanwhile is asked for again now, not at the end of its backoff."""
        if self._models_retry is not None:
            self._models_retry.stop()
            self._models_retry = None
            self.load_models()
        if self._providers_retry is not None:
            model, timer = self._providers_retry
            if self.host.selector.model == model:  # (else its timer still decides)
                timer.stop()
                self._providers_retry = None
                self.load_providers(model)
        for endpoint in list(self._details_retries):
            self.cancel_details_retry(endpoint)
            self._retry_details(endpoint)

    # -- balance --------------------------------------------------------------------------

    def refresh_balance(self, *, asked: bool = False) -> None:
        """Ask for the balance now, in a thread (one at a time). ``asked``: the user asked for
        it (f5), so the result is said in a notification, not only in the status bar."""
        host = self.host
        self._balance_asked = self._balance_asked or asked
        if not host.capabilities.has_balance:
            host.post_message(BalanceNotReported())
            return
        account = host.account
        if account is None:
            return
        requested_at = host.clock()
        host.run_worker(
            partial(self._fetch_balance, account, requested_at),
            thread=True,
            exclusive=True,
            group="balance",
        )

    def _fetch_balance(self, account: Account, requested_at: float) -> None:
        try:
            balance = account.credits()
        except Exception as error:  # shown as stale, never fatal
            self.host.post_message(BalanceFailed(error))
        else:
            self.host.post_message(BalanceLoaded(balance, requested_at))

    def _retry_balance(self) -> None:
        self._balance_retry_at = None
        self.refresh_balance()

    def _poll_balance(self) -> None:
        """The periodic balance poll; skipped while backing off after a failure."""
        if self._balance_retry_at is not None and time.monotonic() < self._balance_retry_at:
            return
        self.refresh_balance()

    def balance_not_reported(self) -> None:
        status = self.host.status
        status.balance = None
        status.balance_stale = False
        if status.connection in ("connecting", "offline"):
            status.connection = "online"

    def balance_loaded(self, balance: float) -> None:
        self.balance_backoff.succeeded()
        self._balance_retry_at = None
        status = self.host.status
        status.balance = balance
        status.balance_stale = False
        status.stale_reason = ""
        if self._balance_asked:
            self._balance_asked = False
            self.host.notify(f"Balance: {format_credits(balance)} credits.", timeout=3)
        if status.connection in ("connecting", "offline"):
            status.connection = "online"
        self.gateway_answered()

    def balance_failed(self, error: BaseException) -> None:
        """Keep the last balance, marked stale with why; try again later, each time later."""
        status = self.host.status
        status.balance_stale = True
        status.stale_reason = stale_reason(error)
        if self._balance_asked:
            self._balance_asked = False
            self.host.notify(
                f"Could not refresh the balance ({status.stale_reason}); trying again later.",
                severity="warning",
                timeout=4,
            )
        if status.balance is None or status.stale_reason == "offline":
            status.connection = "offline"
        delay = self.balance_backoff.failed()
        self._balance_retry_at = time.monotonic() + delay
        # Its own callback: through _poll_balance, a timer firing a hair before the time noted
        # above (the timer's clock started first) skipped the try, and no other was set.
        self.host.set_timer(delay, self._retry_balance)
        self.host.log.warning(
            f"balance refresh failed ({status.stale_reason}); next try in {delay:g} s"
        )

    # -- models -----------------------------------------------------------------------------

    def load_models(self) -> None:
        account = self.host.account
        if account is None:
            return
        self.host.run_worker(
            partial(self._fetch_models, account), thread=True, exclusive=True, group="models"
        )

    def _fetch_models(self, account: Account) -> None:
        try:
            models = account.models()
        except Exception as error:
            self.host.post_message(ModelsFailed(error))
        else:
            self.host.post_message(ModelsLoaded(list(models)))

    def models_failed(self, error: BaseException) -> None:
        delay = self.models_backoff.failed()
        self.host.selector.set_models_failed(
            f"Could not list models ({stale_reason(error)}): {error}\nTrying again in {delay:g} s."
        )
        if self._models_retry is not None:
            self._models_retry.stop()
        self._models_retry = self.host.set_timer(delay, self._retry_models)

    def _retry_models(self) -> None:
        self._models_retry = None
        self.load_models()

    def models_loaded(self, models: list[str]) -> None:
        self.models_backoff.succeeded()
        if self._models_retry is not None:  # (a load asked for meanwhile succeeded)
            self._models_retry.stop()
            self._models_retry = None
        self.known_models = models
        self.host.selector.set_models(models)
        self.gateway_answered()  # the providers or details that failed meanwhile, now

    # -- providers --------------------------------------------------------------------------

    def load_providers(self, model: str) -> None:
        host = self.host
        account = host.account
        if account is None or not host.capabilities.provider_choice:
            return
        host.run_worker(
            partial(self._fetch_providers, account, model),
            thread=True,
            exclusive=True,
            group="providers",
        )

    def _fetch_providers(self, account: Account, model: str) -> None:
        try:
            providers = account.providers(model)
        except Exception as error:
            self.host.post_message(ProvidersFailed(model, error))
        else:
            self.host.post_message(ProvidersLoaded(model, list(providers)))

    def providers_failed(self, model: str, error: BaseException) -> None:
        """The routing modes still work; say why the providers are missing, try again later
        (each time later) while the panel still shows this model."""
        delay = self.providers_backoff.failed()
        selector = self.host.selector
        selector.set_providers(model, [])
        selector.set_providers_note(
            model,
            f"Could not list the providers ({stale_reason(error)}); trying again in {delay:g} s. "
            "The routing modes work meanwhile.",
        )
        self.host.log.warning(f"providers of {model}: {error}")
        if self._providers_retry is not None:
            self._providers_retry[1].stop()
        self._providers_retry = (
            model,
            self.host.set_timer(delay, partial(self._retry_providers, model)),
        )

    def _retry_providers(self, model: str) -> None:
        if self._providers_retry is not None and self._providers_retry[0] == model:
            self._providers_retry = None
        if self.host.selector.model == model:
            self.load_providers(model)

    def providers_loaded(self, model: str, providers: list[str]) -> None:
        self.providers_backoff.succeeded()
        if self._providers_retry is not None and self._providers_retry[0] == model:
            self._providers_retry[1].stop()
            self._providers_retry = None
        self.host.selector.set_providers(model, providers)

    # -- endpoint details -------------------------------------------------------------------

    def load_details(self, endpoint: str) -> None:
        """Load the prices and context window of the concrete ``endpoint``: for the panel while
        it shows that endpoint, and for the live spend estimate of a reply it serves.

        A transient failure is tried again later (``details_failed``); this request replaces
        any retry of ``endpoint`` still pending.
        """
        account = self.host.account
        if account is None:
            return
        self.cancel_details_retry(endpoint)
        self.host.run_worker(
            partial(self._fetch_details, account, endpoint), thread=True, group="details"
        )

    def _fetch_details(self, account: Account, endpoint: str) -> None:
        try:
            details = account.endpoint_details(endpoint)
        except Exception as error:
            self.host.post_message(DetailsFailed(endpoint, error))
        else:
            self.host.post_message(DetailsLoaded(endpoint, details))

    # The most providers whose details are loaded for one list: on Unify each is a request.
    PROVIDER_FACTS_LIMIT = 24

    def load_provider_facts(self, model: str, providers: list[str]) -> None:
        """Load the prices and context windows of ``model`` at each listed provider (those not
        known yet), one after another in one worker, for the provider list."""
        account = self.host.account
        if account is None:
            return
        wanted = [p for p in providers if f"{model}@{p}" not in self.details]
        known = {p: self.details[f"{model}@{p}"] for p in providers if p not in wanted}
        if known:
            self.host.post_message(ProviderFactsLoaded(model, known))
        if wanted:
            self.host.run_worker(
                partial(
                    self._fetch_provider_facts, account, model, wanted[: self.PROVIDER_FACTS_LIMIT]
                ),
                thread=True,
                exclusive=True,
                group="provider-facts",
            )

    def _fetch_provider_facts(self, account: Account, model: str, providers: list[str]) -> None:
        found: dict[str, EndpointDetails] = {}
        for provider in providers:
            try:
                found[provider] = account.endpoint_details(f"{model}@{provider}")
            except UnsupportedByGateway:
                break  # the gateway kind has no details at all: asking the rest is no use
            except Exception as error:  # one provider's failure leaves the others to show
                self.host.log.warning(f"details of {model}@{provider}: {error}")
        if found:
            self.host.post_message(ProviderFactsLoaded(model, found))

    def provider_facts_loaded(
        self, model: str, details: dict[str, EndpointDetails], speeds: dict[str, float]
    ) -> None:
        """Keep them (as ``details_loaded`` does) and show a line beside each provider."""
        for provider, found in details.items():
            self.details[f"{model}@{provider}"] = found
        self.host.selector.set_provider_facts(
            model,
            {
                provider: facts_line(
                    found.input_cost, found.output_cost, found.context_window, speeds.get(provider)
                )
                for provider, found in details.items()
            },
        )

    def details_shown(self, endpoint: str) -> bool:
        """True while the panel shows the details of ``endpoint`` (the endpoint in use)."""
        return self.host.endpoint == endpoint

    def details_wanted(self, endpoint: str) -> bool:
        """Still worth loading: the panel shows it, or a reply it serves is streaming now (the
        live spend estimate needs its prices; a later reply asks again by itself)."""
        host = self.host
        if host.account is None:
            return False
        if self.details_shown(endpoint):
            return True
        serving = host.streaming and host.status.served_endpoint == endpoint
        return serving and endpoint not in self.details

    def details_failed(self, endpoint: str, error: BaseException) -> None:
        """Say why the details are missing; try a transient failure (429, 5xx, offline) again
        later, each time later, while they are still wanted. What cannot succeed (the gateway
        kind has no details, an unknown endpoint, a refused key) is said once, not retried."""
        shown = self.details_shown(endpoint)
        if isinstance(error, GatewayError):
            transient = is_retryable(error)  # never UnsupportedByGateway, 400, 401, 404
        else:
            transient = isinstance(error, OSError)
        selector = self.host.selector
        if not transient or not self.details_wanted(endpoint):
            if shown:
                # what the gateway kind cannot do is said in its own words
                text = error.detail if isinstance(error, UnsupportedByGateway) else error
                selector.set_details(endpoint, f"No details: {text}")
            return
        delay = self.details_backoff.failed()
        if shown:
            selector.set_details(
                endpoint,
                f"Could not load the details ({stale_reason(error)}); trying again in {delay:g} s.",
            )
        self.host.log.warning(f"details of {endpoint}: {error}; next try in {delay:g} s")
        self.cancel_details_retry(endpoint)  # one pending retry per endpoint
        self._details_retries[endpoint] = self.host.set_timer(
            delay, partial(self._retry_details, endpoint)
        )

    def _retry_details(self, endpoint: str) -> None:
        self._details_retries.pop(endpoint, None)
        if self.details_wanted(endpoint):
            self.load_details(endpoint)

    def cancel_details_retry(self, endpoint: str) -> None:
        timer = self._details_retries.pop(endpoint, None)
        if timer is not None:
            timer.stop()

    def details_loaded(self, endpoint: str, details: EndpointDetails) -> None:
        """Keep them (the live estimate of a reply this endpoint serves reads them) and show
        them while the panel shows this endpoint."""
        self.details_backoff.succeeded()
        self.details[endpoint] = details
        if self.details_shown(endpoint):
            context = f"{details.context_window:,}" if details.context_window else "?"
            self.host.selector.set_details(
                endpoint,
                f"${details.input_cost:g} in · ${details.output_cost:g} out per M tokens\n"
                f"context window {context} tokens",
            )
