"""The embedded gateway's OpenRouter (/api/v1) and OpenAI-compatible (/v1) dialects, on the wire."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
import requests

from tests.gateway_sim.conftest import AUTH, KEY
from tui_chat.gateway_sim import Fault, GatewaySim
from tui_chat.gateway_sim.dialects import display_name, openrouter_slug


def _messages(text: str = "Hello, my name is Ada") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _raw_stream(url: str, body: dict[str, Any]) -> str:
    response = requests.post(
        f"{url}/chat/completions", json={**body, "stream": True}, headers=AUTH, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.text


def _events(raw: str) -> list[str]:
    return [
        piece.removeprefix("data: ") for piece in raw.split("\n\n") if piece.startswith("data: ")
    ]


# -- OpenRouter ---------------------------------------------------------------------------------


def test_openrouter_stream_has_comment_provider_cost_and_done(sim: GatewaySim) -> None:
    raw = _raw_stream(
        sim.openrouter_base_url, {"model": "openai/gpt-4o-mini", "messages": _messages()}
    )
    assert raw.startswith(": OPENROUTER PROCESSING\n\n")
    events = _events(raw)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {chunk["provider"] for chunk in chunks} == {"OpenAI"}
    assert {chunk["model"] for chunk in chunks} == {"openai/gpt-4o-mini"}
    assert chunks[-1]["choices"] == []
    usage = chunks[-1]["usage"]
    assert usage["cost"] > 0 and usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert "Ada" in "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])


def test_openrouter_through_the_openai_sdk(sim: GatewaySim) -> None:
    with openai.OpenAI(base_url=sim.openrouter_base_url, api_key=KEY, max_retries=0) as client:
        stream = client.chat.completions.create(
            model="meta-llama/llama-3.1-70b-instruct", messages=_messages(), stream=True
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert "Ada" in text


def test_openrouter_provider_order_without_fallbacks_pins_the_provider(sim: GatewaySim) -> None:
    body = {
        "model": "meta-llama/llama-3.1-70b-instruct",
        "messages": _messages(),
        "provider": {"order": ["groq"], "allow_fallbacks": False},
    }
    chunks = [json.loads(e) for e in _events(_raw_stream(sim.openrouter_base_url, body))[:-1]]
    assert chunks[0]["provider"] == "Groq"
    assert sim.requests_for("openrouter")[-1].first["provider"]["order"] == ["groq"]


def test_openrouter_only_filters_and_unknown_provider_is_404(sim: GatewaySim) -> None:
    body = {
        "model": "openai/gpt-4o-mini",
        "messages": _messages(),
        "provider": {"only": ["together"]},
    }
    response = requests.post(
        f"{sim.openrouter_base_url}/chat/completions", json=body, headers=AUTH, timeout=10
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404
    assert "No allowed providers" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("sort", "key"), [("throughput", "itl"), ("price", "price"), ("latency", "ttft")]
)
def test_openrouter_sort_picks_the_best_provider_by_that_measure(
    sim: GatewaySim, sort: str, key: str
) -> None:
    body = {
        "model": "meta-llama/llama-3.1-70b-instruct",
        "messages": _messages(),
        "provider": {"sort": sort},
    }
    chunks = [json.loads(e) for e in _events(_raw_stream(sim.openrouter_base_url, body))[:-1]]
    listing = requests.get(
        f"{sim.openrouter_base_url}/models/meta-llama/llama-3.1-70b-instruct/endpoints", timeout=10
    ).json()["data"]["endpoints"]
    assert chunks[0]["provider"] in {item["provider_name"] for item in listing}
    served = chunks[0]["provider"]
    # the catalog's own ranking agrees with what served
    specs = sim.catalog.specs_for_model("llama-3.1-70b-chat")
    metrics = [sim.catalog.metrics(s, sim.now(), sim.controls.metrics_interval_s) for s in specs]
    measure = {
        "itl": lambda m: m.itl,
        "ttft": lambda m: m.ttft,
        "price": lambda m: m.input_cost + m.output_cost,
    }[key]
    best = min(metrics, key=measure)
    assert served == display_name(openrouter_slug(best.provider))


def test_openrouter_nitro_suffix_sorts_by_throughput(sim: GatewaySim) -> None:
    nitro = _raw_stream(
        sim.openrouter_base_url,
        {"model": "meta-llama/llama-3.1-70b-instruct:nitro", "messages": _messages()},
    )
    sorted_ = _raw_stream(
        sim.openrouter_base_url,
        {
            "model": "meta-llama/llama-3.1-70b-instruct",
            "messages": _messages(),
            "provider": {"sort": "throughput"},
        },
    )
    assert json.loads(_events(nitro)[0])["provider"] == json.loads(_events(sorted_)[0])["provider"]


def test_openrouter_models_fallback_used_when_first_model_fails(sim: GatewaySim) -> None:
    sim.inject(Fault("status", status=503, endpoint="gpt-4o-mini@openai"))
    body = {
        "model": "openai/gpt-4o-mini",
        "models": ["anthropic/claude-3-haiku"],
        "messages": _messages(),
        "provider": {"order": ["openai", "anthropic"]},
    }
    chunks = [json.loads(e) for e in _events(_raw_stream(sim.openrouter_base_url, body))[:-1]]
    assert chunks[0]["model"] == "anthropic/claude-3-haiku"
    assert chunks[0]["provider"] == "Anthropic"


def test_openrouter_listings_and_credits(sim: GatewaySim) -> None:
    models = requests.get(f"{sim.openrouter_base_url}/models", timeout=10).json()["data"]
    mini = next(item for item in models if item["id"] == "openai/gpt-4o-mini")
    assert isinstance(mini["pricing"]["prompt"], str)
    assert 0 < float(mini["pricing"]["prompt"]) < 1e-5
    assert mini["context_length"] == 128000
    endpoints = requests.get(
        f"{sim.openrouter_base_url}/models/anthropic/claude-3-haiku/endpoints", timeout=10
    ).json()["data"]["endpoints"]
    assert {item["tag"] for item in endpoints} == {"anthropic", "amazon-bedrock", "google-vertex"}
    missing = requests.get(f"{sim.openrouter_base_url}/models/x/y/endpoints", timeout=10)
    assert missing.status_code == 404 and "error" in missing.json()

    _raw_stream(sim.openrouter_base_url, {"model": "openai/gpt-4o-mini", "messages": _messages()})
    credits = requests.get(f"{sim.openrouter_base_url}/credits", headers=AUTH, timeout=10).json()
    data = credits["data"]
    assert data["total_usage"] > 0
    assert data["total_credits"] - data["total_usage"] == pytest.approx(sim.credits)


def test_openrouter_errors_use_its_error_object(sim: GatewaySim) -> None:
    bad_key = requests.get(
        f"{sim.openrouter_base_url}/credits", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert bad_key.status_code == 401
    assert bad_key.json() == {"error": {"code": 401, "message": "User not found."}}
    sim.credits = 0
    broke = requests.post(
        f"{sim.openrouter_base_url}/chat/completions",
        json={"model": "openai/gpt-4o-mini", "messages": _messages()},
        headers=AUTH,
        timeout=10,
    )
    assert broke.status_code == 402
    assert "Insufficient credits" in broke.json()["error"]["message"]


def test_openrouter_error_chunk_mid_stream(sim: GatewaySim) -> None:
    sim.inject(Fault("error_chunk", after_tokens=2, detail="Upstream provider went away"))
    raw = _raw_stream(
        sim.openrouter_base_url, {"model": "openai/gpt-4o-mini", "messages": _messages()}
    )
    last = json.loads(_events(raw)[-1])
    assert last == {"error": {"code": 502, "message": "Upstream provider went away"}}


@pytest.mark.parametrize(
    ("base", "model"),
    [
        ("base_url", "gpt-4o-mini@openai"),
        ("openrouter_base_url", "openai/gpt-4o-mini"),
        ("openai_base_url", "gpt-4o-mini"),
    ],
)
def test_error_chunk_default_text_is_the_same_streamed_or_whole(
    sim: GatewaySim, base: str, model: str
) -> None:
    body = {"model": model, "messages": _messages()}
    url = getattr(sim, base)
    sim.inject(Fault("error_chunk", after_tokens=2))
    streamed = json.loads(_events(_raw_stream(url, body))[-1])
    sim.inject(Fault("error_chunk"))
    whole = requests.post(f"{url}/chat/completions", json=body, headers=AUTH, timeout=10)
    assert whole.status_code == 200
    assert whole.json() == streamed
    assert streamed["error"]["code"] == 502 and streamed["error"]["message"]


# -- plain OpenAI-compatible -------------------------------------------------------------------


def test_openai_stream_without_include_usage_has_no_usage(sim: GatewaySim) -> None:
    events = _events(
        _raw_stream(sim.openai_base_url, {"model": "gpt-4o-mini", "messages": _messages()})
    )
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert all("usage" not in chunk and "provider" not in chunk for chunk in chunks)
    assert {chunk["model"] for chunk in chunks} == {"gpt-4o-mini"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_openai_stream_with_include_usage_ends_with_usage_chunk(sim: GatewaySim) -> None:
    before = sim.credits
    body = {
        "model": "gpt-4o-mini",
        "messages": _messages(),
        "stream_options": {"include_usage": True},
    }
    chunks = [json.loads(e) for e in _events(_raw_stream(sim.openai_base_url, body))[:-1]]
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert set(chunks[-1]["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert sim.credits == before  # a plain server bills nothing


def test_openai_models_listing_and_errors(sim: GatewaySim) -> None:
    listing = requests.get(f"{sim.openai_base_url}/models", headers=AUTH, timeout=10).json()
    assert listing["object"] == "list"
    assert any(
        item["id"] == "gpt-4o-mini" and item["object"] == "model" for item in listing["data"]
    )
    unknown = requests.post(
        f"{sim.openai_base_url}/chat/completions",
        json={"model": "no-such-model", "messages": _messages()},
        headers=AUTH,
        timeout=10,
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "The model `no-such-model` does not exist."
    sim.inject(Fault("status", status=429))
    limited = requests.post(
        f"{sim.openai_base_url}/chat/completions",
        json={"model": "gpt-4o-mini", "messages": _messages()},
        headers=AUTH,
        timeout=10,
    )
    assert limited.status_code == 429
    assert limited.json()["error"]["type"] == "rate_limit_exceeded"


def test_faults_work_in_every_dialect(sim: GatewaySim) -> None:
    for url, model in (
        (sim.base_url, "gpt-4o-mini@openai"),
        (sim.openrouter_base_url, "openai/gpt-4o-mini"),
        (sim.openai_base_url, "gpt-4o-mini"),
    ):
        sim.inject(Fault("drop", after_tokens=2))
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            _raw_stream(url, {"model": model, "messages": _messages()})


def test_requests_are_recorded_per_dialect(sim: GatewaySim) -> None:
    _raw_stream(sim.openai_base_url, {"model": "gpt-4o-mini", "messages": _messages("one")})
    _raw_stream(sim.openrouter_base_url, {"model": "openai/gpt-4o", "messages": _messages("two")})
    _raw_stream(sim.base_url, {"model": "gpt-4o@openai", "messages": _messages("three")})
    assert [r.messages[0]["content"] for r in sim.requests_for("openai")] == ["one"]
    assert [r.messages[0]["content"] for r in sim.requests_for("openrouter")] == ["two"]
    assert [r.messages[0]["content"] for r in sim.requests_for("unify")] == ["three"]
