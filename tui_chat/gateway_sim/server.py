"""The HTTP server: a stdlib ``ThreadingHTTPServer`` on loopback serving a ``SimState``.

Each request runs in its own thread; the handler reads the body, wraps the request in an
``Exchange`` and lets routes.py answer it. A refusal (``SimHTTPError``) goes out in the
dialect's error shape; an unexpected failure is a Unify-style 500, or a cut connection once the
response has begun.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from . import dialects, errors, routes
from .exchange import Exchange
from .state import (
    SimControls,
    SimState,
    Stopped,
    is_loopback,
)

logger = logging.getLogger("tui_chat.gateway_sim")

_MAX_BODY_BYTES = 64 * 1024 * 1024
_STOP_JOIN_S = 2.0


class GatewaySim(SimState):
    """A real HTTP server on loopback that speaks the Unify API with simulated models.

    ``credits`` is the starting balance in credits (USD); ``seed`` makes replies, drift and ids
    reproducible; ``clock`` returns unix seconds (pass a fake to move drift without sleeping).
    Use as a context manager, or ``start()`` then ``stop()``.
    """

    def __init__(
        self,
        api_key: str = "demo-key",
        credits: float = 50.0,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] = time.time,
        allow_remote: bool = False,
        controls: SimControls | None = None,
        listener: socket.socket | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("GatewaySim needs an api_key (auth is real)")
        if not is_loopback(host) and not allow_remote:
            raise ValueError(
                f"refusing to serve on non-loopback host {host!r} without allow_remote"
            )
        super().__init__(
            api_key, credits, seed, clock=clock, controls=controls, loopback=is_loopback(host)
        )
        self.host = host
        self._requested_port = port
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        # A socket already bound and listening (tui_chat.demo): its address is known before the
        # sim is imported, and connections made meanwhile wait in its backlog until start().
        self._listener = listener

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("GatewaySim already started")
        self._server = _Server((self.host, self._requested_port), _Handler, self, self._listener)
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"gateway-sim:{self.port}",
            daemon=True,
        )
        self._serve_thread.start()
        logger.info("gateway sim serving at %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving; cuts open streams and ends hanging faults. Returns within ~2 s."""
        server = self._server
        if server is None or self.is_stopping():
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + _STOP_JOIN_S
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._serve_thread is not None:
            self._serve_thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("GatewaySim not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:8765``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def openrouter_base_url(self) -> str:
        """The OpenRouter dialect: ``http://127.0.0.1:<port>/api/v1``."""
        return self.url + dialects.OPENROUTER_PREFIX

    @property
    def openai_base_url(self) -> str:
        """The plain OpenAI-compatible dialect: ``http://127.0.0.1:<port>/v1``."""
        return self.url + dialects.OPENAI_PREFIX

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:8765/v0``."""
        return f"{self.url}/v0"

    def state(self) -> dict[str, Any]:
        """What ``GET /_sim/state`` returns."""
        return {"base_url": self.base_url, **super().state()}

    # --- connections and threads, so that stop() can end them ------------------------------------

    def _track(self, connection: socket.socket | None, thread: threading.Thread | None) -> None:
        with self._lock:
            if connection is not None:
                self._connections.add(connection)
            if thread is not None:
                self._threads.add(thread)

    def _untrack(self, connection: socket.socket | None, thread: threading.Thread | None) -> None:
        with self._lock:
            if connection is not None:
                self._connections.discard(connection)
            if thread is not None:
                self._threads.discard(thread)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        sim: GatewaySim,
        listener: socket.socket | None = None,
    ) -> None:
        self.sim = sim
        if listener is not None:
            self.address_family = listener.family
            super().__init__(listener.getsockname()[:2], handler, bind_and_activate=False)
            self.socket.close()  # the one made by socketserver: serve on the listener instead
            self.socket = listener
            self._take_address()
            return
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup we neither need nor want
        self.socket.bind(self.server_address)
        self._take_address()

    def _take_address(self) -> None:
        self.server_address = self.socket.getsockname()[:2]
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._process_tracked,
            args=(request, client_address),
            name="gateway-sim-request",
            daemon=True,
        )
        self.sim._track(None, thread)
        thread.start()

    def _process_tracked(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            self.sim._untrack(None, threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "unify-gateway-sim"
    sys_version = ""
    timeout = 300  # seconds a connection may sit idle (or unread) before it is closed

    # --- plumbing ------------------------------------------------------------------------------

    @property
    def sim(self) -> GatewaySim:
        return self.server.sim

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sim._track(self.connection, None)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.sim._untrack(self.connection, None)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                total += size
                if total > _MAX_BODY_BYTES:
                    self.close_connection = True
                    raise errors.SimHTTPError(413, "Request body too large.")
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY_BYTES:
            self.close_connection = True
            raise errors.SimHTTPError(413, "Request body too large.")
        return self.rfile.read(length) if length > 0 else b""

    # --- dispatch ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_PATCH(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = {name: values[-1] for name, values in parse_qs(split.query).items()}
        # per request: a keep-alive connection serves several
        exchange = Exchange(self, self.sim, path, query)
        try:
            if self.command in ("POST", "PUT", "PATCH"):
                exchange.body = self._read_body()
            routes.answer(exchange)
        except errors.SimHTTPError as error:
            if not exchange.responded:
                exchange.send_error(error)
        except Stopped:
            exchange.drop()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        except Exception:
            logger.exception("gateway sim failed on %s %s", self.command, self.path)
            if exchange.responded:
                exchange.drop()
            else:
                exchange.send_json(500, {"detail": errors.internal_error(self.sim.digest())})
