"""The "waves" drift --demo runs with: the default endpoint's provider changes within a few replies,
always to the provider the sim's own benchmarks show fastest, while prices (and so price routing)
hold still. The default "jitter" drift is left as it was (test_routing.py covers it)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import start_sim
from tests.gateway_sim.conftest import START_TIME, FakeClock, chat_body, get, stream_chunks
from tui_chat.config import DEFAULT_MODEL
from tui_chat.demo import DEMO_CONTROLS
from tui_chat.gateway_sim import GatewaySim
from tui_chat.gateway_sim.__main__ import build_parser
from tui_chat.gateway_sim.catalog import Catalog

INTERVAL = float(DEMO_CONTROLS["metrics_interval_s"])  # type: ignore[arg-type]
MODEL = DEFAULT_MODEL.partition("@")[0]


@pytest.fixture
def demo_sim(clock: FakeClock) -> Iterator[GatewaySim]:
    """A gateway with the demo's controls (but instant replies) on a clock the test moves."""
    with start_sim(api_key="test-key", clock=clock) as gateway:
        gateway.controls.update({**DEMO_CONTROLS, "token_delay_s": 0.0, "ttft_s": 0.0})
        yield gateway


def served_streamed(sim: GatewaySim, model: str, text: str) -> str:
    """The endpoint that served a streamed reply, as the app reads it (``model`` on chunks)."""
    chunks = stream_chunks(sim, chat_body(text, model=model))
    served = {chunk["model"] for chunk in chunks}
    assert len(served) == 1, served
    endpoint: str = served.pop()
    return endpoint


def metrics_rows(sim: GatewaySim, model: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = get(sim, "endpoint-metrics", model=model).json()
    assert rows
    return rows


@pytest.mark.parametrize("start", [START_TIME, START_TIME + 1_000, START_TIME + 86_400 * 30])
def test_the_default_endpoint_changes_provider_within_five_replies(
    demo_sim: GatewaySim, clock: FakeClock, start: float
) -> None:
    clock.now = start
    providers = []
    for number in range(5):
        clock.advance(INTERVAL)  # a reply every few seconds: each sees the next measurement
        endpoint = served_streamed(demo_sim, DEFAULT_MODEL, f"hello {number}")
        rows = metrics_rows(demo_sim, MODEL)
        fastest = max(rows, key=lambda row: 1000 / row["itl"])  # tokens per second
        assert endpoint == fastest["endpoint"], (endpoint, rows)
        others = [row["itl"] for row in rows if row["endpoint"] != endpoint]
        assert all(itl > fastest["itl"] for itl in others)
        providers.append(endpoint.split("@")[1])
    assert len(set(providers)) >= 2, providers


def test_the_lead_changes_every_few_measurements_and_speeds_cross_smoothly() -> None:
    catalog = Catalog(seed=0)
    specs = catalog.specs_for_model(MODEL)
    first = int(START_TIME // INTERVAL)
    epochs = range(first, first + 2_000)
    itl = {
        spec.provider: [catalog.metrics(spec, e * INTERVAL, INTERVAL, "waves").itl for e in epochs]
        for spec in specs
    }
    leaders = [min(itl, key=lambda provider: itl[provider][i]) for i in range(len(epochs))]
    windows = [set(leaders[i : i + 5]) for i in range(len(leaders) - 4)]
    stuck = sum(1 for window in windows if len(window) < 2)
    assert stuck <= len(windows) // 100, stuck  # 5 measurements nearly always see a new leader
    longest = max(len(list(run)) for _, run in itertools.groupby(leaders))
    assert longest <= 10
    # the lead is shared by several providers, the usual fastest still most often
    counts = {provider: leaders.count(provider) for provider in itl}
    assert sum(1 for count in counts.values() if count > len(leaders) // 10) >= 3, counts
    assert max(counts, key=lambda provider: counts[provider]) == "groq"
    # no random jumps: a measurement moves a provider's speed by at most about a quarter
    for series in itl.values():
        assert all(abs(b / a - 1) < 0.3 for a, b in itertools.pairwise(series))


def test_prices_and_price_routing_hold_still(demo_sim: GatewaySim, clock: FakeClock) -> None:
    picks, details = set(), []
    for _ in range(30):
        clock.advance(INTERVAL * 2)
        response = requests.post(
            f"{demo_sim.base_url}/chat/completions",
            json=chat_body(model=f"{MODEL}@lowest-cost"),
            headers={"Authorization": "Bearer test-key"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        picks.add(response.json()["model"])
        details.append(get(demo_sim, "endpoint-details", endpoint=f"{MODEL}@groq").json())
    assert len(picks) == 1, picks
    assert all(detail == details[0] for detail in details)


def test_ttft_routing_follows_the_waves_too(demo_sim: GatewaySim, clock: FakeClock) -> None:
    picks = []
    for _ in range(12):
        clock.advance(INTERVAL)
        rows = metrics_rows(demo_sim, MODEL)
        endpoint = served_streamed(demo_sim, f"{MODEL}@lowest-ttft", "hi")
        assert endpoint == min(rows, key=lambda row: row["ttft"])["endpoint"]
        picks.append(endpoint)
    assert len(set(picks)) >= 2, picks


def test_drift_is_a_wire_control_and_a_flag(sim: GatewaySim) -> None:
    url = f"{sim.url}/_sim/control"
    answer = requests.post(url, json={"drift": "waves"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["controls"]["drift"] == "waves"
    assert sim.controls.drift == "waves"
    refused = requests.post(url, json={"drift": "random", "markdown": True}, timeout=10)
    assert refused.status_code == 400 and "drift must be one of" in refused.text
    assert sim.controls.drift == "waves" and sim.controls.markdown is False

    args = build_parser().parse_args(["--drift", "waves", "--metrics-interval", "3"])
    assert (args.drift, args.metrics_interval) == ("waves", 3.0)
    assert build_parser().parse_args([]).drift == "jitter"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--drift", "random"])
