"""A few screens pinned as SVG snapshots at a fixed size (pytest-textual-snapshot).

Timings are pinned with a stepping clock so figures such as TTFT and tokens/s are the same on
every run. Update the snapshots on purpose with `pytest --snapshot-update` and look at them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Select

from tests.app.conftest import wait_until
from tui_chat.gateway_sim import GatewaySim
from tui_chat.gateway_sim.faults import Fault, FaultKind
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.unify import UnifyAccount, UnifyGateway
from tui_chat.ui.app import UnifyTUI

SIZE = (120, 36)
PINNED_TIME = 1_764_000_000.0  # unix seconds; the sim's prices and speeds drift with its clock


@pytest.fixture
def sim() -> Iterator[GatewaySim]:
    """The embedded gateway with its clock pinned, so drifting prices are the same every run."""
    gateway = GatewaySim(api_key="test-key", credits=50.0, seed=0, clock=lambda: PINNED_TIME)
    gateway.controls.token_delay_s = 0.0
    gateway.controls.ttft_s = 0.0
    with gateway:
        yield gateway


class SteppingClock:
    """A clock that moves 10 ms each time it is read: deterministic timings."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.01
        return self.now


def build_app(sim: Any) -> UnifyTUI:
    clock = SteppingClock()
    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
    return UnifyTUI(
        gateway=UnifyGateway(settings, clock=clock),
        account=UnifyAccount(settings),
        model="llama-3.1-8b-chat@groq",
        gateway_label="Test gateway",
        balance_poll_s=3600.0,
        clock=clock,
    )


async def settled(pilot: Pilot[Any]) -> None:
    """Wait for the background listings so the screen no longer changes by itself."""
    app = pilot.app
    assert isinstance(app, UnifyTUI)
    app.prompt.cursor_blink = False  # a blinking cursor is on or off by chance at capture time
    await wait_until(pilot, lambda: app.status.balance is not None, what="balance")
    await wait_until(pilot, lambda: len(app.known_models) > 0, what="models")
    await wait_until(pilot, lambda: app.selector.built, what="the panel's widgets")
    providers = app.selector.query_one("#provider-select", Select)
    await wait_until(pilot, lambda: not providers.is_blank(), what="providers")
    await wait_until(pilot, lambda: bool(app.account_watch.details), what="endpoint details")
    await pilot.pause()


async def type_and_send(pilot: Pilot[Any], text: str) -> None:
    app = pilot.app
    assert isinstance(app, UnifyTUI)
    app.prompt.load_text(text)
    await pilot.press("enter")


def test_snapshot_empty_state(snap_compare: Any, sim: Any) -> None:
    assert snap_compare(build_app(sim), terminal_size=SIZE, run_before=settled)


def test_snapshot_model_selector_open(snap_compare: Any, sim: Any) -> None:
    async def open_selector(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        app = pilot.app
        app.selector.query_one("#model-select", Select).focus()
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(build_app(sim), terminal_size=SIZE, run_before=open_selector)


def test_snapshot_mid_stream(snap_compare: Any, sim: Any) -> None:
    sim.controls.markdown = True
    sim.controls.reply_tokens = 400
    sim.inject(Fault(FaultKind.STALL, after_tokens=160, seconds=None))

    async def mid_stream(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        app = pilot.app
        await type_and_send(pilot, "Write a markdown answer with code")
        reply = app.conversation.messages[-1]
        await wait_until(pilot, lambda: reply.content.count(" ") > 60, what="text")
        await wait_until(
            pilot, lambda: len(sim.requests) == 1 and len(reply.content) > 500, what="stall"
        )
        await pilot.pause(0.2)

    assert snap_compare(build_app(sim), terminal_size=SIZE, run_before=mid_stream)


def test_snapshot_error_card(snap_compare: Any, sim: Any) -> None:
    sim.inject(Fault(FaultKind.STATUS, status=402))

    async def failed(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await type_and_send(pilot, "What is the capital of Spain?")
        app = pilot.app
        await wait_until(
            pilot,
            lambda: not app.streaming and app.conversation.messages[-1].outcome is not None,
            what="error",
        )
        await pilot.pause()

    assert snap_compare(build_app(sim), terminal_size=SIZE, run_before=failed)
