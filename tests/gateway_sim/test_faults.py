"""Each fault kind does what tui_chat.gateway_sim.faults documents."""

from __future__ import annotations

import itertools
import json
import time

import openai
import pytest
import requests

from tests.gateway_sim.conftest import (
    AUTH,
    chat_body,
    content_of,
    post_chat,
    sse_payloads,
    stream_chunks,
)
from tui_chat.gateway_sim import Fault, FaultKind, GatewaySim, errors


def raw_stream(sim: GatewaySim, body: dict[str, object]) -> tuple[bytes, Exception | None]:
    """The body of a streamed request (chunked framing undone) and the error that ended it."""
    response = post_chat(sim, {**body, "stream": True}, stream=True)
    received = b""
    try:
        for piece in response.raw.stream(1024, decode_content=False):
            received += piece
    except Exception as error:
        return received, error
    return received, None


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (400, "litellm.BadRequestError: The provider rejected the request."),
        (401, errors.INVALID_API_KEY),
        (402, errors.NO_CREDITS),
        (403, errors.ACCOUNT_SUSPENDED),
        (404, "litellm.NotFoundError: The model was not found at the provider."),
        (
            429,
            "litellm.RateLimitError: Rate limit reached for this endpoint. Please try again later.",
        ),
        (502, "litellm.APIConnectionError: Bad gateway between Unify and the provider."),
        (503, "litellm.ServiceUnavailableError: The provider is temporarily overloaded."),
    ],
)
def test_status_fault_sends_unify_style_detail(
    sim: GatewaySim, client: openai.OpenAI, status: int, detail: str
) -> None:
    sim.inject(Fault(FaultKind.STATUS, status=status))
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(
            model="gpt-4o-mini@openai", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
    assert caught.value.status_code == status
    assert caught.value.body == {"detail": detail}
    assert "retry-after" not in caught.value.response.headers
    # consumed: the next request is served
    assert post_chat(sim, chat_body()).status_code == 200


def test_500_fault_has_a_digest(sim: GatewaySim) -> None:
    sim.inject(Fault("status", status=500))
    response = post_chat(sim, chat_body())
    assert response.status_code == 500
    assert response.json()["detail"].startswith("Internal Server Error. Digest: ")


def test_422_fault_has_pydantic_shape(sim: GatewaySim) -> None:
    sim.inject(Fault("status", status=422))
    response = post_chat(sim, chat_body())
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "messages"]


def test_429_with_retry_after_and_custom_detail(sim: GatewaySim, client: openai.OpenAI) -> None:
    sim.inject(Fault("status", status=429, retry_after=3, detail="slow down"))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="gpt-4o-mini@openai", messages=[{"role": "user", "content": "Hi"}]
        )
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.body == {"detail": "slow down"}


def test_non_json_error_body(sim: GatewaySim) -> None:
    sim.inject(Fault("non_json_error"))
    response = post_chat(sim, chat_body())
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(ValueError):
        response.json()


def test_html_error_page(sim: GatewaySim) -> None:
    sim.inject(Fault("html_error"))
    response = post_chat(sim, chat_body(stream=True))
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"
    assert "<h1>502 Bad Gateway</h1>" in response.text


def test_drop_mid_stream_after_n_tokens(sim: GatewaySim) -> None:
    sim.controls.reply_tokens = 50
    sim.inject(Fault("drop", after_tokens=7))
    raw, error = raw_stream(sim, chat_body())
    assert error is not None  # the chunked body never finished
    chunks = [json.loads(payload) for payload in sse_payloads(raw)]
    assert len(chunks) == 7
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in chunks)


def test_drop_is_an_error_for_the_openai_client(sim: GatewaySim, client: openai.OpenAI) -> None:
    sim.controls.reply_tokens = 50
    sim.inject(Fault("drop", after_tokens=10))
    stream = client.chat.completions.create(
        model="gpt-4o-mini@openai", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    received = []
    failure: Exception | None = None
    try:
        for chunk in stream:
            received.append(chunk)
    except Exception as error:  # the SDK's transport error (an httpx RemoteProtocolError)
        failure = error
    assert failure is not None
    assert len(received) == 10


def test_drop_without_streaming_closes_without_a_response(sim: GatewaySim) -> None:
    sim.inject(Fault("drop"))
    with pytest.raises(requests.ConnectionError):
        post_chat(sim, chat_body())


def test_malformed_chunk_then_the_stream_goes_on(sim: GatewaySim) -> None:
    sim.controls.reply_tokens = 20
    sim.inject(Fault("malformed_chunk", after_tokens=5))
    payloads = sse_payloads(post_chat(sim, chat_body(stream=True)).content)
    assert len(payloads) == 21
    with pytest.raises(json.JSONDecodeError):
        json.loads(payloads[5])
    good = [json.loads(p) for i, p in enumerate(payloads) if i != 5]
    assert good[-1]["usage"]["completion_tokens"] == 20


def test_truncated_chunk_ends_the_stream_cleanly(sim: GatewaySim) -> None:
    sim.controls.reply_tokens = 20
    sim.inject(Fault("truncated_chunk", after_tokens=4))
    raw, error = raw_stream(sim, chat_body())
    assert error is None
    text = raw.decode()
    assert not text.endswith("\n\n")
    payloads = sse_payloads(raw)
    assert [json.loads(p)["usage"] for p in payloads[:4]] == [{}] * 4
    with pytest.raises(json.JSONDecodeError):
        json.loads(payloads[4])


def test_empty_choices_chunk(sim: GatewaySim, client: openai.OpenAI) -> None:
    sim.inject(Fault("empty_choices", after_tokens=2))
    chunks = stream_chunks(sim, chat_body("What is the capital of Spain?"))
    assert [chunk["choices"] for chunk in chunks].count([]) == 1
    assert content_of(chunks) == "The capital of Spain is Madrid."

    sim.inject(Fault("empty_choices"))
    body = post_chat(sim, chat_body()).json()
    assert body["choices"] == []


def test_tool_calls_chunk(sim: GatewaySim) -> None:
    sim.inject(Fault("tool_calls", after_tokens=1))
    chunks = stream_chunks(sim, chat_body("What is the capital of Spain?"))
    calls = [c for c in chunks if c["choices"][0]["delta"].get("tool_calls")]
    assert len(calls) == 1
    delta = calls[0]["choices"][0]["delta"]
    assert delta["content"] is None
    assert delta["tool_calls"][0]["function"]["name"] == "get_weather"
    assert content_of(chunks) == "The capital of Spain is Madrid."


def test_huge_chunk(sim: GatewaySim, client: openai.OpenAI) -> None:
    normal = stream_chunks(sim, chat_body("Hello"))
    sim.inject(Fault("huge_chunk", after_tokens=3))
    stream = client.chat.completions.create(
        model="gpt-4o-mini@openai", messages=[{"role": "user", "content": "Hello"}], stream=True
    )
    chunks = list(stream)
    sizes = [len(c.choices[0].delta.content or "") for c in chunks]
    assert max(sizes) == 1_000_000
    assert len(chunks) == len(normal) + 1
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens > 100_000


@pytest.mark.serial  # a wall-clock limit
def test_stall_mid_stream_for_some_seconds(sim: GatewaySim) -> None:
    sim.controls.reply_tokens = 10
    sim.inject(Fault("stall", after_tokens=5, seconds=0.4))
    response = post_chat(sim, chat_body(stream=True), stream=True)
    stamps = []
    for line in response.iter_lines():
        if line.startswith(b"data: "):
            stamps.append(time.perf_counter())
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    assert len(stamps) == 10
    assert gaps[4] >= 0.35
    assert max(gaps[:4] + gaps[5:]) < 0.2


@pytest.mark.serial  # a wall-clock limit
def test_stall_before_headers_times_out_the_client(sim: GatewaySim) -> None:
    sim.inject(Fault("stall", before_headers=True, seconds=2))
    with openai.OpenAI(base_url=sim.base_url, api_key="test-key", max_retries=0, timeout=0.3) as c:
        started = time.perf_counter()
        with pytest.raises(openai.APITimeoutError):
            c.chat.completions.create(
                model="gpt-4o-mini@openai",
                messages=[{"role": "user", "content": "Hi"}],
                stream=True,
            )
    assert time.perf_counter() - started < 1.5


@pytest.mark.serial  # a wall-clock limit
def test_slow_first_token(sim: GatewaySim) -> None:
    sim.inject(Fault("slow_first_token", seconds=0.4))
    started = time.perf_counter()
    response = post_chat(sim, chat_body(stream=True), stream=True)
    headers_at = time.perf_counter() - started
    first = next(line for line in response.iter_lines() if line.startswith(b"data: "))
    first_at = time.perf_counter() - started
    assert headers_at < 0.3
    assert first_at >= 0.4
    assert json.loads(first[6:])["choices"][0]["delta"]["content"]


def test_times_and_endpoint_filter(sim: GatewaySim) -> None:
    sim.inject(Fault("status", status=503, times=2, endpoint="gpt-4o@openai"))
    assert post_chat(sim, chat_body(model="gpt-4o-mini@openai")).status_code == 200
    assert post_chat(sim, chat_body(model="gpt-4o@openai")).status_code == 503
    assert post_chat(sim, chat_body(model="gpt-4o@openai")).status_code == 503
    assert post_chat(sim, chat_body(model="gpt-4o@openai")).status_code == 200

    sim.inject(Fault("status", status=429, times=None))
    for _ in range(3):
        assert post_chat(sim, chat_body()).status_code == 429
    sim.clear_faults()
    assert post_chat(sim, chat_body()).status_code == 200


def test_rejected_requests_do_not_consume_faults(sim: GatewaySim) -> None:
    sim.inject(Fault("status", status=503))
    assert post_chat(sim, chat_body(model="no-at-sign")).status_code == 400
    assert post_chat(sim, chat_body(), headers={}).status_code == 403
    assert post_chat(sim, chat_body()).status_code == 503


def test_bad_fault_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")
    with pytest.raises(ValueError, match="status"):
        Fault("status")
    with pytest.raises(ValueError):
        Fault("status", status=200)


def test_controls_and_faults_over_the_wire(sim: GatewaySim) -> None:
    control = f"{sim.url}/_sim/control"
    state = requests.post(
        control,
        json={
            "reply_tokens": 12,
            "token_delay_s": 0,
            "credits": 5,
            "add_credits": 1.5,
            "fault": {"kind": "status", "status": 429, "retry_after": 1},
        },
        timeout=5,
    ).json()
    assert state["controls"]["reply_tokens"] == 12
    assert state["credits"] == 6.5
    assert state["pending_faults"][0]["kind"] == "status"

    limited = post_chat(sim, chat_body())
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert post_chat(sim, chat_body()).json()["usage"]["completion_tokens"] == 12

    state = requests.get(f"{sim.url}/_sim/state", timeout=5).json()
    assert state["requests"] == 2
    assert state["pending_faults"] == []
    recorded = requests.get(f"{sim.url}/_sim/requests", timeout=5).json()
    assert recorded[0]["body"]["model"] == "gpt-4o-mini@openai"

    bad = requests.post(control, json={"warp_speed": 9}, timeout=5)
    assert bad.status_code == 400
    assert "unknown control" in bad.json()["detail"]
    bad_fault = requests.post(control, json={"fault": {"kind": "nope"}}, timeout=5)
    assert bad_fault.status_code == 400
    reset = requests.post(control, json={"reset": True}, timeout=5).json()
    assert reset["requests"] == 0


def test_sim_endpoints_need_no_key_on_loopback_but_v0_does(sim: GatewaySim) -> None:
    assert requests.get(f"{sim.url}/_sim/state", timeout=5).status_code == 200
    assert requests.get(f"{sim.base_url}/credits", timeout=5).status_code == 403
    assert requests.get(f"{sim.base_url}/credits", headers=AUTH, timeout=5).status_code == 200
