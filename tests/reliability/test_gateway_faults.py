"""The fault matrix at the gateway layer: UnifyGateway.stream_chat through the real openai client.

Every fault ends in typed events: the reply completes, or exactly one ``StreamError`` comes last
with the right class, status and detail, and any text that arrived before it is kept.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from contextlib import aclosing
from typing import Any

import pytest

from tests.gateways.scripted_server import ScriptedServer, chunk, sse, stream_script
from tests.reliability.faults import PARAMS, READ_TIMEOUT_S, Case
from tui_chat.core.events import Done, StreamError, StreamEvent, TextDelta, Usage
from tui_chat.gateways.base import Gateway
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import ConnectionFailed, MalformedResponse, StreamInterrupted
from tui_chat.gateways.unify import UnifyGateway

ENDPOINT = "llama-3.1-8b-chat@groq"
HELLO = [{"role": "user", "content": "hello"}]


async def stream(settings: GatewaySettings, endpoint: str = ENDPOINT) -> list[StreamEvent]:
    return await collect(UnifyGateway(settings), endpoint)


async def collect(gateway: Gateway, endpoint: str) -> list[StreamEvent]:
    """Every event of one reply from ``gateway``, which is closed afterwards."""
    events: list[StreamEvent] = []
    try:
        async with aclosing(gateway.stream_chat(endpoint, HELLO)) as replies:
            async for event in replies:
                events.append(event)
    finally:
        await gateway.aclose()
    return events


def text_of(events: list[StreamEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def assert_well_formed(events: list[StreamEvent]) -> None:
    """Exactly one terminal event, last; nothing but typed events."""
    terminal = [e for e in events if isinstance(e, Done | StreamError)]
    assert len(terminal) == 1 and events[-1] is terminal[0]


@pytest.mark.parametrize("case", PARAMS)
async def test_fault_ends_in_typed_events(sim: Any, case: Case) -> None:
    sim.inject(case.fault)
    settings = GatewaySettings(
        base_url=sim.base_url, api_key="test-key", timeout=case.read_timeout_s
    )
    events = await stream(settings)
    assert_well_formed(events)
    text = text_of(events)
    if case.error is None:
        assert isinstance(events[-1], Done)
        assert any(isinstance(e, Usage) for e in events)
        if case.fault.kind == "huge_chunk":
            assert len(text) > case.fault.size  # the enormous chunk arrived whole
        else:
            assert text == "Hello! How can I help you today?"
        return
    last = events[-1]
    assert isinstance(last, StreamError)
    error = last.error
    assert type(error) is case.error, repr(error)
    assert error.status == case.status
    assert case.detail in error.detail
    assert case.detail in str(error)  # the sentence names the detail
    if case.status is not None:
        assert f"HTTP {case.status}" in str(error)
    if case.partial:
        assert text == "Hello! How can I"  # what arrived before the fault is kept
    else:
        assert text == ""
    if case.id == "http-429-retry-after":
        assert error.retry_after == 120.0


# -- no response at all: refused, DNS, connect timeout -----------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_connection_refused_is_connection_failed() -> None:
    settings = GatewaySettings(base_url=f"http://127.0.0.1:{closed_port()}/v0", api_key="k")
    events = await stream(settings)
    assert len(events) == 1 and isinstance(events[0], StreamError)
    error = events[0].error
    assert isinstance(error, ConnectionFailed) and error.status is None
    assert "Connection refused" in str(error)
    assert "Could not reach the gateway" in str(error)


@pytest.fixture
def local_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names under .invalid (RFC 6761) fail to resolve, answered here: nothing leaves."""
    guarded = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return guarded(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.mark.usefixtures("local_dns_failure")
async def test_dns_failure_is_connection_failed() -> None:
    settings = GatewaySettings(base_url="http://gateway.example.invalid/v0", api_key="k")
    events = await stream(settings)
    assert len(events) == 1 and isinstance(events[0], StreamError)
    error = events[0].error
    assert isinstance(error, ConnectionFailed)
    assert "Name or service not known" in str(error)
    assert "gateway.example.invalid" in str(error)


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose listen queue is full: a SYN to it gets no answer (connect timeout)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):  # fill the accept queue; nobody ever accepts
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_connect_timeout_is_connection_failed(unanswered_port: int) -> None:
    settings = GatewaySettings(
        base_url=f"http://127.0.0.1:{unanswered_port}/v0",
        api_key="k",
        timeout=READ_TIMEOUT_S,
        connect_timeout=0.5,
    )
    events = await stream(settings)
    assert len(events) == 1 and isinstance(events[0], StreamError)
    error = events[0].error
    # Either the SYN went unanswered (timeout) or the kernel took it and the read timed out.
    assert isinstance(error, ConnectionFailed | StreamInterrupted), repr(error)
    assert "s" in error.detail


# -- byte-exact shapes the sim does not make ---------------------------------------------------


async def test_enormous_single_sse_event_is_read_whole(scripted: ScriptedServer) -> None:
    big = "x" * 2_000_000
    last = sse(chunk(" end", finish_reason="stop"))
    scripted.script(*stream_script([sse(chunk("start ")), sse(chunk(big)), last]))
    settings = GatewaySettings(base_url=scripted.base_url, api_key="k", timeout=5.0)
    events = await stream(settings)
    assert isinstance(events[-1], Done)
    assert text_of(events) == "start " + big + " end"


async def test_truncated_sse_at_eof_keeps_partial_text(scripted: ScriptedServer) -> None:
    half = sse(chunk("second"))[:20]
    scripted.script(*stream_script([sse(chunk("first ")), half]))
    settings = GatewaySettings(base_url=scripted.base_url, api_key="k", timeout=5.0)
    events = await stream(settings)
    assert text_of(events) == "first "
    assert isinstance(events[-1], StreamError)
    assert isinstance(events[-1].error, MalformedResponse)


# -- the same matrix through the OpenRouter and OpenAI-compatible clients ----------------------

KINDS = {
    # kind: (base URL of the sim's dialect, a model that dialect serves)
    "openrouter": ("openrouter_base_url", "meta-llama/llama-3.1-8b-instruct"),
    "openai-compatible": ("openai_base_url", "llama-3.1-8b-chat"),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("case", PARAMS)
async def test_fault_ends_in_typed_events_for_other_gateway_kinds(
    sim: Any, case: Case, kind: str
) -> None:
    from tui_chat.gateways.factory import build_gateway

    # OpenRouter moves on to another provider after an error, as the real one does: the fault
    # lasts for every attempt so that it reaches the client.
    sim.inject(dataclasses.replace(case.fault, times=None))
    url_attribute, model = KINDS[kind]
    settings = GatewaySettings(
        base_url=getattr(sim, url_attribute), api_key="test-key", timeout=case.read_timeout_s
    )
    gateway, account = build_gateway(kind, settings)
    try:
        events = await collect(gateway, model)
    finally:
        account.close()
    assert_well_formed(events)
    text = text_of(events)
    if case.error is None:
        assert isinstance(events[-1], Done)
        assert text.endswith("help you today?")
        return
    last = events[-1]
    assert isinstance(last, StreamError)
    assert type(last.error) is case.error, repr(last.error)
    assert last.error.status == case.status
    if case.status is not None:
        assert f"HTTP {case.status}" in str(last.error)
    if case.fault.detail:  # the server's own words reach the user, whatever the dialect
        assert case.detail in last.error.detail
    assert text == ("Hello! How can I" if case.partial else "")
