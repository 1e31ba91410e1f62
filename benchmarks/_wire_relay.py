"""A TCP relay that stamps the wire between a chat client and its server (bench_outside.py).

Run: python benchmarks/_wire_relay.py UPSTREAM_PORT. It listens on a free loopback port, prints
``listening <port>`` and then one JSON line per event of each chat request that passes through it
(``POST .../chat/completions``; any other request, such as ``GET /models``, gets one line,
``{"event": "other", "at": t, "request": "GET /v1/models"}``):

- ``{"event": "request", "id": n, "at": t}``: the request's first byte arrived from the client;
- ``{"event": "text", "id": n, "at": t}``: the first response bytes carrying reply text (a
  ``"content":"`` that is not empty) arrived from the server;
- ``{"event": "done", "id": n, "request_at", "first_byte_at", "text_at", "last_byte_at",
  "bytes"}``: the bytes holding ``data: [DONE]`` arrived (the last of the reply).

Times are ``time.monotonic()`` in seconds, taken as the bytes are read, before they are passed on:
on Linux that clock is the same in every process, so the benchmark compares them with its own.
The relay runs in a process of its own so that its stamps never wait for the benchmark's GIL.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import time
from typing import Any

_CHAT_REQUEST = re.compile(rb"^POST [^ ]*/chat/completions")
_OTHER_REQUEST = re.compile(rb"^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) ")
_TEXT = re.compile(rb'"content":\s?"[^"]')
_DONE = b"data: [DONE]"


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


class _Exchange:
    """One chat request and its response on one connection."""

    counter = 0

    def __init__(self, at: float) -> None:
        _Exchange.counter += 1
        self.id = _Exchange.counter
        self.request_at = at
        self.first_byte_at: float | None = None
        self.text_at: float | None = None
        self.last_byte_at: float | None = None
        self.bytes = 0
        self.tail = b""  # the end of the previous read, for patterns split across reads
        self.done = False
        _emit({"event": "request", "id": self.id, "at": at})

    def response(self, data: bytes, at: float) -> None:
        if self.done:
            return
        if self.first_byte_at is None:
            self.first_byte_at = at
        self.bytes += len(data)
        window = self.tail + data
        if self.text_at is None and _TEXT.search(window):
            self.text_at = at
            _emit({"event": "text", "id": self.id, "at": at})
        self.last_byte_at = at
        if _DONE in window:
            self.done = True
            _emit(
                {
                    "event": "done",
                    "id": self.id,
                    "request_at": self.request_at,
                    "first_byte_at": self.first_byte_at,
                    "text_at": self.text_at,
                    "last_byte_at": at,
                    "bytes": self.bytes,
                }
            )
        self.tail = window[-32:]


async def _pipe_upstream(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict[str, Any]
) -> None:
    """Client -> server: a new chat request starts an exchange."""
    while data := await reader.read(65536):
        at = time.monotonic()
        if _CHAT_REQUEST.match(data):
            state["exchange"] = _Exchange(at)
        elif _OTHER_REQUEST.match(data):
            state["exchange"] = None
            line = data.split(b"\r\n", 1)[0].decode(errors="replace")
            _emit({"event": "other", "at": at, "request": " ".join(line.split()[:2])})
        writer.write(data)
        await writer.drain()
    writer.close()


async def _pipe_downstream(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict[str, Any]
) -> None:
    """Server -> client: stamp the current exchange's response bytes."""
    while data := await reader.read(65536):
        at = time.monotonic()
        exchange: _Exchange | None = state.get("exchange")
        if exchange is not None:
            exchange.response(data, at)
        writer.write(data)
        await writer.drain()
    writer.close()


def _no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _main(upstream_port: int) -> None:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_writer.close()
            return
        _no_delay(client_writer)
        _no_delay(server_writer)
        state: dict[str, Any] = {}
        try:
            await asyncio.gather(
                _pipe_upstream(client_reader, server_writer, state),
                _pipe_downstream(server_reader, client_writer, state),
            )
        except (ConnectionError, OSError):
            pass
        finally:
            client_writer.close()
            server_writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"listening {port}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(_main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
