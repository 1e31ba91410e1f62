"""Faults to inject into the next chat request(s): HTTP errors, broken streams, stalls.

``sim.inject(Fault(kind, ...))`` queues a fault. Each time the sim is about to serve a concrete
endpoint (one attempt; a fallback chain makes several), it takes the first queued fault whose
``endpoint`` is None or equals that endpoint; ``times`` says for how many attempts the fault
lasts (None: until cleared). A request rejected before it reaches an endpoint (bad key, no
credits, malformed model string) does not consume a fault.

Kinds and their parameters (``after_tokens`` counts content tokens already sent; a value at or
past the end of the reply fires just before the final chunk):

``status``           HTTP error ``status`` (required) with a Unify-style ``{"detail": ...}`` body;
                     ``detail`` overrides the default text; ``retry_after`` (seconds) adds a
                     ``Retry-After`` header (useful with 429/503). 422 gets pydantic's list shape.
                     A fallback chain moves on after 400/403/404/429/>=500, not after 401/402.
``non_json_error``   ``status`` (default 500) with a plain-text body that is not JSON.
``html_error``       ``status`` (default 502) with an HTML error page, as a proxy would send.
``drop``             streams ``after_tokens`` tokens, then closes the socket abruptly (no final
                     chunk, no chunked-encoding terminator; a close-delimited stream, see the
                     ``framing`` control, seems to end there). Not streamed: closes without any
                     response.
``malformed_chunk``  after ``after_tokens`` tokens, one event whose data is not valid JSON, then
                     the stream goes on normally. Not streamed: a 200 whose body is cut JSON.
``truncated_chunk``  after ``after_tokens`` tokens, half of a chunk's JSON without the blank line
                     that ends the event, then the response ends cleanly (EOF, valid framing).
                     Not streamed: a 200 whose body is cut JSON.
``truncate``         streams ``after_tokens`` tokens (chunks with ``finish_reason: null``), then
                     ends the response cleanly: no chunk with a finish reason, no usage chunk,
                     and ``data: [DONE]`` only with ``done=True``. The framing is kept (chunked:
                     the terminating 0-chunk; close-delimited: the socket closes), so only the
                     missing finish reason tells the reply was cut, as with llmock's
                     ``truncate`` or a proxy that stops relaying. Not streamed: a 200 whose
                     message holds the first ``after_tokens`` tokens, ``finish_reason: null``
                     and no ``usage``.
``empty_choices``    after ``after_tokens`` tokens, one chunk with ``"choices": []``, then goes on.
                     Not streamed: the response has ``choices: []``.
``tool_calls``       after ``after_tokens`` tokens, one chunk whose delta has ``content: null``
                     and a ``tool_calls`` list, then goes on. Not streamed: the message carries
                     ``tool_calls`` too.
``huge_chunk``       after ``after_tokens`` tokens, one chunk whose content is ``size`` characters
                     (default 1,000,000) of plain text in lines; it counts toward usage.
``stall``            after ``after_tokens`` tokens (headers already sent), sends nothing for
                     ``seconds`` (None: until ``stop()``), then goes on; ``before_headers=True``
                     stalls before the status line instead. Not streamed: before the response.
``slow_first_token`` the first token comes ``seconds`` (default 2.0) later than it would.
``error_chunk``      after ``after_tokens`` tokens, one event ``{"error": {"code": status (502),
                     "message": detail}}`` (a provider failing mid-reply, as OpenRouter reports
                     it), then the stream ends. Not streamed: a 200 whose body is that object.

Every kind works in every dialect (Unify ``/v0``, OpenRouter ``/api/v1``, OpenAI ``/v1``); the
default error texts follow the dialect. ``endpoint`` always names the catalog's ``model@provider``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    STATUS = "status"
    NON_JSON_ERROR = "non_json_error"
    HTML_ERROR = "html_error"
    DROP = "drop"
    MALFORMED_CHUNK = "malformed_chunk"
    TRUNCATED_CHUNK = "truncated_chunk"
    TRUNCATE = "truncate"
    EMPTY_CHOICES = "empty_choices"
    TOOL_CALLS = "tool_calls"
    HUGE_CHUNK = "huge_chunk"
    STALL = "stall"
    SLOW_FIRST_TOKEN = "slow_first_token"
    ERROR_CHUNK = "error_chunk"


#: Kinds that answer with an HTTP error instead of a reply.
ERROR_KINDS = frozenset({FaultKind.STATUS, FaultKind.NON_JSON_ERROR, FaultKind.HTML_ERROR})


@dataclass(frozen=True)
class Fault:
    """One fault; see the module docstring for what each kind does with each parameter."""

    kind: FaultKind | str  # a FaultKind after construction; its value is accepted too
    status: int | None = None
    detail: Any = None  # str, or a list for a 422 body
    retry_after: float | None = None  # seconds
    after_tokens: int = 0
    seconds: float | None = None
    size: int = 1_000_000  # characters, for huge_chunk
    before_headers: bool = False
    endpoint: str | None = None  # only attempts at this concrete model@provider
    times: int | None = 1  # attempts it lasts; None: until cleared
    done: bool = False  # truncate: end with ``data: [DONE]``

    def __post_init__(self) -> None:
        try:
            kind = FaultKind(self.kind)
        except ValueError:
            known = ", ".join(kind.value for kind in FaultKind)
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {known}") from None
        object.__setattr__(self, "kind", kind)
        status = self.status
        if kind is FaultKind.STATUS and status is None:
            raise ValueError("a 'status' fault needs status=<HTTP status>")
        if kind is FaultKind.NON_JSON_ERROR and status is None:
            status = 500
        if kind is FaultKind.HTML_ERROR and status is None:
            status = 502
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"fault status must be 4xx or 5xx, not {status}")
        object.__setattr__(self, "status", status)
        if kind is FaultKind.SLOW_FIRST_TOKEN and self.seconds is None:
            object.__setattr__(self, "seconds", 2.0)
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for every request)")
        if not isinstance(self.done, bool):
            raise ValueError("done must be true or false")
        if self.after_tokens < 0 or self.size < 1:
            raise ValueError("after_tokens must be >= 0 and size >= 1")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """A fault from its JSON form (as sent to ``POST /_sim/control``)."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s) {unknown}; known: {sorted(known)}")
        if "kind" not in data:
            raise ValueError("a fault needs a 'kind'")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = FaultKind(self.kind).value
        return data


DEFAULT_DETAILS: dict[int, str] = {
    400: "litellm.BadRequestError: The provider rejected the request.",
    403: (
        "Your account has been suspended. Please reach out to hello@unify.ai if you have any "
        "questions."
    ),
    404: "litellm.NotFoundError: The model was not found at the provider.",
    408: "litellm.Timeout: The provider took too long to respond.",
    409: "Conflict.",
    429: "litellm.RateLimitError: Rate limit reached for this endpoint. Please try again later.",
    502: "litellm.APIConnectionError: Bad gateway between Unify and the provider.",
    503: "litellm.ServiceUnavailableError: The provider is temporarily overloaded.",
    504: "litellm.Timeout: The provider did not answer in time.",
}

HTML_ERROR_PAGE = """<!DOCTYPE html>
<html>
<head><title>{status} {phrase}</title></head>
<body>
<center><h1>{status} {phrase}</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""
