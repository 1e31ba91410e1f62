"""``prepare()`` opens the connection that the first message then uses (issue 19), against llmock.

Seen from outside, the first message of a session waited for the SDK client to be built and a
connection to be opened after Enter. The app now calls ``prepare()`` once its HTTP stack is loaded
(and again as the user types after a quiet while); these tests count the TCP connections a relay
in front of llmock accepts.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import pytest

from tests.peers.conftest import LLMockPeer
from tui_chat.core.events import Done, TextDelta
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.openai_compat import OpenAICompatibleGateway

pytestmark = pytest.mark.xdist_group("llmock")

KEY = "sk-prepare-test-key"
HELLO = [{"role": "user", "content": "Hello"}]


class CountingRelay:
    """Forwards loopback TCP to llmock; counts connections and keeps what clients sent."""

    def __init__(self) -> None:
        self.connections = 0
        self.sent = bytearray()
        self.url = ""


@asynccontextmanager
async def counting_relay(peer: LLMockPeer) -> AsyncIterator[CountingRelay]:
    target = urlsplit(peer.url)
    relay = CountingRelay()

    async def pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if record:
                    relay.sent += data
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        relay.connections += 1
        up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port)
        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    relay.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    try:
        yield relay
    finally:
        server.close()


def gateway_at(url: str) -> OpenAICompatibleGateway:
    return OpenAICompatibleGateway(GatewaySettings(base_url=url, api_key=KEY, timeout=10.0))


async def test_prepare_opens_the_connection_the_first_message_then_uses(peer: LLMockPeer) -> None:
    async with counting_relay(peer) as relay:
        gateway = gateway_at(relay.url)
        try:
            await gateway.prepare()
            assert relay.connections == 1, "prepare() opened no connection"
            assert b"chat/completions" not in relay.sent, "prepare() sent a message"
            events = [event async for event in gateway.stream_chat("gpt-4o-mini", HELLO)]
        finally:
            await gateway.aclose()
    assert any(isinstance(event, TextDelta) for event in events)
    assert isinstance(events[-1], Done)
    assert relay.connections == 1, "the first message opened a connection of its own"


async def test_prepare_sends_no_key(peer: LLMockPeer) -> None:
    async with counting_relay(peer) as relay:
        gateway = gateway_at(relay.url)
        try:
            await gateway.prepare()
        finally:
            await gateway.aclose()
    assert relay.sent.startswith(b"HEAD /v1/models ")
    assert KEY.encode() not in relay.sent


async def test_prepare_never_raises_when_nothing_answers() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gateway = gateway_at(f"http://127.0.0.1:{port}/v1")
    try:
        await gateway.prepare()  # logged and ignored: the message will connect by itself
        events = [event async for event in gateway.stream_chat("gpt-4o-mini", HELLO)]
    finally:
        await gateway.aclose()
    assert [type(event).__name__ for event in events] == ["StreamError"]
