"""The HTTP server: a stdlib ``ThreadingHTTPServer`` speaking the Unify API on loopback."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import ipaddress
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import parse_qs, urlsplit

from . import dialects, errors
from .catalog import Catalog, EndpointMetrics, EndpointSpec
from .faults import DEFAULT_DETAILS, ERROR_KINDS, HTML_ERROR_PAGE, Fault, FaultKind
from .replies import estimate_prompt_tokens, reply_tokens, tokenize
from .routing import MAX_FALLBACKS, expand_fallbacks, resolve

logger = logging.getLogger("tui_chat.gateway_sim")

_MAX_BODY_BYTES = 64 * 1024 * 1024
_STREAM_BUFFER_BYTES = 64 * 1024
_STOP_JOIN_S = 2.0
_USER_ID = "sim-user"
#: Request headers a RecordedRequest keeps (attribution and client identity, never a secret).
RECORDED_HEADERS = frozenset({"http-referer", "x-title", "user-agent"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class SimControls:
    """Knobs read by every chat request; change them any time (also via ``POST /_sim/control``).

    ``token_delay_s`` seconds between tokens and ``ttft_s`` before the first one; None uses the
    served endpoint's simulated (drifting) itl and ttft. ``reply_tokens`` forces every reply to
    exactly that many tokens (long Markdown padded or cut). ``tokens_per_chunk`` groups tokens
    into one SSE chunk. ``markdown`` makes every reply long Markdown. ``close_delimited`` ends
    streams by closing the connection instead of chunked transfer encoding.
    ``omit_stream_content_type`` leaves out ``Content-Type`` on streams (as 2024 Unify did).
    ``metrics_interval_s`` is how often endpoint speeds are re-measured (prices every 6x).
    ``time_offset_s`` is added to the clock (to move drift along without waiting).
    """

    token_delay_s: float | None = None
    ttft_s: float | None = None
    reply_tokens: int | None = None
    tokens_per_chunk: int = 1
    markdown: bool = False
    close_delimited: bool = False
    omit_stream_content_type: bool = False
    metrics_interval_s: float = 10.0
    time_offset_s: float = 0.0

    def update(self, values: Mapping[str, Any]) -> None:
        """Set several controls from JSON-like values; raises ValueError on a bad name or type."""
        checked: dict[str, Any] = {}
        for name, value in values.items():
            checked[name] = _check_control(name, value)
        for name, value in checked.items():
            setattr(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_OPTIONAL_FLOATS = frozenset({"token_delay_s", "ttft_s"})
_FLOATS = frozenset({"metrics_interval_s", "time_offset_s"})
_BOOLS = frozenset({"markdown", "close_delimited", "omit_stream_content_type"})
CONTROL_NAMES = tuple(field.name for field in dataclasses.fields(SimControls))


def _check_control(name: str, value: Any) -> Any:
    if name not in CONTROL_NAMES:
        raise ValueError(f"unknown control {name!r}; known: {', '.join(CONTROL_NAMES)}")
    if name in _BOOLS:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if value is None and name in (*_OPTIONAL_FLOATS, "reply_tokens"):
        return None
    if not is_number or not math.isfinite(value):
        raise ValueError(f"{name} must be a number")
    if name == "reply_tokens" or name == "tokens_per_chunk":
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1")
        return int(value)
    if name == "metrics_interval_s" and value <= 0:
        raise ValueError("metrics_interval_s must be > 0")
    if name in _OPTIONAL_FLOATS and value < 0:
        raise ValueError(f"{name} must be >= 0")
    return float(value)


@dataclass(frozen=True)
class RecordedRequest:
    """One chat request as received (never its Authorization header)."""

    path: str
    body: Any  # the parsed JSON body, or None if it was not JSON
    time: float  # the sim's clock when it arrived (unix seconds)
    # identifying headers only (RECORDED_HEADERS, lower-case names); never Authorization
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def first(self) -> Mapping[str, Any]:
        """The request object (the first one for a fallback-queries array)."""
        if isinstance(self.body, list) and self.body and isinstance(self.body[0], Mapping):
            return self.body[0]
        return self.body if isinstance(self.body, Mapping) else {}

    @property
    def model(self) -> str | None:
        model = self.first.get("model")
        return model if isinstance(model, str) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.first.get("messages")
        return list(messages) if isinstance(messages, list) else []

    @property
    def stream(self) -> bool:
        return bool(self.first.get("stream", False))

    @property
    def dialect(self) -> str:
        """Which API it was sent to: "unify" (/v0), "openrouter" (/api/v1) or "openai" (/v1)."""
        return dialects.dialect_for_path(self.path)


class _Stopped(Exception):
    """The sim is stopping: abandon the response and close the connection."""


@dataclass
class _Pending:
    fault: Fault
    remaining: int | None


@dataclass
class _Plan:
    """What serves one chat request: the request object, the endpoint and a stream fault."""

    request: Mapping[str, Any]
    metrics: EndpointMetrics
    fault: Fault | None
    prompt_tokens: int
    dialect: str = dialects.UNIFY


class GatewaySim:
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
        self.api_key = api_key
        self.seed = seed
        self.host = host
        self.controls = controls or SimControls()
        self.catalog = Catalog(seed)
        self.openrouter_names = dialects.OpenRouterNames(self.catalog)
        self._requested_port = port
        self._clock = clock
        self._credits = float(credits)
        self._spent = 0.0
        self._lock = threading.Lock()
        self._faults: list[_Pending] = []
        self._requests: list[RecordedRequest] = []
        self._counter = 0
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._loopback = is_loopback(host)
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
        if server is None or self._stopping.is_set():
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

    # --- account and test controls -------------------------------------------------------------

    def now(self) -> float:
        """The sim's time in unix seconds: the clock plus ``controls.time_offset_s``."""
        return self._clock() + self.controls.time_offset_s

    @property
    def credits(self) -> float:
        """The balance in credits (USD)."""
        with self._lock:
            return self._credits

    @credits.setter
    def credits(self, value: float) -> None:
        with self._lock:
            self._credits = float(value)

    def add_credits(self, amount: float) -> float:
        """Add ``amount`` credits (may be negative); returns the new balance."""
        with self._lock:
            self._credits += float(amount)
            return self._credits

    @property
    def spent(self) -> float:
        """Credits (USD) deducted for replies so far (OpenRouter's ``total_usage``)."""
        with self._lock:
            return self._spent

    def _charge(self, cost: float) -> None:
        with self._lock:
            self._credits -= cost
            self._spent += cost

    def inject(self, fault: Fault) -> None:
        """Queue ``fault`` for the next chat attempt(s); see ``faults`` for the kinds."""
        with self._lock:
            self._faults.append(_Pending(fault, fault.times))

    @property
    def faults(self) -> list[Fault]:
        """Faults still queued."""
        with self._lock:
            return [pending.fault for pending in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every chat request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, dialect: str) -> list[RecordedRequest]:
        """The chat requests sent to one dialect ("unify", "openrouter" or "openai")."""
        return [item for item in self.requests if item.dialect == dialect]

    def reset(self) -> None:
        """Forget queued faults and recorded requests (controls and credits stay)."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()

    def state(self) -> dict[str, Any]:
        """What ``GET /_sim/state`` returns."""
        with self._lock:
            pending = [
                {**item.fault.to_dict(), "remaining": item.remaining} for item in self._faults
            ]
            count = len(self._requests)
            credits = self._credits
        return {
            "base_url": self.base_url,
            "seed": self.seed,
            "credits": credits,
            "controls": self.controls.to_dict(),
            "pending_faults": pending,
            "requests": count,
            "time": self.now(),
        }

    def apply_control(self, body: Mapping[str, Any]) -> None:
        """Apply a ``POST /_sim/control`` body; validates everything before changing anything.

        Keys: any ``SimControls`` field; ``credits`` (set), ``add_credits``; ``fault`` (one fault
        object) or ``faults`` (a list); ``clear_faults`` and ``reset`` (true).
        """
        control_values: dict[str, Any] = {}
        faults: list[Fault] = []
        for key, value in body.items():
            if key in CONTROL_NAMES:
                control_values[key] = _check_control(key, value)
            elif key in ("credits", "add_credits"):
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise ValueError(f"{key} must be a number")
            elif key == "fault":
                faults.append(_fault_from_json(value))
            elif key == "faults":
                if not isinstance(value, list):
                    raise ValueError("faults must be a list of fault objects")
                faults.extend(_fault_from_json(item) for item in value)
            elif key in ("reset", "clear_faults"):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            else:
                known = [*CONTROL_NAMES, "credits", "add_credits", "fault", "faults", "reset"]
                raise ValueError(f"unknown control {key!r}; known: {', '.join(known)}")
        if body.get("reset"):
            self.reset()
        if body.get("clear_faults"):
            self.clear_faults()
        self.controls.update(control_values)
        if "credits" in body:
            self.credits = body["credits"]
        if "add_credits" in body:
            self.add_credits(body["add_credits"])
        for fault in faults:
            self.inject(fault)

    # --- internals used by the handler ---------------------------------------------------------

    def _record(self, path: str, body: Any, headers: Mapping[str, str] | None = None) -> None:
        kept = {
            name.lower(): value
            for name, value in (headers or {}).items()
            if name.lower() in RECORDED_HEADERS
        }
        with self._lock:
            self._requests.append(RecordedRequest(path, body, self.now(), kept))

    def _take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            for index, pending in enumerate(self._faults):
                if pending.fault.endpoint not in (None, endpoint):
                    continue
                if pending.remaining is not None:
                    pending.remaining -= 1
                    if pending.remaining <= 0:
                        del self._faults[index]
                return pending.fault
        return None

    def _next_number(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _digest(self) -> str:
        return hashlib.sha256(f"digest:{self.seed}:{self._next_number()}".encode()).hexdigest()[:8]

    def _completion_id(self) -> str:
        number = self._next_number()
        return "chatcmpl-" + hashlib.sha256(f"id:{self.seed}:{number}".encode()).hexdigest()[:24]

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

    def _wait(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (None: until stop); raises ``_Stopped`` if the sim stops meanwhile."""
        if seconds is not None and seconds <= 0:
            if self._stopping.is_set():
                raise _Stopped
            return
        if self._stopping.wait(seconds):
            raise _Stopped


def _fault_from_json(value: Any) -> Fault:
    if not isinstance(value, Mapping):
        raise ValueError("a fault must be a JSON object")
    return Fault.from_dict(value)


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


class _Writable(Protocol):
    def write(self, data: bytes, /) -> Any: ...


class _EventWriter:
    """Writes SSE events, as HTTP chunks or close-delimited; batches writes when asked to."""

    def __init__(self, wfile: _Writable, *, chunked: bool, batch: bool) -> None:
        self._wfile = wfile
        self._chunked = chunked
        self._batch = batch
        self._parts: list[bytes] = []
        self._size = 0

    def event(self, data: str) -> None:
        self.raw(b"data: " + data.encode() + b"\n\n")

    def raw(self, payload: bytes) -> None:
        self._parts.append(payload)
        self._size += len(payload)
        if not self._batch or self._size >= _STREAM_BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._parts:
            return
        payload = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        if self._chunked:
            payload = b"%x\r\n" % len(payload) + payload + b"\r\n"
        self._wfile.write(payload)

    def finish(self) -> None:
        self.flush()
        if self._chunked:
            self._wfile.write(b"0\r\n\r\n")


def _json(value: Any) -> str:
    return json.dumps(value)


def _huge_text(size: int) -> str:
    line = "The quick brown fox jumps over the lazy dog while the gateway sends one huge chunk.\n"
    return (line * (size // len(line) + 1))[:size]


def _fault_error(fault: Fault, dialect: str = dialects.UNIFY) -> errors.SimHTTPError:
    status = fault.status or 500
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        seconds = fault.retry_after
        headers["Retry-After"] = str(int(seconds)) if seconds == int(seconds) else str(seconds)
    if fault.kind is FaultKind.NON_JSON_ERROR:
        text = fault.detail if isinstance(fault.detail, str) else "Internal Server Error"
        return errors.SimHTTPError(
            status,
            text,
            headers=headers,
            raw_body=text.encode(),
            content_type="text/plain; charset=utf-8",
        )
    if fault.kind is FaultKind.HTML_ERROR:
        phrase = _phrase(status)
        page = HTML_ERROR_PAGE.format(status=status, phrase=phrase)
        return errors.SimHTTPError(
            status,
            f"{status} {phrase}",
            headers=headers,
            raw_body=page.encode(),
            content_type="text/html",
        )
    detail: Any = fault.detail
    if detail is None and dialect != dialects.UNIFY:
        detail = dialects.default_message(dialect, status)
    if detail is None:
        if status == 401:
            detail = errors.INVALID_API_KEY
        elif status == 402:
            detail = errors.NO_CREDITS
        elif status == 422:
            detail = errors.missing_field("messages")
        elif status >= 500 and status not in DEFAULT_DETAILS:
            detail = errors.internal_error(hashlib.sha256(repr(fault).encode()).hexdigest()[:8])
        else:
            detail = DEFAULT_DETAILS.get(status, _phrase(status))
    return errors.SimHTTPError(status, detail, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _validate_chat_body(body: Any) -> list[Mapping[str, Any]]:
    """The request objects to try in order; raises the 422/400 a FastAPI backend would."""
    if isinstance(body, Mapping):
        items: list[Any] = [body]
    elif isinstance(body, list) and body:
        items = body[:MAX_FALLBACKS]
    else:
        raise errors.SimHTTPError(
            422,
            [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}],
        )
    for item in items:
        if not isinstance(item, Mapping):
            raise errors.SimHTTPError(
                422,
                [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}],
            )
        if "model" not in item:
            raise errors.SimHTTPError(422, errors.missing_field("model"))
        if not isinstance(item["model"], str):
            raise errors.SimHTTPError(
                422,
                [{"loc": ["body", "model"], "msg": "str type expected", "type": "type_error.str"}],
            )
        if "messages" not in item:
            raise errors.SimHTTPError(422, errors.missing_field("messages"))
        messages = item["messages"]
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, Mapping) and "role" in m for m in messages)
        ):
            raise errors.SimHTTPError(400, errors.MESSAGES_NOT_IN_INPUT)
    return items


def _query_missing(name: str) -> errors.SimHTTPError:
    return errors.SimHTTPError(
        422, [{"loc": ["query", name], "msg": "field required", "type": "value_error.missing"}]
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "unify-gateway-sim"
    sys_version = ""
    timeout = 300  # seconds a connection may sit idle (or unread) before it is closed
    _responded = False
    _dialect = dialects.UNIFY  # the API of the request being served

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

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self._responded = True
        self.wfile.write(body)

    def _send_json(self, status: int, value: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(value).encode(), headers=headers)

    def _send_error(self, error: errors.SimHTTPError) -> None:
        if error.raw_body is not None:
            self._send(error.status, error.raw_body, error.content_type, error.headers)
        elif self._dialect != dialects.UNIFY:
            body = dialects.error_body(self._dialect, error.status, error.detail)
            self._send_json(error.status, body, error.headers)
        else:
            self._send_json(error.status, {"detail": error.detail}, error.headers)

    def _drop(self) -> None:
        """Close the connection abruptly, mid-response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

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

    def _check_auth(self) -> None:
        """FastAPI ``HTTPBearer`` then the key lookup (spec §5)."""
        authorization = self.headers.get("Authorization")
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        if not authorization or not scheme or not credentials.strip():
            raise errors.SimHTTPError(403, errors.NOT_AUTHENTICATED)
        if scheme.lower() != "bearer":
            raise errors.SimHTTPError(403, errors.INVALID_CREDENTIALS)
        if credentials.strip() != self.sim.api_key:
            raise errors.SimHTTPError(401, errors.INVALID_API_KEY)

    # --- dispatch ------------------------------------------------------------------------------

    _GET_ROUTES = {
        "/v0/credits": "_get_credits",
        "/v0/models": "_get_models",
        "/v0/providers": "_get_providers",
        "/v0/endpoints": "_get_endpoints",
        "/v0/endpoint-details": "_get_endpoint_details",
        "/v0/endpoint-metrics": "_get_endpoint_metrics",
        "/_sim/state": "_get_sim_state",
        "/_sim/requests": "_get_sim_requests",
    }
    _POST_ROUTES = {
        "/v0/chat/completions": "_post_chat",
        "/_sim/control": "_post_sim_control",
    }

    def do_GET(self) -> None:
        self._dispatch(self._GET_ROUTES)

    def do_POST(self) -> None:
        self._dispatch(self._POST_ROUTES)

    def do_PUT(self) -> None:
        self._dispatch({})

    def do_PATCH(self) -> None:
        self._dispatch({})

    def do_DELETE(self) -> None:
        self._dispatch({})

    def _dispatch(self, routes: Mapping[str, str]) -> None:
        self._responded = False  # per request: a keep-alive connection serves several
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = {name: values[-1] for name, values in parse_qs(split.query).items()}
        self._dialect = dialects.dialect_for_path(path)
        try:
            body = self._read_body() if self.command in ("POST", "PUT", "PATCH") else b""
            if self._dialect != dialects.UNIFY:
                self._dispatch_dialect(path, body)
                return
            method_name = routes.get(path)
            if method_name is None:
                if path in self._GET_ROUTES or path in self._POST_ROUTES:
                    raise errors.SimHTTPError(405, errors.METHOD_NOT_ALLOWED)
                raise errors.SimHTTPError(404, errors.NOT_FOUND)
            # chat checks auth itself, after recording the request; /_sim/* is open on loopback
            needs_auth = path.startswith("/v0/") or not self.sim._loopback
            if needs_auth and path != "/v0/chat/completions":
                self._check_auth()
            getattr(self, method_name)(path, query, body)
        except errors.SimHTTPError as error:
            if not self._responded:
                self._send_error(error)
        except _Stopped:
            self._drop()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        except Exception:
            logger.exception("gateway sim failed on %s %s", self.command, self.path)
            if self._responded:
                self._drop()
            else:
                self._send_json(500, {"detail": errors.internal_error(self.sim._digest())})

    # --- the OpenRouter and OpenAI-compatible dialects (see dialects.py) ------------------------

    def _dispatch_dialect(self, path: str, body: bytes) -> None:
        dialect = self._dialect
        prefix = dialects.OPENROUTER_PREFIX if dialect == dialects.OPENROUTER else "/v1"
        route = path.removeprefix(prefix)
        if route == "/chat/completions":
            if self.command != "POST":
                raise errors.SimHTTPError(405, errors.METHOD_NOT_ALLOWED)
            self._post_dialect_chat(path, body)
            return
        if self.command != "GET":
            raise errors.SimHTTPError(404, errors.NOT_FOUND)
        sim = self.sim
        if dialect == dialects.OPENAI and route == "/models":
            self._check_dialect_auth()
            self._send_json(200, dialects.openai_models(sim.catalog, int(sim.now())))
        elif dialect == dialects.OPENROUTER and route == "/models":
            # OpenRouter's model list is public: no key needed
            self._send_json(200, dialects.openrouter_models(sim.openrouter_names, self._metrics))
        elif dialect == dialects.OPENROUTER and route.startswith("/models/"):
            model_id = route.removeprefix("/models/").removesuffix("/endpoints")
            listing = None
            if route.endswith("/endpoints"):
                listing = dialects.openrouter_endpoints(
                    model_id, sim.openrouter_names, self._metrics
                )
            if listing is None:
                raise errors.SimHTTPError(404, f"Model {model_id} not found")
            self._send_json(200, listing)
        elif dialect == dialects.OPENROUTER and route == "/credits":
            self._check_dialect_auth()
            spent = sim.spent
            total = sim.credits + spent
            self._send_json(200, {"data": {"total_credits": total, "total_usage": spent}})
        else:
            raise errors.SimHTTPError(404, errors.NOT_FOUND)

    def _metrics(self, spec: EndpointSpec) -> EndpointMetrics:
        sim = self.sim
        return sim.catalog.metrics(spec, sim.now(), sim.controls.metrics_interval_s)

    def _check_dialect_auth(self) -> None:
        """A Bearer key that matches, or 401 in the dialect's words."""
        scheme, _, credentials = (self.headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer" and credentials.strip() == self.sim.api_key:
            return
        if self._dialect == dialects.OPENROUTER:
            missing = not credentials.strip()
            raise errors.SimHTTPError(
                401, "No auth credentials found" if missing else "User not found."
            )
        raise errors.SimHTTPError(
            401,
            "Incorrect API key provided. You can find your API key in the server's settings.",
        )

    def _post_dialect_chat(self, path: str, raw: bytes) -> None:
        started = time.monotonic()
        sim, dialect = self.sim, self._dialect
        try:
            body = json.loads(raw)
        except ValueError as error:
            sim._record(path, None, dict(self.headers.items()))
            self._check_dialect_auth()
            raise errors.SimHTTPError(400, f"Invalid JSON in the request body: {error}") from None
        sim._record(path, body, dict(self.headers.items()))
        self._check_dialect_auth()
        request = dialects.validate_body(body)
        if dialect == dialects.OPENROUTER and sim.credits <= 0:
            raise errors.SimHTTPError(402, dialects.default_message(dialect, 402))
        prompt_tokens = estimate_prompt_tokens(request["messages"])
        if dialect == dialects.OPENROUTER:
            ranked = dialects.openrouter_candidates(
                request, sim.openrouter_names, self._metrics, prompt_tokens
            )
        else:
            ranked = dialects.openai_candidates(request, sim.catalog, self._metrics)
        last_error: errors.SimHTTPError | None = None
        for metrics in ranked:
            fault = sim._take_fault(metrics.endpoint)
            if fault is not None and fault.kind in ERROR_KINDS:
                fault_error = _fault_error(fault, dialect)
                # OpenRouter moves on to the next provider; a plain server has no other
                if dialect == dialects.OPENAI or not errors.is_retryable(fault_error.status):
                    raise fault_error
                last_error = fault_error
                continue
            self._serve(_Plan(request, metrics, fault, prompt_tokens, dialect), started)
            return
        assert last_error is not None
        raise last_error

    # --- account and metadata ------------------------------------------------------------------

    def _get_credits(self, path: str, query: Mapping[str, str], body: bytes) -> None:
        self._send_json(200, {"id": _USER_ID, "credits": self.sim.credits})

    def _get_models(self, path: str, query: Mapping[str, str], body: bytes) -> None:
        catalog = self.sim.catalog
        provider = query.get("provider")
        if provider is None:
            self._send_json(200, catalog.models)
            return
        models = sorted({spec.model for spec in catalog.specs_for_provider(provider)})
        self._send_json(200, models)

    def _get_providers(self, path: str, query: Mapping[str, str], body: bytes) -> None:
        catalog = self.sim.catalog
        model = query.get("model")
        if model is None:
            self._send_json(200, catalog.providers)
            return
        self._send_json(200, sorted(spec.provider for spec in catalog.specs_for_model(model)))

    def _get_endpoints(self, path: str, query: Mapping[str, str], body: bytes) -> None:
        catalog = self.sim.catalog
        model, provider = query.get("model"), query.get("provider")
        if model is not None and provider is not None:
            raise errors.SimHTTPError(400, errors.AT_MOST_ONE_OF_MODEL_PROVIDER)
        if model is not None:
            specs = catalog.specs_for_model(model)
        elif provider is not None:
            specs = catalog.specs_for_provider(provider)
        else:
            self._send_json(200, catalog.endpoints)
            return
        self._send_json(200, sorted(spec.name for spec in specs))

    def _get_endpoint_details(self, path: str, query: Mapping[str, str], body: bytes) -> None:
        endpoint = query.get("endpoint")
        if endpoint is None:
            raise _query_missing("endpoint")
        spec = self.sim.catalog.spec(endpoint)
        if spec is None:
            raise errors.SimHTTPError(404, f"Endpoint {endpoint} not found.")
        metrics = self.sim.catalog.metrics(
            spec, self.sim.now(), self.sim.controls.metrics_interval_s
        )
        self._send_json(
            200,
            {
                "input_cost": metrics.input_cost,
                "output_cost": metrics.output_cost,
                "context_window": metrics.context_window,
            },
        )

    def _get_endpoint_metrics(self, path: str, query: Mapping[str, str], body: bytes) -> None:
        model = query.get("model")
        if model is None:
            raise _query_missing("model")
        provider = query.get("provider")
        catalog = self.sim.catalog
        specs = catalog.specs_for_model(model)
        if provider is not None:
            specs = tuple(spec for spec in specs if spec.provider == provider)
        if not specs:
            name = f"{model}@{provider}" if provider is not None else model
            raise errors.SimHTTPError(404, f"Benchmarks for {name} not found.")
        interval = self.sim.controls.metrics_interval_s
        times = list(self._metric_times(query, interval))
        rows = [
            {
                "ttft": metrics.ttft,
                "itl": metrics.itl,
                "input_cost": metrics.input_cost,
                "output_cost": metrics.output_cost,
                "measured_at": metrics.measured_at_iso(),
                "endpoint": metrics.endpoint,
            }
            for spec in sorted(specs, key=lambda spec: spec.provider)
            for metrics in (catalog.metrics(spec, moment, interval) for moment in times)
        ]
        self._send_json(200, rows)

    def _metric_times(self, query: Mapping[str, str], interval: float) -> Iterator[float]:
        """The latest benchmark only, or one per interval between start_time and end_time."""
        now = self.sim.now()
        start_text, end_text = query.get("start_time"), query.get("end_time")
        if start_text is None and end_text is None:
            yield now
            return
        try:
            start = _parse_time(start_text) if start_text else now - 100 * interval
            end = min(_parse_time(end_text), now) if end_text else now
        except ValueError:
            raise errors.SimHTTPError(
                422,
                [
                    {
                        "loc": ["query", "start_time"],
                        "msg": "invalid datetime format",
                        "type": "value_error.datetime",
                    }
                ],
            ) from None
        epoch = math.floor(start / interval)
        last = math.floor(end / interval)
        first = max(epoch, last - 99)  # at most 100 benchmarks per endpoint
        for index in range(first, last + 1):
            yield index * interval

    # --- test controls -------------------------------------------------------------------------

    def _get_sim_state(self, path: str, query: Mapping[str, str], body: bytes) -> None:
        self._send_json(200, self.sim.state())

    def _get_sim_requests(self, path: str, query: Mapping[str, str], body: bytes) -> None:
        self._send_json(
            200,
            [
                {"path": item.path, "time": item.time, "body": item.body}
                for item in self.sim.requests
            ],
        )

    def _post_sim_control(self, path: str, query: Mapping[str, str], body: bytes) -> None:
        try:
            values = json.loads(body or b"{}")
            if not isinstance(values, dict):
                raise ValueError("the body must be a JSON object")
            self.sim.apply_control(values)
        except ValueError as error:
            raise errors.SimHTTPError(400, str(error)) from None
        self._send_json(200, self.sim.state())

    # --- chat ----------------------------------------------------------------------------------

    def _post_chat(self, path: str, query: Mapping[str, str], raw: bytes) -> None:
        started = time.monotonic()
        try:
            body = json.loads(raw)
        except ValueError as error:
            self.sim._record(path, None, dict(self.headers.items()))
            self._check_auth()
            raise errors.SimHTTPError(
                422,
                [
                    {
                        "loc": ["body", 0],
                        "msg": f"Expecting value: {error}",
                        "type": "value_error.jsondecode",
                    }
                ],
            ) from None
        self.sim._record(path, body, dict(self.headers.items()))
        self._check_auth()
        items = _validate_chat_body(body)
        if self.sim.credits <= 0:
            raise errors.SimHTTPError(402, errors.NO_CREDITS)
        last_error: errors.SimHTTPError | None = None
        for item in items:
            try:
                plan = self._plan(item)
            except errors.SimHTTPError as error:
                last_error = error
                if not errors.is_retryable(error.status):
                    break
                continue
            self._serve(plan, started)
            return
        assert last_error is not None
        raise last_error

    def _plan(self, request: Mapping[str, Any]) -> _Plan:
        """The endpoint for one request object, walking its fallbacks; raises the last error."""
        sim = self.sim
        prompt_tokens = estimate_prompt_tokens(request["messages"])
        last_error: errors.SimHTTPError | None = None
        for candidate in expand_fallbacks(request["model"]):
            try:
                ranked = resolve(
                    candidate,
                    sim.catalog,
                    now=sim.now(),
                    interval_s=sim.controls.metrics_interval_s,
                    prompt_tokens=prompt_tokens,
                    digest=sim._digest,
                )
            except errors.SimHTTPError as error:
                if not errors.is_retryable(error.status):
                    raise
                last_error = error
                continue
            for metrics in ranked:
                fault = sim._take_fault(metrics.endpoint)
                if fault is not None and fault.kind in ERROR_KINDS:
                    fault_error = _fault_error(fault)
                    if not errors.is_retryable(fault_error.status):
                        raise fault_error
                    last_error = fault_error
                    continue
                return _Plan(request, metrics, fault, prompt_tokens)
        assert last_error is not None
        raise last_error

    def _serve(self, plan: _Plan, started: float) -> None:
        sim = self.sim
        controls = dataclasses.replace(sim.controls)
        request = plan.request
        tokens = reply_tokens(
            request["messages"],
            seed=sim.seed,
            markdown=controls.markdown,
            exact=controls.reply_tokens,
        )
        finish_reason = "stop"
        max_tokens = request.get("max_tokens") or request.get("max_completion_tokens")
        if (
            isinstance(max_tokens, int)
            and not isinstance(max_tokens, bool)
            and 0 < max_tokens < len(tokens)
        ):
            tokens = tokens[:max_tokens]
            finish_reason = "length"
        if not tokens:
            tokens = [""]
        metrics = plan.metrics
        ttft_s = controls.ttft_s if controls.ttft_s is not None else metrics.ttft / 1000
        itl_s = controls.token_delay_s if controls.token_delay_s is not None else metrics.itl / 1000
        if request.get("stream"):
            self._stream(plan, tokens, finish_reason, ttft_s, itl_s, controls)
        else:
            self._complete(plan, tokens, finish_reason, ttft_s, itl_s, started)

    def _cost(self, plan: _Plan, completion_tokens: int) -> float:
        metrics = plan.metrics
        return (
            plan.prompt_tokens * metrics.input_cost + completion_tokens * metrics.output_cost
        ) / 1_000_000

    def _usage(self, plan: _Plan, completion_tokens: int) -> dict[str, Any]:
        return {
            "cost": self._cost(plan, completion_tokens),
            "prompt_tokens": plan.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": plan.prompt_tokens + completion_tokens,
        }

    def _complete(
        self,
        plan: _Plan,
        tokens: list[str],
        finish_reason: str,
        ttft_s: float,
        itl_s: float,
        started: float,
    ) -> None:
        sim, fault = self.sim, plan.fault
        kind = fault.kind if fault is not None else None
        if fault is not None and kind in (FaultKind.STALL, FaultKind.SLOW_FIRST_TOKEN):
            sim._wait(fault.seconds)
        sim._wait(ttft_s + itl_s * len(tokens))
        if kind is FaultKind.DROP:
            self._drop()
            return
        if fault is not None and kind is FaultKind.ERROR_CHUNK:
            self._send_json(200, self._error_chunk(fault))
            return
        content = "".join(tokens)
        completion_tokens = len(tokens)
        if fault is not None and kind is FaultKind.HUGE_CHUNK:
            huge = _huge_text(fault.size)
            cut = len("".join(tokens[: fault.after_tokens]))
            content = content[:cut] + huge + content[cut:]
            completion_tokens += len(tokenize(huge))
        message: dict[str, Any] = {
            "content": content,
            "role": "assistant",
            "tool_calls": None,
            "function_call": None,
        }
        if kind is FaultKind.TOOL_CALLS:
            message["tool_calls"] = [_TOOL_CALL]
        usage = self._usage(plan, completion_tokens)
        whole_usage: dict[str, Any] = {
            "completion_tokens": completion_tokens,
            "prompt_tokens": plan.prompt_tokens,
            "total_tokens": usage["total_tokens"],
            "completion_tokens_details": None,
            "cost": usage["cost"],
        }
        if plan.dialect == dialects.OPENAI:
            del whole_usage["cost"]
        response = {
            **dialects.whole_response_fields(plan.dialect, plan.metrics),
            "created": int(sim.now()),
            "id": sim._completion_id(),
            "object": "chat.completion",
            "usage": whole_usage,
            "choices": []
            if kind is FaultKind.EMPTY_CHOICES
            else [{"finish_reason": finish_reason, "index": 0, "message": message}],
        }
        body = json.dumps(response).encode()
        if kind in (FaultKind.MALFORMED_CHUNK, FaultKind.TRUNCATED_CHUNK):
            body = body[: len(body) // 2]
        if plan.dialect != dialects.OPENAI:
            sim._charge(usage["cost"])
        elapsed_ms = int((time.monotonic() - started) * 1000)
        self._send(200, body, headers={"openai-processing-ms": str(elapsed_ms)})

    def _stream(
        self,
        plan: _Plan,
        tokens: list[str],
        finish_reason: str,
        ttft_s: float,
        itl_s: float,
        controls: SimControls,
    ) -> None:
        sim, fault = self.sim, plan.fault
        kind = fault.kind if fault is not None else None
        if fault is not None and kind is FaultKind.STALL and fault.before_headers:
            sim._wait(fault.seconds)
            fault = None
        chunked = not controls.close_delimited
        self.send_response(200)
        if not controls.omit_stream_content_type:
            self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self._responded = True

        served = _json(plan.metrics.endpoint)
        wire = dialects.stream_format(
            plan.dialect, plan.request, plan.metrics, int(sim.now()), sim._completion_id()
        )
        # head: a chunk's JSON up to "choices", with the dialect's per-chunk usage
        head = wire.head + wire.chunk_usage
        writer = _EventWriter(self.wfile, chunked=chunked, batch=itl_s <= 0)
        if wire.preamble:
            writer.raw(wire.preamble)
        per_chunk = max(1, controls.tokens_per_chunk)
        groups = [tokens[i : i + per_chunk] for i in range(0, len(tokens), per_chunk)]
        fire_at = len(groups) - 1
        if fault is not None:
            fire_at = next(
                (g for g in range(len(groups)) if g * per_chunk >= fault.after_tokens), fire_at
            )
        sent = 0
        extra_tokens = 0
        billed = False

        def bill(completion_tokens: int) -> None:
            # before the client can see the end of the stream, so a balance read right after
            # the last chunk already shows the charge
            nonlocal billed
            if not billed:
                billed = True
                if wire.bills:
                    sim._charge(self._cost(plan, completion_tokens))

        next_at = time.monotonic() + ttft_s
        if kind is FaultKind.SLOW_FIRST_TOKEN and fault is not None:
            next_at += fault.seconds or 0.0
        try:
            for index, group in enumerate(groups):
                if fault is not None and index == fire_at:
                    if kind in (FaultKind.DROP, FaultKind.TRUNCATED_CHUNK):
                        bill(sent)
                    outcome = self._stream_fault(fault, writer, head, served)
                    if outcome == "end":
                        writer.finish()
                        self.close_connection = True
                        return
                    if outcome == "drop":
                        self._drop()
                        return
                    if kind is FaultKind.HUGE_CHUNK:
                        extra_tokens = len(tokenize(_huge_text(fault.size)))
                    if kind is FaultKind.STALL:
                        next_at = max(next_at, time.monotonic())
                delay = next_at - time.monotonic()
                if delay > 0:
                    writer.flush()
                    sim._wait(delay)
                elif sim._stopping.is_set():
                    raise _Stopped
                content = _json("".join(group))
                role = '"role": "assistant", ' if index == 0 else ""
                if index == len(groups) - 1:
                    completion_tokens = sent + len(group) + extra_tokens
                    bill(completion_tokens)
                    usage_fields = self._usage(plan, completion_tokens)
                    usage = f'"usage": {_json(usage_fields)}, ' if wire.usage_in_last_chunk else ""
                    last_head = wire.head + usage if wire.usage_in_last_chunk else head
                    writer.event(
                        f'{last_head}"choices": [{{"index": 0, "delta": '
                        f'{{{role}"content": {content}}}, "finish_reason": '
                        f'{_json(finish_reason)}, "logprobs": null}}]}}'
                    )
                    for data in wire.closing_events(usage_fields):
                        writer.event(data)
                else:
                    writer.event(
                        f'{head}"choices": [{{"index": 0, "delta": '
                        f'{{{role}"content": {content}}}, "finish_reason": null, '
                        '"logprobs": null}]}'
                    )
                sent += len(group)
                next_at += itl_s * len(group)
            writer.finish()
        except (_Stopped, OSError):
            # the client went away or the sim is stopping: bill what was generated
            bill(sent + extra_tokens)
            self._drop()

    def _error_chunk(self, fault: Fault) -> dict[str, Any]:
        """The ``{"error": ...}`` object an error-chunk fault sends, streamed or whole."""
        status = fault.status or 502
        message = fault.detail if isinstance(fault.detail, str) else None
        if message is None:
            message = (
                dialects.default_message(self._dialect, status)
                if self._dialect != dialects.UNIFY
                else DEFAULT_DETAILS.get(status, _phrase(status))
            )
        return {"error": {"code": status, "message": message}}

    def _stream_fault(self, fault: Fault, writer: _EventWriter, head: str, served: str) -> str:
        """Apply a mid-stream fault; returns "go" (carry on), "end" or "drop"."""
        kind = fault.kind
        if kind is FaultKind.DROP:
            writer.flush()
            return "drop"
        if kind is FaultKind.TRUNCATED_CHUNK:
            half = f'{head}"choices": [{{"index": 0, "delta": {{"content": "'
            writer.raw(b"data: " + half.encode())
            return "end"
        if kind is FaultKind.ERROR_CHUNK:
            writer.event(_json(self._error_chunk(fault)))
            return "end"
        if kind is FaultKind.MALFORMED_CHUNK:
            writer.event(
                f'{{"model": {served}, "choices": [{{"index": 0, "delta": {{"content": "oops"}}'
            )
        elif kind is FaultKind.EMPTY_CHOICES:
            writer.event(f'{head}"choices": []}}')
        elif kind is FaultKind.TOOL_CALLS:
            writer.event(
                f'{head}"choices": [{{"index": 0, "delta": {{"role": "assistant", '
                f'"content": null, "tool_calls": [{_json(_TOOL_CALL | {"index": 0})}]}}, '
                '"finish_reason": null, "logprobs": null}]}'
            )
        elif kind is FaultKind.HUGE_CHUNK:
            writer.event(
                f'{head}"choices": [{{"index": 0, "delta": {{"content": '
                f'{_json(_huge_text(fault.size))}}}, "finish_reason": null, "logprobs": null}}]}}'
            )
        elif kind in (FaultKind.STALL, FaultKind.SLOW_FIRST_TOKEN):
            writer.flush()
            if kind is FaultKind.STALL:
                self.sim._wait(fault.seconds)
        return "go"


_TOOL_CALL: dict[str, Any] = {
    "id": "call_sim0001",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Lisbon"}'},
}


def _parse_time(text: str) -> float:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
