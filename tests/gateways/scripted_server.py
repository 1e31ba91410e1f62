"""A tiny HTTP server on loopback that answers with exactly the bytes a test scripts.

The embedded gateway (``GatewaySim``) speaks the Unify API as it should; this one exists to
misbehave on purpose at the byte level: a stream with no ``[DONE]``, a body cut mid-chunk, an
HTML page from a proxy, a line of bad JSON, a server that goes silent.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.loopback import LoopbackServer, running


@dataclass
class Send:
    data: bytes


@dataclass
class Sleep:
    seconds: float


@dataclass
class Close:
    """Close the connection now (mid-body if the body is chunked)."""


Step = Send | Sleep | Close


def sse(obj: Any) -> bytes:
    payload = obj if isinstance(obj, str) else json.dumps(obj)
    return f"data: {payload}\n\n".encode()


def chunk(
    content: str | None = None,
    *,
    model: str = "llama-3.1-8b-chat@deepinfra",
    usage: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    choices: bool = True,
) -> dict[str, Any]:
    """A Unify-style chat.completion.chunk."""
    delta: dict[str, Any] = {} if content is None else {"content": content}
    return {
        "model": model,
        "created": 1733000000,
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "usage": {} if usage is None else usage,
        "choices": (
            [{"index": 0, "delta": delta, "finish_reason": finish_reason}] if choices else []
        ),
    }


def http_chunk(data: bytes) -> bytes:
    """One piece of a chunked transfer-encoded body."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def streaming_head(content_type: str | None = "text/event-stream") -> bytes:
    head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return (head + "\r\n").encode()


def stream_script(
    events: list[bytes], *, end: bool = True, content_type: str | None = "text/event-stream"
) -> list[Step]:
    """A chunked SSE response of ``events``; ``end=False`` cuts it before the final chunk."""
    steps: list[Step] = [Send(streaming_head(content_type))]
    steps += [Send(http_chunk(event)) for event in events]
    if end:
        steps.append(Send(b"0\r\n\r\n"))
    steps.append(Close())
    return steps


def whole_response(
    status: int, body: bytes | str, content_type: str = "application/json", **headers: str
) -> list[Step]:
    data = body.encode() if isinstance(body, str) else body
    head = f"HTTP/1.1 {status} Whatever\r\nContent-Length: {len(data)}\r\nConnection: close\r\n"
    head += f"Content-Type: {content_type}\r\n"
    for name, value in headers.items():
        head += f"{name.replace('_', '-')}: {value}\r\n"
    return [Send((head + "\r\n").encode() + data), Close()]


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


@dataclass
class ScriptedServer(LoopbackServer):
    scripts: list[list[Step]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}/v0"

    def script(self, *steps: Step) -> None:
        self.scripts.append(list(steps))

    def _make_server(self, address: tuple[str, int]) -> socketserver.TCPServer:
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner._handle(self.request)

        return _TCPServer(address, Handler)

    def _handle(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        request_line = reader.readline().decode("latin-1").strip()
        headers: dict[str, str] = {}
        while True:
            line = reader.readline().decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        raw = reader.read(length) if length else b""
        method, path, *_ = request_line.split(" ")
        if method == "HEAD":
            # A client opening its connection ahead of a message (StreamingGateway.prepare):
            # not one of the requests a test scripts, so it takes no script and is not recorded.
            conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            conn.close()
            return
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
        steps = self.scripts.pop(0) if self.scripts else whole_response(500, "no script")
        try:
            for step in steps:
                if isinstance(step, Send):
                    conn.sendall(step.data)
                elif isinstance(step, Sleep):
                    time.sleep(step.seconds)
                else:
                    return  # Close: cut the connection where the script says
            # The script ended without Close: hold the line until the client hangs up.
            conn.settimeout(10)
            while conn.recv(1024):
                pass
            self.disconnected.set()
        except (BrokenPipeError, ConnectionResetError):
            self.disconnected.set()
        except OSError:
            pass
        finally:
            conn.close()


def serve() -> Iterator[ScriptedServer]:
    yield from running(ScriptedServer())
