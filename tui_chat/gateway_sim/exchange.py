"""One HTTP request being answered: what was asked, who may ask it, and the ways to answer.

The route handlers (listings.py, chat.py, completions.py, routes.py) see an ``Exchange``, never the
``BaseHTTPRequestHandler`` behind it, so each can be read without the server's plumbing.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler
from io import BufferedIOBase
from typing import Any

from . import dialects, errors
from .state import SimState


class Exchange:
    """A request (``path``, ``query``, ``body``, ``headers``) and its response, on one handler.

    ``route`` is the path within its dialect's API: ``/models`` for ``/api/v1/models``, the
    whole path for the Unify API (``/v0/...``) and the test controls (``/_sim/...``). Errors go
    out in the dialect's own error shape.
    """

    def __init__(
        self,
        handler: BaseHTTPRequestHandler,
        sim: SimState,
        path: str,
        query: Mapping[str, str],
    ) -> None:
        self._handler = handler
        self.sim = sim
        self.path = path
        self.query = query
        self.dialect = dialects.dialect_for_path(path)
        self.route = path.removeprefix(dialects.prefix(self.dialect))
        self.body = b""
        self.responded = False  # once the status line is out, an error can only cut the reply

    @property
    def method(self) -> str:
        return self._handler.command

    @property
    def headers(self) -> Message:
        return self._handler.headers

    @property
    def wfile(self) -> BufferedIOBase:
        """The connection's output, for a response written piece by piece (a stream)."""
        return self._handler.wfile

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """A whole response with ``Content-Length``."""
        handler = self._handler
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        self.responded = True
        handler.wfile.write(body)

    def send_json(self, status: int, value: Any, headers: Mapping[str, str] | None = None) -> None:
        self.send(status, json.dumps(value).encode(), headers=headers)

    def send_error(self, error: errors.SimHTTPError) -> None:
        """``error`` as the dialect words it: ``{"detail": ...}`` for Unify, else its own shape."""
        if error.raw_body is not None:
            self.send(error.status, error.raw_body, error.content_type, error.headers)
        elif self.dialect != dialects.UNIFY:
            body = dialects.error_body(self.dialect, error.status, error.detail)
            self.send_json(error.status, body, error.headers)
        else:
            self.send_json(error.status, {"detail": error.detail}, error.headers)

    def start_stream(self, *, content_type: bool, framing: str) -> None:
        """The headers of a 200 event stream, delimited as ``framing`` says (``SimControls``):
        chunked, or ended by closing the connection (``"close"``: HTTP/1.1 with
        ``Connection: close``; ``"http/1.0"``: an HTTP/1.0 status line, which closes anyway).
        A close-delimited stream has neither ``Content-Length`` nor ``Transfer-Encoding``."""
        handler = self._handler
        if framing == "http/1.0":
            handler.protocol_version = "HTTP/1.0"  # this response only: the connection closes
        handler.send_response(200)
        if content_type:
            handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        if framing == "chunked":
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            if framing != "http/1.0":
                handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        self.responded = True

    def close_after(self) -> None:
        """Close the connection once this response is out (no keep-alive)."""
        self._handler.close_connection = True

    def drop(self) -> None:
        """Close the connection abruptly, mid-response."""
        handler = self._handler
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)

    # --- who may ask ---------------------------------------------------------------------------

    def check_unify_key(self) -> None:
        """A Bearer key as a FastAPI backend checks one: 403 without a usable Authorization
        header, 401 when the key is not the sim's."""
        authorization = self.headers.get("Authorization")
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        if not authorization or not scheme or not credentials.strip():
            raise errors.SimHTTPError(403, errors.NOT_AUTHENTICATED)
        if scheme.lower() != "bearer":
            raise errors.SimHTTPError(403, errors.INVALID_CREDENTIALS)
        if credentials.strip() != self.sim.api_key:
            raise errors.SimHTTPError(401, errors.INVALID_API_KEY)

    def check_key_beyond_loopback(self) -> None:
        """The test controls are open on loopback; served further, they need the key."""
        if not self.sim.loopback:
            self.check_unify_key()

    def check_dialect_key(self) -> None:
        """A Bearer key that matches, or 401 in the dialect's words."""
        scheme, _, credentials = (self.headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer" and credentials.strip() == self.sim.api_key:
            return
        if self.dialect == dialects.OPENROUTER:
            missing = not credentials.strip()
            raise errors.SimHTTPError(
                401, "No auth credentials found" if missing else "User not found."
            )
        raise errors.SimHTTPError(
            401,
            "Incorrect API key provided. You can find your API key in the server's settings.",
        )
