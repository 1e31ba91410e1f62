"""What the embedded gateway knows and every request reads or changes: controls, credits,
queued faults, recorded requests and the clock. No HTTP here (see server.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import dialects
from .catalog import DRIFTS, Catalog, EndpointMetrics, EndpointSpec
from .faults import Fault

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
    into one SSE chunk. ``markdown`` makes every reply long Markdown. ``framing`` is how a
    stream's body is delimited (``FRAMINGS``): ``"chunked"`` (chunked transfer encoding),
    ``"close"`` (HTTP/1.1, ``Connection: close``, no ``Content-Length`` and no chunking: the body
    ends when the socket closes, as llama.cpp's server and some proxies answer) or ``"http/1.0"``
    (the same, with an HTTP/1.0 status line and no ``Connection`` header). ``close_delimited``
    is the older switch for ``"close"``: True with ``framing="chunked"`` means ``"close"``.
    ``omit_stream_content_type`` leaves out ``Content-Type`` on streams (as 2024 Unify did).
    ``metrics_interval_s`` is how often endpoint speeds are re-measured (prices every 6x).
    ``drift`` is how speeds move between measurements (``catalog.DRIFTS``): ``"jitter"``, a new
    independent factor each interval (a much faster provider stays fastest), or
    ``"waves"`` (what ``--demo`` uses): smooth load waves that make a model's fastest providers
    overtake each other every few intervals, with prices held still.
    ``time_offset_s`` is added to the clock (to move drift along without waiting).
    ``markup`` is a share billed on top of each reply's reported cost (0.05: the balance falls
    by 5 % more than ``usage.cost`` says, as Unify's markup on the providers' raw cost).
    """

    token_delay_s: float | None = None
    ttft_s: float | None = None
    reply_tokens: int | None = None
    tokens_per_chunk: int = 1
    markdown: bool = False
    framing: str = "chunked"
    close_delimited: bool = False
    omit_stream_content_type: bool = False
    metrics_interval_s: float = 10.0
    drift: str = "jitter"
    time_offset_s: float = 0.0
    markup: float = 0.0

    def update(self, values: Mapping[str, Any]) -> None:
        """Set several controls from JSON-like values; raises ValueError on a bad name or type."""
        checked: dict[str, Any] = {}
        for name, value in values.items():
            checked[name] = _check_control(name, value)
        for name, value in checked.items():
            setattr(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def stream_framing(self) -> str:
        """The framing streams use: ``framing``, or ``"close"`` when only ``close_delimited``
        is set."""
        if self.framing == "chunked" and self.close_delimited:
            return "close"
        return self.framing


#: How a streamed body can be delimited (the ``framing`` control).
FRAMINGS = ("chunked", "close", "http/1.0")


_OPTIONAL_FLOATS = frozenset({"token_delay_s", "ttft_s"})
_FLOATS = frozenset({"metrics_interval_s", "time_offset_s", "markup"})
_BOOLS = frozenset({"markdown", "close_delimited", "omit_stream_content_type"})
CONTROL_NAMES = tuple(field.name for field in dataclasses.fields(SimControls))


def _check_control(name: str, value: Any) -> Any:
    if name not in CONTROL_NAMES:
        raise ValueError(f"unknown control {name!r}; known: {', '.join(CONTROL_NAMES)}")
    if name == "framing":
        if value not in FRAMINGS:
            raise ValueError(f"framing must be one of {', '.join(map(repr, FRAMINGS))}")
        return value
    if name == "drift":
        if value not in DRIFTS:
            raise ValueError(f"drift must be one of {', '.join(map(repr, DRIFTS))}")
        return value
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
    if name in (*_OPTIONAL_FLOATS, "markup") and value < 0:
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


class Stopped(Exception):
    """The sim is stopping: abandon the response and close the connection."""


@dataclass
class _Pending:
    fault: Fault
    remaining: int | None


class SimState:
    """The sim's state, shared by the request threads (every change under one lock).

    ``credits`` is the starting balance in credits (USD); ``seed`` makes replies, drift and ids
    reproducible; ``clock`` returns unix seconds (pass a fake to move drift without sleeping);
    ``loopback`` says whether the sim serves this machine only (the test controls then need no
    key). ``GatewaySim`` serves this state over HTTP.
    """

    def __init__(
        self,
        api_key: str,
        credits: float,
        seed: int,
        *,
        clock: Callable[[], float] = time.time,
        controls: SimControls | None = None,
        loopback: bool = True,
    ) -> None:
        self.api_key = api_key
        self.seed = seed
        self.controls = controls or SimControls()
        self.catalog = Catalog(seed)
        self.openrouter_names = dialects.OpenRouterNames(self.catalog)
        self._clock = clock
        self._credits = float(credits)
        self._spent = 0.0
        self._lock = threading.Lock()
        self._faults: list[_Pending] = []
        self._requests: list[RecordedRequest] = []
        self._counter = 0
        self._stopping = threading.Event()
        self.loopback = loopback

    # --- account and test controls -------------------------------------------------------------

    def now(self) -> float:
        """The sim's time in unix seconds: the clock plus ``controls.time_offset_s``."""
        return self._clock() + self.controls.time_offset_s

    def metrics(self, spec: EndpointSpec, moment: float | None = None) -> EndpointMetrics:
        """``spec``'s figures at ``moment`` (default: now), as the controls make them drift."""
        controls = self.controls
        when = self.now() if moment is None else moment
        return self.catalog.metrics(spec, when, controls.metrics_interval_s, controls.drift)

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

    def charge(self, cost: float) -> None:
        """Deduct ``cost`` credits (USD) for a reply, and the ``markup`` control's share on top."""
        billed = cost * (1.0 + self.controls.markup)
        with self._lock:
            self._credits -= billed
            self._spent += billed

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
        """What ``GET /_sim/state`` returns, less the address (``GatewaySim`` adds it)."""
        with self._lock:
            pending = [
                {**item.fault.to_dict(), "remaining": item.remaining} for item in self._faults
            ]
            count = len(self._requests)
            credits = self._credits
        return {
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

    # --- what the request handlers use ----------------------------------------------------------

    def record_request(
        self, path: str, body: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        """Keep a chat request for ``requests`` (its identifying headers only, never the key)."""
        kept = {
            name.lower(): value
            for name, value in (headers or {}).items()
            if name.lower() in RECORDED_HEADERS
        }
        with self._lock:
            self._requests.append(RecordedRequest(path, body, self.now(), kept))

    def take_fault(self, endpoint: str) -> Fault | None:
        """The first queued fault for ``endpoint`` (or for any), counting one use of it."""
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

    def digest(self) -> str:
        """A fresh 8-hex-digit digest, as the backend puts in its 500 details."""
        return hashlib.sha256(f"digest:{self.seed}:{self._next_number()}".encode()).hexdigest()[:8]

    def completion_id(self) -> str:
        """A fresh ``chatcmpl-...`` id for one reply."""
        number = self._next_number()
        return "chatcmpl-" + hashlib.sha256(f"id:{self.seed}:{number}".encode()).hexdigest()[:24]

    def is_stopping(self) -> bool:
        """True once the sim has begun to stop: open replies end."""
        return self._stopping.is_set()

    def wait(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (None: until stop); raises ``Stopped`` if the sim stops meanwhile."""
        if seconds is not None and seconds <= 0:
            if self.is_stopping():
                raise Stopped
            return
        if self._stopping.wait(seconds):
            raise Stopped


def _fault_from_json(value: Any) -> Fault:
    if not isinstance(value, Mapping):
        raise ValueError("a fault must be a JSON object")
    return Fault.from_dict(value)
