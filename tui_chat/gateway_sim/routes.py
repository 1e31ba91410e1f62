"""Which path reaches which answer: one table per dialect, and the test controls (``/_sim``).

A route names its method, the function that answers it and the key check that comes first.
The chat routes check the key themselves, after recording the request, so that a test sees
every chat request the sim received, even one it then refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import chat, dialects, errors, listings
from .exchange import Exchange

Answer = Callable[[Exchange], None]


@dataclass(frozen=True)
class Route:
    """``answer`` serves ``method`` at a path; ``check`` (a key check) runs first when given.

    ``wrong_method`` is the status for any other method: 405 from the Unify API and for the
    dialects' chat, 404 from the dialects' listings (as those servers do).
    """

    method: str
    answer: Answer
    check: Answer | None = None
    wrong_method: int = 405


# --- the test controls ------------------------------------------------------------------------


def sim_state(exchange: Exchange) -> None:
    exchange.send_json(200, exchange.sim.state())


def sim_requests(exchange: Exchange) -> None:
    exchange.send_json(
        200,
        [
            {"path": item.path, "time": item.time, "body": item.body}
            for item in exchange.sim.requests
        ],
    )


def sim_control(exchange: Exchange) -> None:
    try:
        values = json.loads(exchange.body or b"{}")
        if not isinstance(values, dict):
            raise ValueError("the body must be a JSON object")
        exchange.sim.apply_control(values)
    except ValueError as error:
        raise errors.SimHTTPError(400, str(error)) from None
    exchange.send_json(200, exchange.sim.state())


# --- the tables -----------------------------------------------------------------------------------

_UNIFY_KEY = Exchange.check_unify_key
_DIALECT_KEY = Exchange.check_dialect_key

UNIFY_ROUTES: Mapping[str, Route] = {
    "/v0/chat/completions": Route("POST", chat.unify_chat),
    "/v0/credits": Route("GET", listings.unify_credits, _UNIFY_KEY),
    "/v0/models": Route("GET", listings.unify_models, _UNIFY_KEY),
    "/v0/providers": Route("GET", listings.unify_providers, _UNIFY_KEY),
    "/v0/endpoints": Route("GET", listings.unify_endpoints, _UNIFY_KEY),
    "/v0/endpoint-details": Route("GET", listings.unify_endpoint_details, _UNIFY_KEY),
    "/v0/endpoint-metrics": Route("GET", listings.unify_endpoint_metrics, _UNIFY_KEY),
    "/_sim/state": Route("GET", sim_state, Exchange.check_key_beyond_loopback),
    "/_sim/requests": Route("GET", sim_requests, Exchange.check_key_beyond_loopback),
    "/_sim/control": Route("POST", sim_control, Exchange.check_key_beyond_loopback),
}

#: Paths within ``/api/v1``. A key ending in "/" matches every path below it.
OPENROUTER_ROUTES: Mapping[str, Route] = {
    "/chat/completions": Route("POST", chat.dialect_chat),
    # OpenRouter's model list is public: no key needed
    "/models": Route("GET", listings.openrouter_models, wrong_method=404),
    "/models/": Route("GET", listings.openrouter_model_endpoints, wrong_method=404),
    "/credits": Route("GET", listings.openrouter_credits, _DIALECT_KEY, wrong_method=404),
}

#: Paths within ``/v1``.
OPENAI_ROUTES: Mapping[str, Route] = {
    "/chat/completions": Route("POST", chat.dialect_chat),
    "/models": Route("GET", listings.openai_models, _DIALECT_KEY, wrong_method=404),
}

ROUTES: Mapping[str, Mapping[str, Route]] = {
    dialects.UNIFY: UNIFY_ROUTES,
    dialects.OPENROUTER: OPENROUTER_ROUTES,
    dialects.OPENAI: OPENAI_ROUTES,
}


def find_route(dialect: str, route: str) -> Route | None:
    """The route serving ``route`` (a path within the dialect's API), or None."""
    table = ROUTES[dialect]
    found = table.get(route)
    if found is not None:
        return found
    for prefix, candidate in table.items():
        if prefix.endswith("/") and route.startswith(prefix):
            return candidate
    return None


def answer(exchange: Exchange) -> None:
    """Answer ``exchange`` by its route; raises ``SimHTTPError`` for a refusal."""
    route = find_route(exchange.dialect, exchange.route)
    if route is None:
        raise errors.SimHTTPError(404, errors.NOT_FOUND)
    if exchange.method != route.method:
        detail = errors.METHOD_NOT_ALLOWED if route.wrong_method == 405 else errors.NOT_FOUND
        raise errors.SimHTTPError(route.wrong_method, detail)
    if route.check is not None:
        route.check(exchange)
    route.answer(exchange)
