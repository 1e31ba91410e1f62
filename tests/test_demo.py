"""The --demo gateway: its address at once, the sim started later, nothing lost in between."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import subprocess
import sys
import threading
from typing import Any

import pytest

from tests.app.conftest import send, wait_for_reply, wait_until
from tui_chat import cli
from tui_chat.core.conversation import Outcome
from tui_chat.demo import DEMO_CONTROLS, DEMO_CREDITS, DEMO_KEY, DemoGateway
from tui_chat.ui.app import UnifyTUI


def _get_credits(url: str) -> tuple[int, Any]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/v0/credits", headers={"Authorization": f"Bearer {DEMO_KEY}"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_the_address_is_known_before_the_sim_is_imported() -> None:
    code = (
        "import sys\n"
        "from tui_chat.demo import DemoGateway\n"
        "demo = DemoGateway()\n"
        "assert demo.base_url.startswith('http://127.0.0.1:') and demo.base_url.endswith('/v0')\n"
        "assert not demo.started\n"
        "assert 'tui_chat.gateway_sim' not in sys.modules, 'the sim was imported'\n"
        "demo.stop()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_request_made_before_start_is_answered_once_it_starts() -> None:
    demo = DemoGateway()
    answer: list[tuple[int, Any]] = []
    client = threading.Thread(target=lambda: answer.append(_get_credits(demo.url)))
    try:
        client.start()
        client.join(0.3)
        assert client.is_alive() and not answer, "answered before the sim started"
        demo.start()
        assert demo.started
        client.join(10)
        assert answer, "the waiting request was never answered"
        status, body = answer[0]
        assert status == 200
        assert body["credits"] == pytest.approx(DEMO_CREDITS)
    finally:
        demo.stop()
        client.join(5)


def test_the_demo_sim_runs_with_the_demo_controls() -> None:
    """Paced replies and the "waves" drift that makes the default routing visibly move."""
    demo = DemoGateway()
    try:
        demo.start()
        host, port = demo.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", "/_sim/state")
            controls = json.loads(connection.getresponse().read())["controls"]
        finally:
            connection.close()
        assert {name: controls[name] for name in DEMO_CONTROLS} == dict(DEMO_CONTROLS)
        assert controls["drift"] == "waves"
    finally:
        demo.stop()


def test_start_twice_serves_once_and_stop_is_idempotent() -> None:
    demo = DemoGateway()
    demo.start()
    demo.start()
    assert _get_credits(demo.url)[0] == 200
    demo.stop()
    demo.stop()
    with pytest.raises(OSError):
        _get_credits(demo.url)


def test_stop_without_start_frees_the_port_and_start_after_stop_does_nothing() -> None:
    demo = DemoGateway()
    port = int(demo.url.rsplit(":", 1)[1])
    demo.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    demo.start()
    assert not demo.started


def test_demo_app_chats_after_its_first_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """unify-tui --demo as built by the command line: the gateway comes up after the first
    frame and the first message is answered, with the balance from the sim."""
    seen: dict[str, Any] = {}

    async def drive(app: UnifyTUI) -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.status.balance is not None, what="the balance")
            await send(pilot, "hello")
            await wait_for_reply(pilot)
            seen["reply"] = app.conversation.messages[-1]
            seen["balance"] = app.status.balance

    monkeypatch.setattr(UnifyTUI, "run", lambda self, *a, **k: asyncio.run(drive(self)))
    assert cli.main(["--demo", "--no-save"]) == 0
    reply = seen["reply"]
    assert reply.role == "assistant" and reply.content and reply.outcome == Outcome.COMPLETE
    assert seen["balance"] == pytest.approx(DEMO_CREDITS, abs=0.01)
