"""The account and listing routes of each dialect: balance, models, providers, endpoints, prices
and benchmarks. Each answers one ``Exchange``; routes.py says which path reaches which."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from . import dialects, errors
from .catalog import EndpointMetrics, EndpointSpec
from .exchange import Exchange
from .state import SimState

_USER_ID = "sim-user"


def metrics_now(sim: SimState) -> dialects.MetricsOf:
    """The endpoint figures at the sim's current time (prices and speeds drift)."""

    def metrics(spec: EndpointSpec) -> EndpointMetrics:
        return sim.metrics(spec)

    return metrics


# --- Unify (/v0) ----------------------------------------------------------------------------------


def unify_credits(exchange: Exchange) -> None:
    exchange.send_json(200, {"id": _USER_ID, "credits": exchange.sim.credits})


def unify_models(exchange: Exchange) -> None:
    catalog = exchange.sim.catalog
    provider = exchange.query.get("provider")
    if provider is None:
        exchange.send_json(200, catalog.models)
        return
    models = sorted({spec.model for spec in catalog.specs_for_provider(provider)})
    exchange.send_json(200, models)


def unify_providers(exchange: Exchange) -> None:
    catalog = exchange.sim.catalog
    model = exchange.query.get("model")
    if model is None:
        exchange.send_json(200, catalog.providers)
        return
    exchange.send_json(200, sorted(spec.provider for spec in catalog.specs_for_model(model)))


def unify_endpoints(exchange: Exchange) -> None:
    catalog = exchange.sim.catalog
    model, provider = exchange.query.get("model"), exchange.query.get("provider")
    if model is not None and provider is not None:
        raise errors.SimHTTPError(400, errors.AT_MOST_ONE_OF_MODEL_PROVIDER)
    if model is not None:
        specs = catalog.specs_for_model(model)
    elif provider is not None:
        specs = catalog.specs_for_provider(provider)
    else:
        exchange.send_json(200, catalog.endpoints)
        return
    exchange.send_json(200, sorted(spec.name for spec in specs))


def unify_endpoint_details(exchange: Exchange) -> None:
    sim = exchange.sim
    endpoint = exchange.query.get("endpoint")
    if endpoint is None:
        raise _query_missing("endpoint")
    spec = sim.catalog.spec(endpoint)
    if spec is None:
        raise errors.SimHTTPError(404, f"Endpoint {endpoint} not found.")
    metrics = sim.metrics(spec)
    exchange.send_json(
        200,
        {
            "input_cost": metrics.input_cost,
            "output_cost": metrics.output_cost,
            "context_window": metrics.context_window,
        },
    )


def unify_endpoint_metrics(exchange: Exchange) -> None:
    sim, query = exchange.sim, exchange.query
    model = query.get("model")
    if model is None:
        raise _query_missing("model")
    provider = query.get("provider")
    catalog = sim.catalog
    specs = catalog.specs_for_model(model)
    if provider is not None:
        specs = tuple(spec for spec in specs if spec.provider == provider)
    if not specs:
        name = f"{model}@{provider}" if provider is not None else model
        raise errors.SimHTTPError(404, f"Benchmarks for {name} not found.")
    interval = sim.controls.metrics_interval_s
    times = list(_metric_times(sim.now(), query, interval))
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
        for metrics in (sim.metrics(spec, moment) for moment in times)
    ]
    exchange.send_json(200, rows)


def _metric_times(now: float, query: Mapping[str, str], interval: float) -> Iterator[float]:
    """The latest benchmark only, or one per interval between start_time and end_time."""
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


def _parse_time(text: str) -> float:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _query_missing(name: str) -> errors.SimHTTPError:
    return errors.SimHTTPError(
        422, [{"loc": ["query", name], "msg": "field required", "type": "value_error.missing"}]
    )


# --- OpenRouter (/api/v1) -------------------------------------------------------------------------


def openrouter_models(exchange: Exchange) -> None:
    sim = exchange.sim
    exchange.send_json(200, dialects.openrouter_models(sim.openrouter_names, metrics_now(sim)))


def openrouter_model_endpoints(exchange: Exchange) -> None:
    """``/models/<author>/<slug>/endpoints``; any other path below ``/models/`` is a 404."""
    sim = exchange.sim
    route = exchange.route
    model_id = route.removeprefix("/models/").removesuffix("/endpoints")
    listing = None
    if route.endswith("/endpoints"):
        listing = dialects.openrouter_endpoints(model_id, sim.openrouter_names, metrics_now(sim))
    if listing is None:
        raise errors.SimHTTPError(404, f"Model {model_id} not found")
    exchange.send_json(200, listing)


def openrouter_credits(exchange: Exchange) -> None:
    sim = exchange.sim
    spent = sim.spent
    total = sim.credits + spent
    exchange.send_json(200, {"data": {"total_credits": total, "total_usage": spent}})


# --- plain OpenAI-compatible (/v1) ----------------------------------------------------------------


def openai_models(exchange: Exchange) -> None:
    sim = exchange.sim
    exchange.send_json(200, dialects.openai_models(sim.catalog, int(sim.now())))
