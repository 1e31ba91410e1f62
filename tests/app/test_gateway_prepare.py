"""The app gets the gateway ready before the first message is sent (issue 19).

Seen from outside, Enter on the first message of a session waited ~100 ms for the SDK client to
be built and a connection opened. Now the app calls the gateway's ``prepare()`` once its warm-up
thread has loaded the HTTP stack, and again when the user types after the gateway was idle for
``PREPARE_AGAIN_S``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.unify import UnifyGateway
from tui_chat.ui import reply_stream


class PreparedGateway(UnifyGateway):
    """The real Unify client, counting the calls of ``prepare()``."""

    prepared = 0

    async def prepare(self) -> None:
        self.prepared += 1
        await super().prepare()


def gateway_for(sim: Any) -> PreparedGateway:
    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
    return PreparedGateway(settings)


async def test_the_gateway_is_prepared_after_start_up_before_anything_is_sent(
    make_app: Any, sim: Any
) -> None:
    gateway = gateway_for(sim)
    app = make_app(gateway=gateway)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: gateway.prepared == 1, what="prepare() after start-up")
        assert gateway._client is not None, "the SDK client is built before the first message"
        assert not sim.requests_for("unify"), "preparing sent a chat request"
        await send(pilot, "Hello")
        await wait_for_reply(pilot)
        assert len(sim.requests_for("unify")) == 1


async def test_typing_prepares_again_only_after_the_gateway_was_idle(
    make_app: Any, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = gateway_for(sim)
    app = make_app(gateway=gateway)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: gateway.prepared == 1, what="prepare() after start-up")
        app.prompt.focus()
        await pilot.press(*"hi")
        await pilot.pause()
        assert gateway.prepared == 1, "prepared again though it was just used"
        monkeypatch.setattr(reply_stream, "PREPARE_AGAIN_S", 0.0)
        await pilot.press("x")
        await wait_until(pilot, lambda: gateway.prepared == 2, what="prepare() while typing")
