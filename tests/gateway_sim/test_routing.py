"""Routing modes, thresholds, router@, fallbacks and the drift that makes picks change."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.gateway_sim.conftest import FakeClock, chat_body, get, post_chat
from tui_chat.gateway_sim import Fault, GatewaySim, errors
from tui_chat.gateway_sim.routing import expand_fallbacks


def served(sim: GatewaySim, model: str, text: str = "Hello") -> str:
    response = post_chat(sim, chat_body(text, model=model))
    assert response.status_code == 200, response.text
    model_served: str = response.json()["model"]
    return model_served


def metrics_of(sim: GatewaySim, model: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = get(sim, "endpoint-metrics", model=model).json()
    return rows


def best(rows: list[dict[str, Any]], key: Any) -> str:
    return str(min(rows, key=key)["endpoint"])


@pytest.mark.parametrize(
    ("mode", "key"),
    [
        ("lowest-input-cost", lambda row: row["input_cost"]),
        ("lowest-output-cost", lambda row: row["output_cost"]),
        ("lowest-ttft", lambda row: row["ttft"]),
        ("lowest-itl", lambda row: row["itl"]),
        ("highest-tks-per-sec", lambda row: row["itl"]),
        ("ic", lambda row: row["input_cost"]),
        ("oc", lambda row: row["output_cost"]),
        ("ttft", lambda row: row["ttft"]),
        ("ots", lambda row: row["itl"]),
        ("inter-token-latency", lambda row: row["itl"]),
        ("t", lambda row: row["ttft"]),
        ("lowest-cost", lambda row: (3 * row["input_cost"] + row["output_cost"]) / 4),
    ],
)
def test_mode_picks_the_best_endpoint_by_its_metric(
    clocked_sim: GatewaySim, mode: str, key: Any
) -> None:
    rows = metrics_of(clocked_sim, "llama-2-70b-chat")
    assert served(clocked_sim, f"llama-2-70b-chat@{mode}") == best(rows, key)


def test_highest_tks_per_sec_changes_provider_as_speeds_drift(
    clocked_sim: GatewaySim, clock: FakeClock
) -> None:
    interval = clocked_sim.controls.metrics_interval_s
    start = clock.now - clock.now % interval
    picks = []
    for epoch in range(12):
        clock.now = start + epoch * interval + 0.1 * interval
        first = served(clocked_sim, "llama-2-70b-chat@highest-tks-per-sec")
        clock.advance(interval / 2)  # within one benchmark interval the pick holds
        assert served(clocked_sim, "llama-2-70b-chat@highest-tks-per-sec") == first
        picks.append(first)

    assert len(set(picks)) >= 3, picks
    assert all(pick.startswith("llama-2-70b-chat@") for pick in picks)


def test_prices_drift_too(clocked_sim: GatewaySim, clock: FakeClock) -> None:
    seen = set()
    for _ in range(5):
        seen.add(
            get(clocked_sim, "endpoint-details", endpoint="gpt-4o-mini@openai").json()["input_cost"]
        )
        clock.advance(clocked_sim.controls.metrics_interval_s * 6)
    assert len(seen) > 1


def test_time_offset_control_moves_drift_over_the_wire(clocked_sim: GatewaySim) -> None:
    before = metrics_of(clocked_sim, "llama-3.1-8b-chat")
    clocked_sim.controls.time_offset_s = 3600
    assert metrics_of(clocked_sim, "llama-3.1-8b-chat") != before


def test_same_seed_and_time_give_the_same_picks(clock: FakeClock) -> None:
    picks = []
    for _ in range(2):
        with GatewaySim(api_key="test-key", clock=clock, seed=7) as gateway:
            gateway.controls.token_delay_s = gateway.controls.ttft_s = 0.0
            picks.append(served(gateway, "llama-3.1-70b-chat@lowest-ttft"))
    assert picks[0] == picks[1]


def test_metric_aliases_agree(clocked_sim: GatewaySim) -> None:
    names = ["itl", "lowest-itl", "inter-token-latency", "i", "lowest-i"]
    assert len({served(clocked_sim, f"llama-3.1-70b-chat@{name}") for name in names}) == 1


def test_old_thresholds_filter_then_rank(clocked_sim: GatewaySim) -> None:
    rows = metrics_of(clocked_sim, "llama-2-70b-chat")
    cheap = [row for row in rows if row["input_cost"] < 0.9]
    assert cheap and len(cheap) < len(rows)

    pick = served(clocked_sim, "llama-2-70b-chat@lowest-itl<0.9input-cost")
    assert pick == best(cheap, lambda row: row["itl"])


def test_pipe_thresholds_and_provider_filters(clocked_sim: GatewaySim) -> None:
    allowed = {"groq", "fireworks-ai", "together-ai"}
    pick = served(clocked_sim, "llama-3.1-405b-chat@itl|providers:groq,fireworks-ai,together-ai")
    assert pick.split("@")[1] in allowed

    fastest = best(metrics_of(clocked_sim, "llama-3.1-405b-chat"), lambda row: row["itl"])
    skipping = fastest.split("@")[1]
    other = served(clocked_sim, f"llama-3.1-405b-chat@itl|skip_providers:{skipping}")
    assert other.split("@")[1] != skipping

    rows = metrics_of(clocked_sim, "llama-3.1-70b-chat")
    limit = sorted(row["ttft"] for row in rows)[2]
    pick = served(clocked_sim, f"llama-3.1-70b-chat@lowest-input-cost|ttft<={limit}")
    under = [row for row in rows if row["ttft"] <= limit]
    assert pick == best(under, lambda row: row["input_cost"])


def test_no_endpoint_within_thresholds_is_404(clocked_sim: GatewaySim) -> None:
    for model in ("llama-3.1-8b-chat@itl<0.001", "llama-2-70b-chat@lowest-itl<0.0001input-cost"):
        response = post_chat(clocked_sim, chat_body(model=model))
        assert response.status_code == 404
        assert response.json() == {"detail": "No providers found within the specified thresholds."}


def test_router_picks_across_models(clocked_sim: GatewaySim) -> None:
    pick = served(clocked_sim, "router@quality")
    assert "@" in pick and not pick.startswith("router")

    cheap = served(clocked_sim, "router@lowest-input-cost|providers:openai")
    assert cheap == "gpt-4.1-nano@openai"
    assert served(clocked_sim, "router@q:1|c:4.65e-03|t:2.08e-05|i:2.07e-03").count("@") == 1


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4o-mini@", "@openai", "a@b@c", "x->"])
def test_malformed_model_string_is_400_invalid_model(sim: GatewaySim, model: str) -> None:
    response = post_chat(sim, chat_body(model=model))
    assert response.status_code == 400
    assert response.json() == {"detail": errors.INVALID_MODEL}


@pytest.mark.parametrize(
    "model",
    ["gpt-4o-mini@openia", "llama-3.1-8b-chat@fastest", "llama-3.1-8b-chat@itl|bogus:1"],
)
def test_unknown_provider_or_metric_is_400_invalid_provider(sim: GatewaySim, model: str) -> None:
    response = post_chat(sim, chat_body(model=model))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail == errors.INVALID_PROVIDER
    assert "routing.See https://" in detail  # sic, as the backend sends it


def test_unknown_model_at_known_provider_is_500_with_digest(sim: GatewaySim) -> None:
    response = post_chat(sim, chat_body(model="FAKE_MODEL@anthropic"))
    assert response.status_code == 500
    assert re.fullmatch(r"Internal Server Error\. Digest: [0-9a-f]{8}", response.json()["detail"])


def test_fallback_chain_expansion() -> None:
    assert expand_fallbacks("a->b@p1->c@p2->p3") == ["a@p1", "b@p1", "c@p2", "c@p3"]
    assert expand_fallbacks("claude-3-opus@anthropic->aws-bedrock") == [
        "claude-3-opus@anthropic",
        "claude-3-opus@aws-bedrock",
    ]
    assert expand_fallbacks("gemini-1.5-pro->gemini-1.5-flash@vertex-ai") == [
        "gemini-1.5-pro@vertex-ai",
        "gemini-1.5-flash@vertex-ai",
    ]
    assert len(expand_fallbacks("m@a->b->c->d->e->f->g")) == 5


def test_fallback_serves_the_next_candidate_after_an_unknown_model(sim: GatewaySim) -> None:
    # the backend's own test: FAKE_MODEL@anthropic fails over
    pick = served(sim, "FAKE_MODEL@anthropic->llama-3.1-8b-chat@deepinfra")
    assert pick == "llama-3.1-8b-chat@deepinfra"


@pytest.mark.parametrize("status", [400, 403, 404, 429, 500, 502, 503])
def test_fallback_moves_on_after_retryable_status(sim: GatewaySim, status: int) -> None:
    sim.inject(Fault("status", status=status, endpoint="claude-3-opus@anthropic"))
    assert served(sim, "claude-3-opus@anthropic->aws-bedrock") == "claude-3-opus@aws-bedrock"
    assert sim.faults == []


@pytest.mark.parametrize("status", [401, 402])
def test_fallback_stops_on_401_and_402(sim: GatewaySim, status: int) -> None:
    sim.inject(Fault("status", status=status, endpoint="claude-3-opus@anthropic"))
    response = post_chat(sim, chat_body(model="claude-3-opus@anthropic->aws-bedrock"))
    assert response.status_code == status


def test_when_every_candidate_fails_the_last_error_is_returned(sim: GatewaySim) -> None:
    sim.inject(Fault("status", status=503, endpoint="gpt-4o@openai"))
    response = post_chat(sim, chat_body(model="gpt-4o@openai->nothing-here@openai"))
    assert response.status_code == 500
    assert response.json()["detail"].startswith("Internal Server Error. Digest: ")


def test_routed_model_in_a_fallback_chain(clocked_sim: GatewaySim) -> None:
    pick = served(clocked_sim, "FAKE@openai->llama-3.1-8b-chat@lowest-itl")
    assert pick == best(metrics_of(clocked_sim, "llama-3.1-8b-chat"), lambda row: row["itl"])


def test_prompt_larger_than_context_window_is_routed_around(clocked_sim: GatewaySim) -> None:
    long_text = "word " * 20_000  # about 25k tokens: over llama-2's 4k window
    response = post_chat(clocked_sim, chat_body(long_text, model="llama-2-70b-chat@anyscale"))
    assert response.status_code == 400
    assert "maximum context length is 4096 tokens" in response.json()["detail"]
    routed = post_chat(clocked_sim, chat_body(long_text, model="llama-2-70b-chat@lowest-itl"))
    assert routed.status_code == 404
