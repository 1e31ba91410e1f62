"""The chat routes of each dialect: read and check the request, pick the endpoint that serves it
(walking fallbacks, taking queued faults), then hand it to completions.py."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from . import dialects, errors
from .completions import Plan, serve
from .exchange import Exchange
from .faults import DEFAULT_DETAILS, ERROR_KINDS, HTML_ERROR_PAGE, Fault, FaultKind
from .listings import metrics_now
from .replies import estimate_prompt_tokens
from .routing import MAX_FALLBACKS, expand_fallbacks, resolve
from .state import SimState


def unify_chat(exchange: Exchange) -> None:
    """``POST /v0/chat/completions``: one request object, or an array of fallback objects."""
    sim, path, raw = exchange.sim, exchange.path, exchange.body
    started = time.monotonic()
    try:
        body = json.loads(raw)
    except ValueError as error:
        sim.record_request(path, None, dict(exchange.headers.items()))
        exchange.check_unify_key()
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
    sim.record_request(path, body, dict(exchange.headers.items()))
    exchange.check_unify_key()
    items = _validate_chat_body(body)
    if sim.credits <= 0:
        raise errors.SimHTTPError(402, errors.NO_CREDITS)
    last_error: errors.SimHTTPError | None = None
    for item in items:
        try:
            plan = _unify_plan(sim, item)
        except errors.SimHTTPError as error:
            last_error = error
            if not errors.is_retryable(error.status):
                break
            continue
        serve(exchange, plan, started)
        return
    assert last_error is not None
    raise last_error


def _unify_plan(sim: SimState, request: Mapping[str, Any]) -> Plan:
    """The endpoint for one request object, walking its fallbacks; raises the last error."""
    prompt_tokens = estimate_prompt_tokens(request["messages"])
    last_error: errors.SimHTTPError | None = None
    for candidate in expand_fallbacks(request["model"]):
        try:
            ranked = resolve(
                candidate,
                sim.catalog,
                now=sim.now(),
                interval_s=sim.controls.metrics_interval_s,
                drift=sim.controls.drift,
                prompt_tokens=prompt_tokens,
                digest=sim.digest,
            )
        except errors.SimHTTPError as error:
            if not errors.is_retryable(error.status):
                raise
            last_error = error
            continue
        for metrics in ranked:
            fault = sim.take_fault(metrics.endpoint)
            if fault is not None and fault.kind in ERROR_KINDS:
                fault_error = _fault_error(fault)
                if not errors.is_retryable(fault_error.status):
                    raise fault_error
                last_error = fault_error
                continue
            return Plan(request, metrics, fault, prompt_tokens)
    assert last_error is not None
    raise last_error


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


def dialect_chat(exchange: Exchange) -> None:
    """``POST /chat/completions`` of OpenRouter or a plain OpenAI-compatible server."""
    started = time.monotonic()
    sim, dialect, path, raw = exchange.sim, exchange.dialect, exchange.path, exchange.body
    try:
        body = json.loads(raw)
    except ValueError as error:
        sim.record_request(path, None, dict(exchange.headers.items()))
        exchange.check_dialect_key()
        raise errors.SimHTTPError(400, f"Invalid JSON in the request body: {error}") from None
    sim.record_request(path, body, dict(exchange.headers.items()))
    exchange.check_dialect_key()
    request = dialects.validate_body(body)
    if dialect == dialects.OPENROUTER and sim.credits <= 0:
        raise errors.SimHTTPError(402, dialects.default_message(dialect, 402))
    prompt_tokens = estimate_prompt_tokens(request["messages"])
    if dialect == dialects.OPENROUTER:
        ranked = dialects.openrouter_candidates(
            request, sim.openrouter_names, metrics_now(sim), prompt_tokens
        )
    else:
        ranked = dialects.openai_candidates(request, sim.catalog, metrics_now(sim))
    last_error: errors.SimHTTPError | None = None
    for metrics in ranked:
        fault = sim.take_fault(metrics.endpoint)
        if fault is not None and fault.kind in ERROR_KINDS:
            fault_error = _fault_error(fault, dialect)
            # OpenRouter moves on to the next provider; a plain server has no other
            if dialect == dialects.OPENAI or not errors.is_retryable(fault_error.status):
                raise fault_error
            last_error = fault_error
            continue
        serve(exchange, Plan(request, metrics, fault, prompt_tokens, dialect), started)
        return
    assert last_error is not None
    raise last_error


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
        phrase = errors.reason_phrase(status)
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
            detail = DEFAULT_DETAILS.get(status, errors.reason_phrase(status))
    return errors.SimHTTPError(status, detail, headers=headers)
