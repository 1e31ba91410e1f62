"""What the test servers on loopback share: bind 127.0.0.1 on an ephemeral port, serve from a
daemon thread, stop on demand, and a fixture body that runs one for a test.

``ScriptedServer`` (byte-level misbehaviour) and ``EvilGateway`` (hostile strings) differ only
in how they answer a connection, which each says in ``_make_server``.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from typing import TypeVar


class LoopbackServer:
    """A TCP (or HTTP) server on 127.0.0.1 that ``start`` binds and serves.

    ``_make_server`` builds it unstarted; it should handle each connection in a daemon thread
    (``ThreadingHTTPServer``, or ``ThreadingTCPServer`` with ``daemon_threads = True``).
    """

    _server: socketserver.TCPServer | None = None

    def _make_server(self, address: tuple[str, int]) -> socketserver.TCPServer:
        raise NotImplementedError

    @property
    def address(self) -> tuple[str, int]:
        """Host and port, once started."""
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        server = self._make_server(("127.0.0.1", 0))
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


ServerT = TypeVar("ServerT", bound=LoopbackServer)


def running(server: ServerT) -> Iterator[ServerT]:
    """Start ``server``, hand it to the test, stop it afterwards (``yield from`` in a fixture)."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
