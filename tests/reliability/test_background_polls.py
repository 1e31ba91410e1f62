"""Background polls (balance, model list) back off on failure and show a stale marker."""

from __future__ import annotations

import socket
import threading
from typing import Any

from textual.widgets import Select

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import ConnectionFailed, GatewayError, ServerError
from tui_chat.gateways.retry import PollBackoff, stale_reason
from tui_chat.gateways.unify import UnifyAccount, UnifyGateway


def test_poll_backoff_doubles_and_is_capped_and_resets() -> None:
    backoff = PollBackoff(base_s=5.0, max_s=60.0)
    assert [backoff.failed() for _ in range(6)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    assert backoff.backing_off
    backoff.succeeded()
    assert not backoff.backing_off
    assert backoff.failed() == 5.0
    many = PollBackoff(base_s=1.0, max_s=300.0)
    for _ in range(200):  # no overflow however long the outage
        many.failed()
    assert many.delays[-1] == 300.0


def test_stale_reason_is_short_and_plain() -> None:
    assert stale_reason(ConnectionFailed("refused")) == "offline"
    assert stale_reason(ServerError("x", status=503)) == "HTTP 503"
    assert stale_reason(GatewayError("bad json")) == "unreadable reply"
    assert stale_reason(OSError("boom")) == "offline"
    assert stale_reason(ValueError("?")) == "error"


def part_text(app: Any, name: str) -> str:
    return app.status.part(name)


class FlakyAccount:
    """The real account on the sim, with credits() failing while ``down`` is set."""

    def __init__(self, inner: UnifyAccount) -> None:
        self.inner = inner
        self.down = threading.Event()
        self.credit_calls = 0

    def credits(self) -> float:
        self.credit_calls += 1
        if self.down.is_set():
            raise ConnectionFailed("http://127.0.0.1 did not answer (Connection refused)")
        return self.inner.credits()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_balance_goes_stale_with_reason_then_recovers(make_app: Any, sim: Any) -> None:
    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
    account = FlakyAccount(UnifyAccount(settings))
    app = make_app(account=account)
    app.account_watch.balance_backoff = PollBackoff(base_s=0.2, max_s=0.4)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: "50.000000" in part_text(app, "balance"))
        account.down.set()
        await pilot.press("f5")
        await wait_until(pilot, lambda: "(stale: offline)" in part_text(app, "balance"))
        assert part_text(app, "balance") == "Balance 50.000000 (stale: offline)"
        # It tries again by itself, each time waiting longer (capped).
        await wait_until(
            pilot, lambda: len(app.account_watch.balance_backoff.delays) >= 3, timeout=15
        )
        assert app.account_watch.balance_backoff.delays[:3] == [0.2, 0.4, 0.4]
        assert app.is_running
        account.down.clear()
        await wait_until(
            pilot, lambda: "stale" not in part_text(app, "balance"), timeout=15, what="recovery"
        )
        assert part_text(app, "balance") == "Balance 50.000000"
        assert not app.account_watch.balance_backoff.backing_off


async def test_unreachable_account_shows_offline_and_never_crashes(make_app: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = GatewaySettings(base_url=f"http://127.0.0.1:{port}/v0", api_key="k", timeout=2.0)
    app = make_app(gateway=UnifyGateway(settings), account=UnifyAccount(settings))
    app.account_watch.balance_backoff = PollBackoff(base_s=0.1, max_s=0.2)
    app.account_watch.models_backoff = PollBackoff(base_s=0.1, max_s=0.2)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: "(offline)" in part_text(app, "balance"))
        assert part_text(app, "balance") == "Balance \u2013 (offline)"
        assert "offline" in part_text(app, "gateway")
        await wait_until(
            pilot, lambda: len(app.account_watch.models_backoff.delays) >= 2, timeout=15
        )
        await wait_until(
            pilot, lambda: len(app.account_watch.balance_backoff.delays) >= 2, timeout=15
        )
        assert app.is_running
        await pilot.press("x")  # still answers keys
        assert app.prompt.text == "x"


class FlakyProviders:
    """The real account on the sim, with providers() failing ``failures`` times first."""

    def __init__(self, inner: UnifyAccount, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.provider_calls = 0
        self.asked: list[str] = []

    def providers(self, model: str) -> list[str]:
        self.provider_calls += 1
        self.asked.append(model)
        if self.provider_calls <= self.failures:
            raise ServerError("the gateway is busy", status=503)
        return list(self.inner.providers(model))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_provider_list_says_why_it_is_missing_and_tries_again(
    make_app: Any, sim: Any
) -> None:
    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
    account = FlakyProviders(UnifyAccount(settings), failures=2)
    app = make_app(account=account)
    app.account_watch.providers_backoff = PollBackoff(base_s=0.2, max_s=0.3)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.selector.built, what="the panel's widgets")
        note = app.selector.query_one("#provider-note")
        await wait_until(pilot, lambda: bool(note.display), what="the note")
        shown = str(note.render())
        assert "Could not list the providers (HTTP 503)" in shown
        assert "routing modes work" in shown
        # It tries again by itself, waiting longer each time, and the note goes once it worked.
        await wait_until(pilot, lambda: account.provider_calls >= 3, what="two retries")
        await wait_until(pilot, lambda: not note.display, what="the note gone")
        providers = app.selector.query_one("#provider-select", Select)
        values = [value for _, value in providers._options]
        assert "groq" in values and "highest-tks-per-sec" in values
        assert app.account_watch.providers_backoff.delays == [0.2, 0.3]
        assert not app.account_watch.providers_backoff.backing_off


class HeldProviders(FlakyProviders):
    """As FlakyProviders; the listing for ``held`` waits until ``release`` is set."""

    def __init__(self, inner: UnifyAccount, failures: int, held: str) -> None:
        super().__init__(inner, failures)
        self.held = held
        self.release = threading.Event()

    def providers(self, model: str) -> list[str]:
        if model == self.held:
            self.release.wait(10)
        return super().providers(model)


async def test_a_model_typed_as_an_endpoint_gets_its_own_providers(make_app: Any, sim: Any) -> None:
    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
    account = HeldProviders(UnifyAccount(settings), failures=1, held="gpt-4o-mini")
    app = make_app(account=account)
    app.account_watch.providers_backoff = PollBackoff(
        base_s=60.0, max_s=60.0
    )  # no retry within the test
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.selector.built, what="the panel's widgets")
        note = app.selector.query_one("#provider-note")
        await wait_until(pilot, lambda: bool(note.display), what="the first listing's note")
        # ctrl+l or the palette with an endpoint string: another model, not through the panel
        assert app.switch_endpoint("gpt-4o-mini@openai")
        # at once, before the new listing arrives: the note was about the other model
        await wait_until(pilot, lambda: not note.display, what="the old model's note gone")
        providers = app.selector.query_one("#provider-select", Select)

        def listed() -> list[Any]:
            return [value for _, value in providers._options]

        assert "openai" not in listed()
        account.release.set()
        await wait_until(pilot, lambda: "openai" in listed(), what="the new model's providers")
        assert "groq" not in listed()  # (the first model's provider, never listed here)
        assert account.asked == ["llama-3.1-8b-chat", "gpt-4o-mini"]
        # the same model with another provider lists nothing again
        assert app.switch_endpoint("gpt-4o-mini@lowest-input-cost")
        await pilot.pause(0.2)
        assert account.asked == ["llama-3.1-8b-chat", "gpt-4o-mini"]


class FlakyModels:
    """The real account on the sim, with models() failing while ``down`` is set."""

    def __init__(self, inner: UnifyAccount) -> None:
        self.inner = inner
        self.down = threading.Event()
        self.model_calls = 0

    def models(self) -> list[str]:
        self.model_calls += 1
        if self.down.is_set():
            raise ConnectionFailed("http://127.0.0.1 did not answer (Connection refused)")
        return list(self.inner.models())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def model_prompt(app: Any) -> str:
    return str(app.selector.query_one("#model-select", Select).prompt)


async def test_a_failed_model_list_comes_back_as_soon_as_the_gateway_answers_again(
    make_app: Any, sim: Any
) -> None:
    # Found from outside: "Could not list models" stayed 5-6 minutes after the server was
    # back, until the backoff's next try. A reply (or the balance) that comes back proves the
    # gateway answers: the list is asked for again at once.
    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
    account = FlakyModels(UnifyAccount(settings))
    account.down.set()
    app = make_app(account=account)
    app.account_watch.models_backoff = PollBackoff(base_s=600.0, max_s=600.0)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: model_prompt(app) == "Model list unavailable")
        await wait_until(pilot, lambda: app.status.balance is not None, what="the balance")
        await pilot.pause(0.3)  # (the balance's arrival may have asked once more: still down)
        calls = account.model_calls
        account.down.clear()  # the server is back; the next try would be in ten minutes
        await pilot.pause(0.3)
        assert model_prompt(app) == "Model list unavailable"
        assert account.model_calls == calls
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        await wait_until(pilot, lambda: len(app.known_models) > 300, what="the model list")
        assert account.model_calls == calls + 1
        assert model_prompt(app).startswith("Choose a model")
        assert not app.account_watch.models_backoff.backing_off


async def test_the_balance_coming_back_brings_the_model_list_back(make_app: Any, sim: Any) -> None:
    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
    account = FlakyModels(UnifyAccount(settings))
    account.down.set()
    app = make_app(account=account)
    app.account_watch.models_backoff = PollBackoff(base_s=600.0, max_s=600.0)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: model_prompt(app) == "Model list unavailable")
        await wait_until(pilot, lambda: app.status.balance is not None, what="the balance")
        await pilot.pause(0.3)
        calls = account.model_calls
        account.down.clear()
        await pilot.press("f5")  # (as the minute's balance poll would)
        await wait_until(pilot, lambda: len(app.known_models) > 300, what="the model list")
        assert account.model_calls == calls + 1


def test_listings_are_tried_again_at_least_every_minute() -> None:
    from tui_chat.ui.account_watch import AccountWatch

    watch = AccountWatch(host=None)  # type: ignore[arg-type]
    for backoff in (watch.models_backoff, watch.providers_backoff):
        assert max(backoff.failed() for _ in range(20)) == 60.0


async def test_a_balance_retry_whose_timer_fires_early_still_tries_again(
    make_app: Any, sim: Any, monkeypatch: Any
) -> None:
    # Found in CI under load: the retry timer's clock starts before the time of the next try
    # is noted, so it can fire a hair early; the retry went through the periodic poll, which
    # then skipped it as "too soon", and no other try was ever set: the balance stayed stale.
    from tui_chat.ui import account_watch as watch_module

    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
    account = FlakyAccount(UnifyAccount(settings))
    app = make_app(account=account)
    app.account_watch.balance_backoff = PollBackoff(base_s=0.2, max_s=0.2)
    real_monotonic = watch_module.time.monotonic

    class LateClock:  # the next try noted 1 s later than its timer will fire
        @staticmethod
        def monotonic() -> float:
            return real_monotonic() + 1.0

    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: "50.000000" in part_text(app, "balance"))
        account.down.set()
        monkeypatch.setattr(watch_module, "time", LateClock)
        await pilot.press("f5")
        await wait_until(pilot, lambda: "(stale: offline)" in part_text(app, "balance"))
        monkeypatch.setattr(watch_module, "time", __import__("time"))
        account.down.clear()
        await wait_until(
            pilot, lambda: "stale" not in part_text(app, "balance"), timeout=5, what="recovery"
        )
