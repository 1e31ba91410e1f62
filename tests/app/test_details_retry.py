"""Endpoint details (prices, context window) that failed to load are tried again by themselves.

A transient failure (5xx, 429, offline) is said in the panel with the wait and tried again, each
time later (``details_backoff``), while the panel still shows that endpoint or a reply it serves
is streaming; what cannot succeed (an unknown endpoint, a gateway kind without details) is said
once and never asked again. The account is the real one on the embedded gateway, with failures
injected in front of it (the embedded gateway has no fault control for ``/endpoint-details``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from textual.widgets import Static

from tests.app.conftest import APP_SIZE, WAIT_S, send, wait_for_reply, wait_until
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import GatewayError, ServerError, UnsupportedByGateway
from tui_chat.gateways.retry import PollBackoff
from tui_chat.gateways.unify import UnifyAccount

START = "llama-3.1-8b-chat@groq"  # the endpoint make_app starts on
OTHER = "gpt-4o-mini@openai"


def busy() -> GatewayError:
    return ServerError("the gateway is busy", status=503)


class FlakyDetails:
    """The real account on the sim; ``endpoint_details`` fails ``failures[endpoint]`` times
    first (``"*"``: any endpoint) with ``error()``, and counts every call per endpoint.

    ``gate``, when given, holds every call after the failures until it is set, so a test can
    look at what the panel says in between however slow the machine is.
    """

    def __init__(
        self,
        sim: Any,
        failures: dict[str, int],
        error: Callable[[], GatewayError] = busy,
        gate: threading.Event | None = None,
    ) -> None:
        settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
        self.inner = UnifyAccount(settings)
        self.failures = dict(failures)
        self.error = error
        self.gate = gate
        self.calls: Counter[str] = Counter()

    def endpoint_details(self, endpoint: str) -> Any:
        self.calls[endpoint] += 1
        key = endpoint if endpoint in self.failures else "*"
        if self.failures.get(key, 0) > 0:
            self.failures[key] -= 1
            raise self.error()
        if self.gate is not None:
            self.gate.wait(WAIT_S)
        return self.inner.endpoint_details(endpoint)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def details_text(app: Any) -> str:
    return str(app.selector.query_one("#endpoint-details", Static).render())


async def test_details_that_failed_once_arrive_without_the_user_doing_anything(
    make_app: Any, sim: Any
) -> None:
    gate = threading.Event()
    account = FlakyDetails(sim, {START: 1}, gate=gate)
    app = make_app(account=account)
    app.account_watch.details_backoff = PollBackoff(base_s=0.2, max_s=0.4)
    try:
        async with app.run_test(size=APP_SIZE) as pilot:
            await wait_until(pilot, lambda: app.selector.built, what="the panel's widgets")
            await wait_until(pilot, lambda: "trying again" in details_text(app), what="the note")
            assert details_text(app) == (
                "Could not load the details (HTTP 503); trying again in 0.2 s."
            )
            # The retry is on its way by itself (held at the gate so the note could be read).
            await wait_until(pilot, lambda: account.calls[START] == 2, what="the retry")
            gate.set()
            await wait_until(pilot, lambda: "per M tokens" in details_text(app), what="the details")
            assert "context window" in details_text(app)
            assert START in app.account_watch.details
            assert account.calls[START] == 2
            assert app.account_watch.details_backoff.delays == [0.2]
            assert not app.account_watch.details_backoff.backing_off  # reset by the success
    finally:
        gate.set()


async def test_unknown_endpoint_is_said_once_and_not_asked_again(make_app: Any, sim: Any) -> None:
    unknown = "no-such-model@groq"
    account = FlakyDetails(sim, {})
    app = make_app(account=account, model=unknown)
    app.account_watch.details_backoff = PollBackoff(base_s=0.1, max_s=0.1)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.selector.built, what="the panel's widgets")
        await wait_until(pilot, lambda: "No details" in details_text(app), what="the reason")
        shown = details_text(app)
        assert shown.startswith("No details: The gateway found nothing for this request (HTTP 404)")
        assert "no-such-model@groq not found" in shown
        await pilot.pause(1.0)  # ten backoff periods
        assert account.calls[unknown] == 1  # the gateway saw one request only
        assert app.account_watch.details_backoff.delays == []
        assert details_text(app) == shown


async def test_gateway_without_details_is_said_in_its_own_words_once(
    make_app: Any, sim: Any
) -> None:
    def unsupported() -> GatewayError:
        return UnsupportedByGateway("this server publishes no prices")

    account = FlakyDetails(sim, {START: 1000}, error=unsupported)
    app = make_app(account=account)
    app.account_watch.details_backoff = PollBackoff(base_s=0.1, max_s=0.1)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.selector.built, what="the panel's widgets")
        await wait_until(pilot, lambda: "No details" in details_text(app), what="the reason")
        assert details_text(app) == "No details: this server publishes no prices"
        await pilot.pause(1.0)
        assert account.calls[START] == 1
        assert app.account_watch.details_backoff.delays == []


async def test_switching_endpoint_drops_the_pending_retry_of_the_old_one(
    make_app: Any, sim: Any
) -> None:
    account = FlakyDetails(sim, {START: 1000})  # the first endpoint never answers
    app = make_app(account=account)
    app.account_watch.details_backoff = PollBackoff(base_s=0.8, max_s=0.8)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.selector.built, what="the panel's widgets")
        await wait_until(pilot, lambda: "trying again" in details_text(app), what="the note")
        asked = account.calls[START]  # (1, or 2 if a loaded machine was slow to get here)
        assert app.switch_endpoint(OTHER)
        await wait_until(pilot, lambda: "per M tokens" in details_text(app), what="new details")
        shown = details_text(app)
        await pilot.pause(2.0)  # more than twice the wait the old endpoint was given
        assert account.calls[START] == asked  # not asked again
        assert account.calls[OTHER] == 1
        assert details_text(app) == shown  # nothing about the old endpoint came back
        # Back on it, it is asked at once (and tried again while the panel shows it).
        assert app.switch_endpoint(START)
        await wait_until(pilot, lambda: account.calls[START] > asked, what="asked again")


async def test_live_spend_gets_its_prices_after_a_failed_details_request(
    make_app: Any, sim: Any
) -> None:
    # A routing mode: the panel shows no details; the served endpoint's prices are only for
    # the live spend estimate, and their first request fails.
    account = FlakyDetails(sim, {"*": 1})
    app = make_app(account=account, model="llama-3.1-8b-chat@lowest-input-cost")
    app.account_watch.details_backoff = PollBackoff(base_s=0.2, max_s=0.4)
    sim.controls.reply_tokens = 1500
    sim.controls.token_delay_s = 0.005  # several seconds of streaming
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_until(
            pilot,
            lambda: app.streaming and (app.status.live_cost or 0) > 0,
            what="a live spend estimate while the reply streams",
        )
        served = app.status.served_endpoint
        assert account.calls[served] == 2
        assert app.account_watch.details_backoff.delays == [0.2]
        await pilot.press("escape")  # stop: the rest of the reply is not needed
        await wait_for_reply(pilot)
