"""The Unify API on the wire: shapes, auth, credits, metadata, through openai and requests."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Any

import openai
import pytest
import requests

from tests.gateway_sim.conftest import (
    AUTH,
    KEY,
    chat_body,
    content_of,
    get,
    post_chat,
    sse_payloads,
    stream_chunks,
)
from tui_chat.gateway_sim import Fault, GatewaySim, errors

USAGE_KEYS = {"cost", "prompt_tokens", "completion_tokens", "total_tokens"}


def test_stream_has_unify_sse_shape(sim: GatewaySim) -> None:
    response = post_chat(sim, chat_body("What is the capital of Spain?", stream=True))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["Transfer-Encoding"] == "chunked"
    raw = response.content.decode()
    assert "[DONE]" not in raw
    assert raw.endswith("\n\n")
    chunks = [json.loads(payload) for payload in sse_payloads(response.content)]
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk["model"] == "gpt-4o-mini@openai"
        assert chunk["object"] == "chat.completion.chunk"
    assert all(chunk["usage"] == {} for chunk in chunks[:-1])
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in chunks[:-1])
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert set(last["usage"]) == USAGE_KEYS
    assert last["usage"]["completion_tokens"] == len(chunks)
    assert last["usage"]["total_tokens"] == (
        last["usage"]["prompt_tokens"] + last["usage"]["completion_tokens"]
    )
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert content_of(chunks) == "The capital of Spain is Madrid."


def test_openai_sync_client_reads_the_stream_to_eof(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="llama-3.1-8b-chat@groq",
        messages=[{"role": "user", "content": "What is the capital of Portugal?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == (
        "The capital of Portugal is Lisbon."
    )
    assert {c.model for c in chunks} == {"llama-3.1-8b-chat@groq"}
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == len(chunks)
    assert getattr(usage, "cost", 0) > 0


async def test_openai_async_client_reads_the_stream(sim: GatewaySim) -> None:
    async with openai.AsyncOpenAI(base_url=sim.base_url, api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="claude-3-haiku@anthropic",
            messages=[{"role": "user", "content": "What is 6 * 7?"}],
            stream=True,
        )
        text = ""
        async for chunk in stream:
            assert chunk.model == "claude-3-haiku@anthropic"
            text += chunk.choices[0].delta.content or ""

    assert text == "6 * 7 = 42."


def test_close_delimited_stream_also_reads_to_eof(sim: GatewaySim, client: openai.OpenAI) -> None:
    sim.controls.close_delimited = True
    response = post_chat(sim, chat_body("Hello", stream=True))
    assert "Transfer-Encoding" not in response.headers
    assert response.headers["Connection"] == "close"

    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini@openai",
            messages=[{"role": "user", "content": "Hello"}],
            stream=True,
        )
    )
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_without_content_type_when_asked(sim: GatewaySim) -> None:
    sim.controls.omit_stream_content_type = True
    response = post_chat(sim, chat_body(stream=True))
    assert "Content-Type" not in response.headers
    assert json.loads(sse_payloads(response.content)[-1])["usage"]["completion_tokens"] > 0


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_reads_the_stream(sim: GatewaySim) -> None:
    result = subprocess.run(
        [
            "curl",
            "-sSN",
            f"{sim.base_url}/chat/completions",
            "-H",
            f"Authorization: Bearer {KEY}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps(chat_body("What is the capital of Spain?", stream=True)),
        ],
        capture_output=True,
        timeout=10,
        check=True,
    )
    chunks = [json.loads(payload) for payload in sse_payloads(result.stdout)]
    assert content_of(chunks) == "The capital of Spain is Madrid."


def test_non_stream_response_shape(sim: GatewaySim, client: openai.OpenAI) -> None:
    response = post_chat(sim, chat_body("What is the capital of Spain?"))

    assert response.status_code == 200
    assert int(response.headers["openai-processing-ms"]) >= 0
    body = response.json()
    assert list(body) == ["model", "created", "id", "object", "usage", "choices"]
    assert body["model"] == "gpt-4o-mini@openai"
    assert body["object"] == "chat.completion"
    assert set(body["usage"]) == USAGE_KEYS | {"completion_tokens_details"}
    assert body["usage"]["cost"] > 0
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"] == {
        "content": "The capital of Spain is Madrid.",
        "role": "assistant",
        "tool_calls": None,
        "function_call": None,
    }

    completion = client.chat.completions.create(
        model="gpt-4o-mini@openai", messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.model == "gpt-4o-mini@openai"
    assert completion.usage is not None
    assert getattr(completion.usage, "cost", 0) > 0


def test_credits_decrease_by_exactly_the_reported_cost(sim: GatewaySim) -> None:
    before = get(sim, "credits").json()
    assert before == {"id": "sim-user", "credits": 50.0}

    streamed = stream_chunks(sim, chat_body("Tell me a joke"))[-1]["usage"]["cost"]
    after_stream = get(sim, "credits").json()["credits"]
    assert after_stream == pytest.approx(50.0 - streamed, abs=1e-12)

    plain = post_chat(sim, chat_body("Tell me a joke")).json()["usage"]["cost"]
    after_plain = get(sim, "credits").json()["credits"]
    assert after_plain == pytest.approx(after_stream - plain, abs=1e-12)
    assert sim.credits == after_plain


def test_cost_follows_the_endpoint_prices(sim: GatewaySim) -> None:
    usage = stream_chunks(sim, chat_body("Hello", model="gpt-4-turbo@openai"))[-1]["usage"]
    prices = get(sim, "endpoint-details", endpoint="gpt-4-turbo@openai").json()

    expected = (
        usage["prompt_tokens"] * prices["input_cost"]
        + usage["completion_tokens"] * prices["output_cost"]
    ) / 1_000_000
    assert usage["cost"] == pytest.approx(expected)


def test_empty_balance_gets_402_before_any_call(sim: GatewaySim, client: openai.OpenAI) -> None:
    sim.credits = 0.0
    response = post_chat(sim, chat_body())
    assert response.status_code == 402
    assert response.json() == {"detail": errors.NO_CREDITS}

    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(
            model="gpt-4o-mini@openai", messages=[{"role": "user", "content": "Hi"}]
        )
    assert caught.value.status_code == 402

    sim.add_credits(1.0)
    assert post_chat(sim, chat_body()).status_code == 200


def test_old_get_credits_path_is_gone(sim: GatewaySim) -> None:
    response = get(sim, "get_credits")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    ("headers", "status", "detail"),
    [
        ({}, 403, "Not authenticated"),
        ({"Authorization": "Bearer"}, 403, "Not authenticated"),
        ({"Authorization": f"Basic {KEY}"}, 403, "Invalid authentication credentials"),
        ({"Authorization": "Bearer wrong-key"}, 401, errors.INVALID_API_KEY),
    ],
)
def test_auth_errors_match_the_spec(
    sim: GatewaySim, headers: dict[str, str], status: int, detail: str
) -> None:
    for response in (
        requests.get(f"{sim.base_url}/credits", headers=headers, timeout=5),
        requests.get(f"{sim.base_url}/models", headers=headers, timeout=5),
        post_chat(sim, chat_body(), headers=headers),
    ):
        assert response.status_code == status
        assert response.json() == {"detail": detail}


def test_openai_client_sees_401_for_a_bad_key(sim: GatewaySim) -> None:
    bad = openai.OpenAI(base_url=sim.base_url, api_key="nope", max_retries=0)
    with bad, pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(
            model="gpt-4o-mini@openai", messages=[{"role": "user", "content": "Hi"}]
        )
    assert caught.value.status_code == 401
    assert caught.value.body == {"detail": errors.INVALID_API_KEY}


def test_models_providers_and_endpoints(sim: GatewaySim) -> None:
    models = get(sim, "models").json()
    assert len(models) >= 300
    assert models == sorted(models)
    for model in ("llama-2-70b-chat", "gpt-4o-mini", "claude-3-haiku", "llama-3.1-405b-chat"):
        assert model in models
    assert "gpt-4o-mini" in get(sim, "models", provider="openai").json()
    assert get(sim, "models", provider="custom").json() == []

    providers = get(sim, "providers", model="llama-3.1-70b-chat").json()
    assert {"together-ai", "fireworks-ai", "groq", "deepinfra"} <= set(providers)
    assert get(sim, "providers", model="no-such-model").json() == []
    assert "anyscale" in get(sim, "providers").json()

    endpoints = get(sim, "endpoints", model="llama-2-7b-chat").json()
    assert "llama-2-7b-chat@anyscale" in endpoints
    assert all(endpoint.startswith("llama-2-7b-chat@") for endpoint in endpoints)
    assert "claude-3-haiku@anthropic" in get(sim, "endpoints", provider="anthropic").json()

    both = get(sim, "endpoints", model="gpt-4o", provider="openai")
    assert both.status_code == 400
    assert both.json() == {"detail": "You can only specify at most one of (model, provider)"}


def test_endpoint_details_and_metrics(sim: GatewaySim) -> None:
    details = get(sim, "endpoint-details", endpoint="claude-3-haiku@anthropic").json()
    assert set(details) == {"input_cost", "output_cost", "context_window"}
    assert details["context_window"] == 200000
    assert 0 < details["input_cost"] < details["output_cost"]
    assert get(sim, "endpoint-details", endpoint="nope@openai").status_code == 404
    assert get(sim, "endpoint-details").status_code == 422

    metrics = get(sim, "endpoint-metrics", model="llama-3.1-8b-chat").json()
    assert isinstance(metrics, list)
    assert {row["endpoint"] for row in metrics} == set(
        get(sim, "endpoints", model="llama-3.1-8b-chat").json()
    )
    assert set(metrics[0]) == {
        "ttft",
        "itl",
        "input_cost",
        "output_cost",
        "measured_at",
        "endpoint",
    }
    one = get(sim, "endpoint-metrics", model="gpt-4o-mini", provider="openai").json()
    assert [row["endpoint"] for row in one] == ["gpt-4o-mini@openai"]
    missing = get(sim, "endpoint-metrics", model="gpt-4o-mini", provider="groq")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Benchmarks for gpt-4o-mini@groq not found."}


def test_requests_record_the_resent_history_but_never_the_key(
    sim: GatewaySim, client: openai.OpenAI
) -> None:
    history: list[Any] = [{"role": "user", "content": "My name is Foo Barrymore."}]
    reply = client.chat.completions.create(model="gpt-4o-mini@openai", messages=history)
    history += [
        {"role": "assistant", "content": reply.choices[0].message.content or ""},
        {"role": "user", "content": "What is my name?"},
    ]
    client.chat.completions.create(model="gpt-4-turbo@openai", messages=history)

    recorded = sim.requests
    assert [item.model for item in recorded] == ["gpt-4o-mini@openai", "gpt-4-turbo@openai"]
    assert recorded[1].messages == history
    assert recorded[1].path == "/v0/chat/completions"
    assert KEY not in repr(recorded)
    sim.reset()
    assert sim.requests == []


def test_fallback_queries_array_is_tried_in_order(sim: GatewaySim) -> None:
    body = [chat_body(model="nope-model@openai"), chat_body(model="llama-3.1-8b-chat@deepinfra")]
    response = post_chat(sim, body)
    assert response.status_code == 200
    assert response.json()["model"] == "llama-3.1-8b-chat@deepinfra"


def test_body_validation_errors(sim: GatewaySim) -> None:
    missing = post_chat(sim, {"model": "gpt-4o-mini@openai"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "messages"]
    empty = post_chat(sim, {"model": "gpt-4o-mini@openai", "messages": []})
    assert empty.status_code == 400
    assert empty.json() == {"detail": "Invalid input. Messages not in input."}
    not_json = requests.post(
        f"{sim.base_url}/chat/completions", data=b"{nope", headers=AUTH, timeout=5
    )
    assert not_json.status_code == 422


def test_max_tokens_cuts_the_reply_with_length(sim: GatewaySim) -> None:
    chunks = stream_chunks(sim, chat_body("Write some markdown", max_tokens=5))
    assert len(chunks) == 5
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 5


def test_unknown_path_and_wrong_method(sim: GatewaySim) -> None:
    assert get(sim, "nothing-here").status_code == 404
    wrong = requests.get(f"{sim.base_url}/chat/completions", headers=AUTH, timeout=5)
    assert wrong.status_code == 405
    assert wrong.json() == {"detail": "Method Not Allowed"}


@pytest.mark.serial  # a wall-clock limit
def test_streams_well_over_20k_tokens_per_second(sim: GatewaySim) -> None:
    sim.controls.reply_tokens = 40_000
    started = time.perf_counter()
    response = post_chat(sim, chat_body(stream=True), stream=True)
    count = sum(1 for line in response.iter_lines() if line.startswith(b"data: "))
    elapsed = time.perf_counter() - started

    assert count == 40_000
    assert count / elapsed > 20_000, f"{count / elapsed:.0f} tokens/s"


def test_balance_already_shows_the_charge_when_the_last_chunk_arrives(sim: GatewaySim) -> None:
    # regression: the charge used to land after the stream ended, racing a client that read
    # the balance as soon as it had the final chunk
    for _ in range(20):
        before = sim.credits
        response = post_chat(sim, chat_body("Hello", stream=True), stream=True)
        for line in response.iter_lines():
            if line.startswith(b"data: ") and b'"finish_reason": "stop"' in line:
                cost = json.loads(line[6:])["usage"]["cost"]
                assert sim.credits == pytest.approx(before - cost, abs=1e-12)
        response.close()


def test_a_dropped_stream_pays_for_the_tokens_it_sent(clocked_sim: GatewaySim) -> None:
    sim = clocked_sim
    sim.controls.reply_tokens = 40
    sim.inject(Fault("drop", after_tokens=10))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        post_chat(sim, chat_body("Hello", stream=True))

    prompt_tokens = stream_chunks(sim, chat_body("Hello"))[-1]["usage"]["prompt_tokens"]
    prices = get(sim, "endpoint-details", endpoint="gpt-4o-mini@openai").json()
    partial = (prompt_tokens * prices["input_cost"] + 10 * prices["output_cost"]) / 1e6
    full = (prompt_tokens * prices["input_cost"] + 40 * prices["output_cost"]) / 1e6
    assert 50.0 - sim.credits == pytest.approx(partial + full, abs=1e-12)
