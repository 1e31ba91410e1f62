"""Writing a chat reply: whole (one ``chat.completion``) or streamed (``data:`` events), in the
dialect's shapes, at the served endpoint's speed, with the planned fault applied and the cost
charged to the sim's balance."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import dialects
from .catalog import EndpointMetrics
from .errors import reason_phrase
from .exchange import Exchange
from .faults import DEFAULT_DETAILS, Fault, FaultKind
from .replies import reply_tokens, tokenize
from .state import SimControls, Stopped

_STREAM_BUFFER_BYTES = 64 * 1024

TOOL_CALL: dict[str, Any] = {
    "id": "call_sim0001",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Lisbon"}'},
}


@dataclass
class Plan:
    """What serves one chat request: the request object, the endpoint and a stream fault."""

    request: Mapping[str, Any]
    metrics: EndpointMetrics
    fault: Fault | None
    prompt_tokens: int
    dialect: str = dialects.UNIFY


class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


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


def serve(exchange: Exchange, plan: Plan, started: float) -> None:
    """Answer with the reply ``plan`` describes; ``started`` is when the request arrived
    (``time.monotonic()``), for the whole response's ``openai-processing-ms``."""
    sim = exchange.sim
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
        _stream(exchange, plan, tokens, finish_reason, ttft_s, itl_s, controls)
    else:
        _complete(exchange, plan, tokens, finish_reason, ttft_s, itl_s, started)


def _text_chunk(head: str, first: bool, text: str, finish_reason: str | None) -> str:
    """One ``chat.completion.chunk`` carrying ``text``; ``head`` is its JSON up to "choices"."""
    role = '"role": "assistant", ' if first else ""
    finish = "null" if finish_reason is None else _json(finish_reason)  # per token: no dumps
    return (
        f'{head}"choices": [{{"index": 0, "delta": {{{role}"content": {_json(text)}}}, '
        f'"finish_reason": {finish}, "logprobs": null}}]}}'
    )


def _cost(plan: Plan, completion_tokens: int) -> float:
    metrics = plan.metrics
    return (
        plan.prompt_tokens * metrics.input_cost + completion_tokens * metrics.output_cost
    ) / 1_000_000


def _usage(plan: Plan, completion_tokens: int) -> dict[str, Any]:
    return {
        "cost": _cost(plan, completion_tokens),
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": plan.prompt_tokens + completion_tokens,
    }


def _complete(
    exchange: Exchange,
    plan: Plan,
    tokens: list[str],
    finish_reason: str,
    ttft_s: float,
    itl_s: float,
    started: float,
) -> None:
    sim, fault = exchange.sim, plan.fault
    kind = fault.kind if fault is not None else None
    if fault is not None and kind in (FaultKind.STALL, FaultKind.SLOW_FIRST_TOKEN):
        sim.wait(fault.seconds)
    sim.wait(ttft_s + itl_s * len(tokens))
    if kind is FaultKind.DROP:
        exchange.drop()
        return
    if fault is not None and kind is FaultKind.ERROR_CHUNK:
        exchange.send_json(200, _error_chunk(fault, exchange.dialect))
        return
    if kind is FaultKind.TRUNCATE and fault is not None:
        tokens = tokens[: fault.after_tokens]
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
        message["tool_calls"] = [TOOL_CALL]
    usage = _usage(plan, completion_tokens)
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
        "id": sim.completion_id(),
        "object": "chat.completion",
        "usage": whole_usage,
        "choices": []
        if kind is FaultKind.EMPTY_CHOICES
        else [{"finish_reason": finish_reason, "index": 0, "message": message}],
    }
    if kind is FaultKind.TRUNCATE:
        response["choices"][0]["finish_reason"] = None
        del response["usage"]
    body = json.dumps(response).encode()
    if kind in (FaultKind.MALFORMED_CHUNK, FaultKind.TRUNCATED_CHUNK):
        body = body[: len(body) // 2]
    if plan.dialect != dialects.OPENAI:
        sim.charge(usage["cost"])
    elapsed_ms = int((time.monotonic() - started) * 1000)
    exchange.send(200, body, headers={"openai-processing-ms": str(elapsed_ms)})


def _stream(
    exchange: Exchange,
    plan: Plan,
    tokens: list[str],
    finish_reason: str,
    ttft_s: float,
    itl_s: float,
    controls: SimControls,
) -> None:
    sim, fault = exchange.sim, plan.fault
    kind = fault.kind if fault is not None else None
    if fault is not None and kind is FaultKind.STALL and fault.before_headers:
        sim.wait(fault.seconds)
        fault = None
    framing = controls.stream_framing
    chunked = framing == "chunked"
    exchange.start_stream(content_type=not controls.omit_stream_content_type, framing=framing)

    served = _json(plan.metrics.endpoint)
    wire = dialects.stream_format(
        plan.dialect, plan.request, plan.metrics, int(sim.now()), sim.completion_id()
    )
    # head: a chunk's JSON up to "choices", with the dialect's per-chunk usage
    head = wire.head + wire.chunk_usage
    writer = _EventWriter(exchange.wfile, chunked=chunked, batch=itl_s <= 0)
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
                sim.charge(_cost(plan, completion_tokens))

    next_at = time.monotonic() + ttft_s
    if kind is FaultKind.SLOW_FIRST_TOKEN and fault is not None:
        next_at += fault.seconds or 0.0
    try:
        for index, group in enumerate(groups):
            if fault is not None and index == fire_at:
                if kind in (FaultKind.DROP, FaultKind.TRUNCATED_CHUNK, FaultKind.TRUNCATE):
                    bill(sent)
                outcome = _stream_fault(exchange, fault, writer, head, served)
                if outcome == "end":
                    writer.finish()
                    exchange.close_after()
                    return
                if outcome == "drop":
                    exchange.drop()
                    return
                if kind is FaultKind.HUGE_CHUNK:
                    extra_tokens = len(tokenize(_huge_text(fault.size)))
                if kind is FaultKind.STALL:
                    next_at = max(next_at, time.monotonic())
            delay = next_at - time.monotonic()
            if delay > 0:
                writer.flush()
                sim.wait(delay)
            elif sim.is_stopping():
                raise Stopped
            text = "".join(group)
            if index == len(groups) - 1:
                completion_tokens = sent + len(group) + extra_tokens
                bill(completion_tokens)
                usage_fields = _usage(plan, completion_tokens)
                usage = f'"usage": {_json(usage_fields)}, ' if wire.usage_in_last_chunk else ""
                last_head = wire.head + usage if wire.usage_in_last_chunk else head
                writer.event(_text_chunk(last_head, index == 0, text, finish_reason))
                for data in wire.closing_events(usage_fields):
                    writer.event(data)
            else:
                writer.event(_text_chunk(head, index == 0, text, None))
            sent += len(group)
            next_at += itl_s * len(group)
        writer.finish()
    except (Stopped, OSError):
        # the client went away or the sim is stopping: bill what was generated
        bill(sent + extra_tokens)
        exchange.drop()


def _error_chunk(fault: Fault, dialect: str) -> dict[str, Any]:
    """The ``{"error": ...}`` object an error-chunk fault sends, streamed or whole."""
    status = fault.status or 502
    message = fault.detail if isinstance(fault.detail, str) else None
    if message is None:
        message = (
            dialects.default_message(dialect, status)
            if dialect != dialects.UNIFY
            else DEFAULT_DETAILS.get(status, reason_phrase(status))
        )
    return {"error": {"code": status, "message": message}}


def _stream_fault(
    exchange: Exchange, fault: Fault, writer: _EventWriter, head: str, served: str
) -> str:
    """Apply a mid-stream fault; returns "go" (carry on), "end" or "drop"."""
    kind = fault.kind
    if kind is FaultKind.DROP:
        writer.flush()
        return "drop"
    if kind is FaultKind.TRUNCATE:
        if fault.done:
            writer.event("[DONE]")
        return "end"
    if kind is FaultKind.TRUNCATED_CHUNK:
        half = f'{head}"choices": [{{"index": 0, "delta": {{"content": "'
        writer.raw(b"data: " + half.encode())
        return "end"
    if kind is FaultKind.ERROR_CHUNK:
        writer.event(_json(_error_chunk(fault, exchange.dialect)))
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
            f'"content": null, "tool_calls": [{_json(TOOL_CALL | {"index": 0})}]}}, '
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
            exchange.sim.wait(fault.seconds)
    return "go"
