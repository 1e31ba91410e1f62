"""The markup control: the balance falls by the reported cost and the markup's share on top, on
every dialect that bills (the demo bills 5 %, so billed vs reported has something to show)."""

from __future__ import annotations

import pytest
import requests

from tests.gateway_sim.conftest import chat_body, get, stream_chunks
from tui_chat.demo import DEMO_CONTROLS
from tui_chat.gateway_sim import GatewaySim
from tui_chat.gateway_sim.__main__ import build_parser


def test_the_balance_falls_by_the_cost_and_the_markup(sim: GatewaySim) -> None:
    sim.controls.markup = 0.05
    before = get(sim, "credits").json()["credits"]
    reported = stream_chunks(sim, chat_body("Tell me a joke"))[-1]["usage"]["cost"]
    after = get(sim, "credits").json()["credits"]
    assert before - after == pytest.approx(reported * 1.05, abs=1e-12)
    assert sim.spent == pytest.approx(reported * 1.05, abs=1e-12)


def test_markup_is_a_control_over_http_and_refuses_a_negative_share(sim: GatewaySim) -> None:
    url = f"{sim.url}/_sim/control"
    assert requests.post(url, json={"markup": 0.1}, timeout=5).status_code == 200
    assert sim.controls.markup == 0.1
    assert requests.post(url, json={"markup": -1}, timeout=5).status_code == 400
    assert sim.controls.markup == 0.1


def test_the_command_line_and_the_demo_bill_a_markup() -> None:
    assert build_parser().parse_args(["--markup", "0.05"]).markup == 0.05
    assert build_parser().parse_args([]).markup == 0.0
    assert DEMO_CONTROLS["markup"] == 0.05
