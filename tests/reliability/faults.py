"""The fault matrix shared by the gateway-level and the app-level reliability tests.

Each ``Case`` is one fault from issue 5, injected into the embedded gateway, either before the
first token or mid-stream, with what the user must end up with: the error class (or none: the
reply completes), the HTTP status, a piece of the gateway's ``detail``, and whether part of the
reply arrived before the failure.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tui_chat.gateway_sim import Fault
from tui_chat.gateways.errors import (
    AuthenticationError,
    BadRequestError,
    GatewayError,
    InsufficientCreditsError,
    MalformedResponse,
    NoAnswer,
    NotFoundError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)

MID = 5  # tokens sent before a mid-stream fault fires
READ_TIMEOUT_S = 2.0  # the client's read timeout in the stall cases
SLOW_MACHINE_TIMEOUT_S = 15.0  # the read timeout everywhere else: never hit, even under load


@dataclass(frozen=True)
class Case:
    id: str
    fault: Fault
    error: type[GatewayError] | None  # None: the reply completes normally
    status: int | None = None
    detail: str = ""  # a piece of the detail the user must see
    partial: bool = False  # text arrived before the failure
    title: str = ""  # a piece of the error card's title (plain words)

    @property
    def read_timeout_s(self) -> float:
        """Short where the case is a stall (the timeout is the point), generous elsewhere."""
        return READ_TIMEOUT_S if self.fault.kind == "stall" else SLOW_MACHINE_TIMEOUT_S


def _status(code: int, error: type[GatewayError], detail: str, title: str) -> Case:
    return Case(
        f"http-{code}",
        Fault("status", status=code, detail=f"{detail} (sim {code})"),
        error,
        code,
        f"{detail} (sim {code})",
        title=title,
    )


CASES: list[Case] = [
    _status(400, BadRequestError, "The provider rejected the request", "rejected the request"),
    _status(401, AuthenticationError, "Invalid API key", "refused the API key"),
    _status(402, InsufficientCreditsError, "Not enough credits", "Out of credits"),
    _status(403, AuthenticationError, "Account suspended", "refused the API key"),
    _status(404, NotFoundError, "Model not found at provider", "No endpoint matched"),
    Case(
        "http-422",
        Fault("status", status=422),
        BadRequestError,
        422,
        "field required",
        title="rejected the request",
    ),
    _status(429, RateLimitError, "Rate limit reached", "Rate limited"),
    Case(
        "http-429-retry-after",
        Fault("status", status=429, retry_after=120),
        RateLimitError,
        429,
        "Rate limit",
        title="Rate limited",
    ),
    _status(500, ServerError, "Internal error", "server error"),
    _status(502, ServerError, "Bad gateway", "server error"),
    _status(503, ServerError, "Overloaded", "server error"),
    Case(
        "non-json-error-body",
        Fault("non_json_error"),
        ServerError,
        500,
        "Internal Server Error",
        title="server error",
    ),
    Case(
        "html-error-page",
        Fault("html_error"),
        ServerError,
        502,
        "web page: 502 Bad Gateway",
        title="server error",
    ),
    Case("drop-before-first-token", Fault("drop"), StreamInterrupted, title="cut off"),
    Case(
        "drop-mid-stream",
        Fault("drop", after_tokens=MID),
        StreamInterrupted,
        detail="after 16 characters",
        partial=True,
        title="cut off",
    ),
    Case(
        "malformed-chunk-first",
        Fault("malformed_chunk"),
        MalformedResponse,
        detail="not valid JSON",
        title="unreadable",
    ),
    Case(
        "malformed-chunk-mid",
        Fault("malformed_chunk", after_tokens=MID),
        MalformedResponse,
        detail="not valid JSON",
        partial=True,
        title="unreadable",
    ),
    Case(
        "truncated-chunk-first",
        Fault("truncated_chunk"),
        MalformedResponse,
        detail="ended in the middle of a message",
        title="unreadable",
    ),
    Case(
        "truncated-chunk-mid",
        Fault("truncated_chunk", after_tokens=MID),
        MalformedResponse,
        detail="ended in the middle of a message",
        partial=True,
        title="unreadable",
    ),
    Case(
        "stall-before-headers",
        Fault("stall", before_headers=True, seconds=4 * READ_TIMEOUT_S),
        NoAnswer,
        detail="no answer from",
        title="did not answer",
    ),
    Case(
        "stall-before-first-token",
        Fault("stall", seconds=4 * READ_TIMEOUT_S),
        StreamInterrupted,
        detail="no data arrived",
        title="cut off",
    ),
    Case(
        "stall-mid-stream",
        Fault("stall", after_tokens=MID, seconds=4 * READ_TIMEOUT_S),
        StreamInterrupted,
        detail=f"no data arrived for {READ_TIMEOUT_S:g} s after 16 characters",
        partial=True,
        title="cut off",
    ),
    Case("empty-choices-first", Fault("empty_choices"), None),
    Case("empty-choices-mid", Fault("empty_choices", after_tokens=MID), None),
    Case("tool-calls-first", Fault("tool_calls"), None),
    Case("tool-calls-mid", Fault("tool_calls", after_tokens=MID), None),
    Case("huge-chunk-first", Fault("huge_chunk", size=300_000), None),
    Case("huge-chunk-mid", Fault("huge_chunk", after_tokens=MID, size=300_000), None),
]

PARAMS = [pytest.param(case, id=case.id) for case in CASES]
