"""Crash on shutdown: a thread worker's result arriving while the app closes must be dropped.

Regression for "NoMatches for #status-gateway raised from _balance_loaded during a benchmark
smoke test": the balance request was still in flight when the app exited, and its result came
back (``call_from_thread``) after the status bar had been removed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from textual.widget import Widget

from tests.app.conftest import APP_SIZE, wait_until
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.unify import UnifyAccount

GATE_TIMEOUT_S = 20.0
T = TypeVar("T")


class HeldAccount:
    """The real Unify account against the sim, whose chosen calls wait for ``release``."""

    def __init__(self, inner: UnifyAccount, held: set[str]) -> None:
        self._inner = inner
        self._held = held
        self.release = threading.Event()
        self.waiting: set[str] = set()
        self.returned: set[str] = set()

    def _call(self, name: str, call: Callable[[], T]) -> T:
        """Make ``call`` (waiting first for ``release`` if ``name`` is held); note its return."""
        if name in self._held:
            self.waiting.add(name)
            self.release.wait(GATE_TIMEOUT_S)
        try:
            return call()
        finally:
            self.returned.add(name)

    def credits(self) -> float:
        return self._call("credits", self._inner.credits)

    def models(self) -> list[str]:
        return self._call("models", self._inner.models)

    def providers(self, model: str) -> list[str]:
        return self._call("providers", lambda: self._inner.providers(model))

    def endpoint_details(self, endpoint: str) -> Any:
        return self._call("details", lambda: self._inner.endpoint_details(endpoint))

    def close(self) -> None:
        self._inner.close()


class ReleaseOnUnmount(Widget):
    """Mounted in the status bar: when shutdown removes it, the held requests return, and the
    app waits (inside shutdown, widgets going) until the workers have delivered their results."""

    def __init__(self, account: HeldAccount) -> None:
        super().__init__()
        self.account = account

    async def on_unmount(self) -> None:
        self.account.release.set()
        app = self.app
        deadline = 200
        while deadline and any(
            worker.is_running for worker in app.workers if worker.group != "warm-up"
        ):
            deadline -= 1
            await asyncio.sleep(0.02)  # a bounded poll inside shutdown, not a test's wait


def held_account(sim: Any, held: set[str]) -> HeldAccount:
    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
    return HeldAccount(UnifyAccount(settings), held)


async def hold_until_shutdown(pilot: Any, account: HeldAccount) -> None:
    """Wait until the balance and model requests are held, then let them return at shutdown."""
    await wait_until(
        pilot,
        lambda: {"credits", "models"} <= account.waiting,
        what="the balance and model requests in flight",
    )
    await pilot.app.status.mount(ReleaseOnUnmount(account))


async def test_exit_while_balance_and_models_in_flight_is_clean(sim: Any, make_app: Any) -> None:
    account = held_account(sim, {"credits", "models", "providers", "details"})
    app = make_app(account=account)
    async with app.run_test(size=APP_SIZE) as pilot:
        await hold_until_shutdown(pilot, account)
        # Leaving the block shuts the app down with the four requests still in flight (as the
        # benchmark smoke test did); they return while the screen's widgets are being removed.
    assert app._exception is None
    assert app.return_code in (None, 0)  # None: the block ended, nobody called exit()
    assert account.returned == {"credits", "models", "providers", "details"}


async def test_quit_while_balance_in_flight_is_clean(sim: Any, make_app: Any) -> None:
    """ctrl+q with the balance and model list still loading: exit code 0, the late results are
    dropped (the worker threads end instead of waiting on a loop that is gone)."""
    account = held_account(sim, {"credits", "models"})
    app = make_app(account=account)
    async with app.run_test(size=APP_SIZE) as pilot:
        await hold_until_shutdown(pilot, account)
        await pilot.press("ctrl+q")
    assert app._exception is None
    assert app.return_code == 0
