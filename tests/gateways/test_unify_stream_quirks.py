"""UnifyGateway.stream_chat against a server that sends exactly the bytes a test scripts.

These cover the wire quirks of the Unify API (a stream that ends at EOF without [DONE], usage
in a final chunk with empty choices, comments and a missing content type, errors inside the
stream) and the failures a real network produces; the
tests against the embedded gateway (test_unify_gateway.py) cover the API's behaviour.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing

import pytest

from tests.gateways.scripted_server import (
    Close,
    ScriptedServer,
    Send,
    Sleep,
    chunk,
    http_chunk,
    sse,
    stream_script,
    streaming_head,
    whole_response,
)
from tui_chat.core.events import Done, ServedEndpoint, StreamError, StreamEvent, TextDelta, Usage
from tui_chat.gateways.config import GatewaySettings, SecretStr
from tui_chat.gateways.errors import (
    AuthenticationError,
    ConnectionFailed,
    MalformedResponse,
    MissingAPIKeyError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from tui_chat.gateways.unify import UnifyGateway

LAST_USAGE = {"prompt_tokens": 13, "completion_tokens": 9, "total_tokens": 22, "cost": 1.1e-06}
MESSAGES = [{"role": "user", "content": "Hi"}]


def _gateway(server: ScriptedServer, timeout: float = 5.0) -> UnifyGateway:
    return UnifyGateway(
        GatewaySettings(base_url=server.base_url, api_key=SecretStr("test-key"), timeout=timeout)
    )


async def _collect(gateway: UnifyGateway, endpoint: str = "m@p") -> list[StreamEvent]:
    try:
        return [event async for event in gateway.stream_chat(endpoint, MESSAGES)]
    finally:
        await gateway.aclose()


def _text(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_unify_stream_ending_at_eof_without_done_is_complete(
    scripted: ScriptedServer,
) -> None:
    scripted.script(
        *stream_script(
            [sse(chunk("Hel")), sse(chunk("lo!", usage=LAST_USAGE, finish_reason="stop"))]
        )
    )
    events = await _collect(_gateway(scripted))
    assert events[0] == ServedEndpoint("llama-3.1-8b-chat@deepinfra")
    assert _text(events) == "Hello!"
    assert events[-2] == Usage(prompt_tokens=13, completion_tokens=9, cost=1.1e-06)
    done = events[-1]
    assert isinstance(done, Done) and done.finish_reason == "stop"
    assert done.ttft_ms is not None and done.duration_ms is not None
    assert 0 <= done.ttft_ms <= done.duration_ms


async def test_request_asks_for_a_stream_with_usage(scripted: ScriptedServer) -> None:
    scripted.script(*stream_script([sse(chunk("x"))]))
    gateway = _gateway(scripted)
    try:
        async for _ in gateway.stream_chat("m@p", MESSAGES, temperature=0.2, max_tokens=5):
            pass
    finally:
        await gateway.aclose()
    request = scripted.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/v0/chat/completions")
    assert request["headers"]["authorization"] == "Bearer test-key"
    assert request["body"] == {
        "model": "m@p",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
        "max_tokens": 5,
    }


async def test_empty_usage_on_intermediate_chunks_is_ignored(scripted: ScriptedServer) -> None:
    partial_usage = {"completion_tokens_details": None}
    scripted.script(
        *stream_script(
            [
                sse(chunk("a")),
                sse(chunk("b", usage=partial_usage)),
                sse(chunk("c", usage=LAST_USAGE)),
            ]
        )
    )
    events = await _collect(_gateway(scripted))
    assert [e for e in events if isinstance(e, Usage)] == [
        Usage(prompt_tokens=13, completion_tokens=9, cost=1.1e-06)
    ]


async def test_served_endpoint_is_emitted_once_and_again_when_it_changes(
    scripted: ScriptedServer,
) -> None:
    scripted.script(
        *stream_script(
            [
                sse(chunk("a", model="x@one")),
                sse(chunk("b", model="x@one")),
                sse(chunk("c", model="x@two")),
            ]
        )
    )
    events = await _collect(_gateway(scripted))
    assert [e for e in events if isinstance(e, ServedEndpoint)] == [
        ServedEndpoint("x@one"),
        ServedEndpoint("x@two"),
    ]


async def test_plain_openai_server_final_chunk_has_empty_choices_and_usage(
    scripted: ScriptedServer,
) -> None:
    final = chunk(
        model="gpt-4o-mini", choices=False, usage={"prompt_tokens": 3, "completion_tokens": 1}
    )
    scripted.script(
        *stream_script(
            [
                sse(chunk("Hi", model="gpt-4o-mini")),
                sse(chunk(model="gpt-4o-mini", finish_reason="stop")),
                sse(final),
                b"data: [DONE]\n\n",
            ]
        )
    )
    events = await _collect(_gateway(scripted))
    assert events == [
        ServedEndpoint("gpt-4o-mini"),
        TextDelta("Hi"),
        Usage(prompt_tokens=3, completion_tokens=1, cost=None),
        events[-1],
    ]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"


async def test_stream_without_content_type_and_with_comments_is_read(
    scripted: ScriptedServer,
) -> None:
    scripted.script(
        *stream_script(
            [
                sse(chunk("a")),
                b": OPENROUTER PROCESSING\n\n",
                sse(chunk("b", finish_reason="stop")),
            ],
            content_type=None,
        )
    )
    events = await _collect(_gateway(scripted))
    assert _text(events) == "ab"
    assert isinstance(events[-1], Done)


async def test_connection_cut_mid_reply_is_stream_interrupted(scripted: ScriptedServer) -> None:
    scripted.script(*stream_script([sse(chunk("Roses ")), sse(chunk("are"))], end=False))
    events = await _collect(_gateway(scripted))
    assert _text(events) == "Roses are"
    error = events[-1]
    assert isinstance(error, StreamError) and isinstance(error.error, StreamInterrupted)
    assert "9 characters" in error.error.detail


async def test_silent_server_mid_reply_times_out_as_interrupted(scripted: ScriptedServer) -> None:
    scripted.script(Send(streaming_head()), Send(http_chunk(sse(chunk("a")))), Sleep(3))
    events = await _collect(_gateway(scripted, timeout=0.3))
    error = events[-1]
    assert isinstance(error, StreamError) and isinstance(error.error, StreamInterrupted)
    assert "no data arrived" in error.error.detail


async def test_bad_json_line_is_malformed_response(scripted: ScriptedServer) -> None:
    scripted.script(*stream_script([sse(chunk("a")), b"data: {not json\n\n"]))
    events = await _collect(_gateway(scripted))
    error = events[-1]
    assert isinstance(error, StreamError) and isinstance(error.error, MalformedResponse)


async def test_last_message_cut_in_half_at_eof_is_malformed(scripted: ScriptedServer) -> None:
    half = sse(chunk("b", usage=LAST_USAGE))[:40]
    scripted.script(*stream_script([sse(chunk("a")), half]))
    events = await _collect(_gateway(scripted))
    error = events[-1]
    assert isinstance(error, StreamError) and isinstance(error.error, MalformedResponse)
    assert "middle of a message" in error.error.detail
    assert _text(events) == "a"


async def test_last_message_without_its_blank_line_is_still_read(scripted: ScriptedServer) -> None:
    last = sse(chunk("b", usage=LAST_USAGE, finish_reason="stop")).rstrip(b"\n")
    scripted.script(*stream_script([sse(chunk("a")), last]))
    events = await _collect(_gateway(scripted))
    assert _text(events) == "ab"
    assert isinstance(events[-2], Usage) and isinstance(events[-1], Done)


async def test_non_object_chunk_is_malformed_response(scripted: ScriptedServer) -> None:
    scripted.script(*stream_script([b"data: [1, 2]\n\n"]))
    events = await _collect(_gateway(scripted))
    assert isinstance(events[-1], StreamError)
    assert isinstance(events[-1].error, MalformedResponse)


async def test_stream_with_no_messages_at_all_is_malformed(scripted: ScriptedServer) -> None:
    scripted.script(*stream_script([]))
    events = await _collect(_gateway(scripted))
    assert len(events) == 1 and isinstance(events[0], StreamError)
    assert isinstance(events[0].error, MalformedResponse)


async def test_error_object_inside_the_stream_becomes_a_typed_error(
    scripted: ScriptedServer,
) -> None:
    scripted.script(
        *stream_script(
            [sse(chunk("a")), sse({"error": {"code": 429, "message": "Rate limited upstream"}})]
        )
    )
    events = await _collect(_gateway(scripted))
    error = events[-1]
    assert isinstance(error, StreamError) and isinstance(error.error, RateLimitError)
    assert error.error.detail == "Rate limited upstream"


async def test_http_error_status_keeps_the_exact_detail(scripted: ScriptedServer) -> None:
    detail = "Invalid API key. You can generate one at https://console.unify.ai/login"
    scripted.script(*whole_response(401, f'{{"detail": "{detail}"}}'))
    events = await _collect(_gateway(scripted))
    assert len(events) == 1
    error = events[0]
    assert isinstance(error, StreamError) and isinstance(error.error, AuthenticationError)
    assert (error.error.status, error.error.detail) == (401, detail)


async def test_rate_limit_carries_retry_after(scripted: ScriptedServer) -> None:
    scripted.script(*whole_response(429, '{"detail": "slow down"}', Retry_After="3"))
    events = await _collect(_gateway(scripted))
    error = events[0]
    assert isinstance(error, StreamError) and isinstance(error.error, RateLimitError)
    assert error.error.retry_after == 3.0


async def test_proxy_html_error_page_becomes_a_short_sentence(scripted: ScriptedServer) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    scripted.script(*whole_response(502, page, "text/html"))
    events = await _collect(_gateway(scripted))
    error = events[0]
    assert isinstance(error, StreamError) and isinstance(error.error, ServerError)
    assert str(error.error) == (
        "The gateway or the provider had a server error (HTTP 502): "
        "the server sent a web page: 502 Bad Gateway"
    )


async def test_captive_portal_page_with_status_200_is_malformed(scripted: ScriptedServer) -> None:
    scripted.script(
        *whole_response(200, "<html><title>Sign in to Wi-Fi</title></html>", "text/html")
    )
    events = await _collect(_gateway(scripted))
    error = events[0]
    assert isinstance(error, StreamError) and isinstance(error.error, MalformedResponse)
    assert "Sign in to Wi-Fi" in error.error.detail


async def test_server_that_ignores_stream_true_still_gives_a_reply(
    scripted: ScriptedServer,
) -> None:
    completion = (
        '{"model": "llama-3-8b-chat@fireworks-ai", "object": "chat.completion", '
        '"usage": {"completion_tokens": 26, "prompt_tokens": 13, "total_tokens": 39, '
        '"cost": 7.8e-6}, '
        '"choices": [{"finish_reason": "stop", "index": 0, '
        '"message": {"content": "Hello!", "role": "assistant"}}]}'
    )
    scripted.script(*whole_response(200, completion))
    events = await _collect(_gateway(scripted))
    assert events[:3] == [
        ServedEndpoint("llama-3-8b-chat@fireworks-ai"),
        TextDelta("Hello!"),
        Usage(prompt_tokens=13, completion_tokens=26, cost=7.8e-6),
    ]
    assert isinstance(events[3], Done)


async def test_refused_connection_is_connection_failed() -> None:
    gateway = UnifyGateway(
        GatewaySettings(base_url="http://127.0.0.1:9/v0", api_key=SecretStr("k"))
    )
    events = await _collect(gateway)
    assert len(events) == 1
    error = events[0]
    assert isinstance(error, StreamError) and isinstance(error.error, ConnectionFailed)
    assert "Connection refused" in str(error.error)


async def test_missing_key_is_an_event_not_an_exception() -> None:
    gateway = UnifyGateway(GatewaySettings(base_url="http://127.0.0.1:9/v0"))
    events = await _collect(gateway)
    assert isinstance(events[0], StreamError) and isinstance(events[0].error, MissingAPIKeyError)


async def test_cancellation_propagates_and_closes_the_response(scripted: ScriptedServer) -> None:
    # The server sends one piece and then holds the line open until the client hangs up.
    scripted.script(Send(streaming_head()), Send(http_chunk(sse(chunk("first")))))
    gateway = _gateway(scripted)
    first_text = asyncio.Event()

    async def consume() -> None:
        async for event in gateway.stream_chat("m@p", MESSAGES):
            if isinstance(event, TextDelta):
                first_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_text.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    started = time.monotonic()
    assert await asyncio.to_thread(scripted.disconnected.wait, 3)
    assert time.monotonic() - started < 2
    await gateway.aclose()


async def test_stopping_early_with_aclosing_closes_the_response(scripted: ScriptedServer) -> None:
    scripted.script(Send(streaming_head()), Send(http_chunk(sse(chunk("first")))))
    gateway = _gateway(scripted)
    async with aclosing(gateway.stream_chat("m@p", MESSAGES)) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                break
    assert await asyncio.to_thread(scripted.disconnected.wait, 3)
    await gateway.aclose()


def _close_delimited(events: list[bytes]) -> list[Send | Close]:
    """A response with neither Content-Length nor chunked encoding: it ends when the server
    closes the socket, so a cut looks exactly like a normal end at the transport."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    return [Send(head), *(Send(event) for event in events), Close()]


@pytest.mark.parametrize("framing", ["close-delimited", "chunked", "[DONE]"])
async def test_a_stream_that_stops_without_a_finish_reason_is_cut_not_complete(
    scripted: ScriptedServer, framing: str
) -> None:
    # Regression: over a close-delimited response (or any stream ending without a finish
    # reason) the half reply was reported as Done and shown, saved and resent as complete.
    events = [sse(chunk("The first half")), sse(chunk(" of a reply"))]
    if framing == "[DONE]":
        events.append(sse("[DONE]"))
    script = _close_delimited(events) if framing == "close-delimited" else stream_script(events)
    scripted.script(*script)
    received = await _collect(_gateway(scripted))
    assert _text(received) == "The first half of a reply"  # what arrived is kept
    assert not any(isinstance(event, Done) for event in received)
    last = received[-1]
    assert isinstance(last, StreamError) and isinstance(last.error, StreamInterrupted)
    assert "without a finish reason" in str(last.error)


async def test_a_finish_reason_over_a_close_delimited_response_is_complete(
    scripted: ScriptedServer,
) -> None:
    scripted.script(
        *_close_delimited(
            [sse(chunk("Whole")), sse(chunk(".", usage=LAST_USAGE, finish_reason="stop"))]
        )
    )
    received = await _collect(_gateway(scripted))
    assert _text(received) == "Whole."
    assert isinstance(received[-2], Usage)
    assert isinstance(received[-1], Done) and received[-1].finish_reason == "stop"


async def test_usage_still_arrives_before_a_cut(scripted: ScriptedServer) -> None:
    # The cost of a cut reply is still what the gateway reported, when it did.
    scripted.script(*stream_script([sse(chunk("Half", usage=LAST_USAGE))]))
    received = await _collect(_gateway(scripted))
    assert received[-2] == Usage(prompt_tokens=13, completion_tokens=9, cost=1.1e-06)
    assert isinstance(received[-1], StreamError)
