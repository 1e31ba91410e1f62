"""Model strings as Unify reads them: concrete endpoints, routing modes, thresholds, fallbacks.

``expand_fallbacks`` turns ``a->b@p1->c@p2->p3`` into the candidates to try in order;
``resolve`` turns one candidate into the ranked concrete endpoints that may serve it (one for a
concrete endpoint or a routed model, up to five for ``router@...``).

Accepted routing specs (the part after ``@`` when it is not a provider name):

* the seed's modes: ``lowest-input-cost``, ``lowest-output-cost``, ``lowest-itl``,
  ``lowest-ttft``, ``highest-tks-per-sec`` and their aliases (``ic``, ``oc``, ``itl``, ``ttft``,
  ``tks-per-sec``, ``ots``, ``output-tks-per-sec``, ``...-per-token``), with the old ``<``
  thresholds: ``lowest-itl<0.5input-cost``, ``ttft<0.5ic<15itl``. An old ``<X tks-per-sec``
  threshold is inverted (the backend compares ``itl < 1/x``), so it means "faster than X tok/s".
* the later metrics: ``quality|q``, ``ttft|time-to-first-token|t``,
  ``itl|inter-token-latency|i``, ``cost|c``, ``input-cost|ic``, ``output-cost|oc``, each with an
  optional ``lowest-``/``highest-`` prefix, ``|``-separated thresholds with ``< > <= >=``
  (``itl>1|itl<20``), search-space filters ``models:``, ``providers:``, ``skip_models:``,
  ``skip_providers:`` and objective factors ``q:1|i:0.5|t:2|c:0.7``.

Units: costs in $/M tokens, ttft/itl in ms, quality 0..1, tks-per-sec in tokens/s. Quality routing
across the providers of one model is ignored (all providers serve the same weights), so it picks
the cheapest. Endpoints whose context window is not larger than the prompt's estimated tokens are
left out of routing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..core.endpoint import METRIC_ALIASES  # the client's table: one list of metric names
from . import errors
from .catalog import PROVIDERS, Catalog, EndpointMetrics, EndpointSpec

MAX_FALLBACKS = 5
MAX_ROUTER_CANDIDATES = 5

#: Metrics where more is better when no ``lowest-``/``highest-`` prefix is given.
_HIGHER_IS_BETTER = frozenset({"quality", "tks-per-sec"})
_SEARCH_SPACE_KEYS = ("models", "providers", "skip_models", "skip_providers")

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"
_NEW_THRESHOLD = re.compile(rf"^([a-z][a-z-]*)(<=|>=|<|>)({_NUMBER})$")
_OLD_MODE = re.compile(rf"^([a-z][a-z-]*)((?:<{_NUMBER}[a-z][a-z-]*)+)$")
_OLD_THRESHOLD = re.compile(rf"<({_NUMBER})([a-z][a-z-]*)")
_FACTOR = re.compile(rf"^([a-z][a-z-]*):({_NUMBER})$")
_SEARCH_SPACE = re.compile(r"^([a-z_]+):(.+)$")


@dataclass(frozen=True)
class Threshold:
    metric: str  # canonical metric name
    op: str  # one of < > <= >=
    value: float

    def admits(self, metrics: EndpointMetrics) -> bool:
        actual = metrics.value(self.metric)
        if self.op == "<":
            return actual < self.value
        if self.op == ">":
            return actual > self.value
        if self.op == "<=":
            return actual <= self.value
        return actual >= self.value


@dataclass
class RoutingSpec:
    """A parsed routing spec: what to optimise and which endpoints may take part."""

    metric: str | None = None
    highest: bool = False
    thresholds: list[Threshold] = field(default_factory=list)
    factors: dict[str, float] = field(default_factory=dict)
    models: set[str] | None = None
    providers: set[str] | None = None
    skip_models: set[str] = field(default_factory=set)
    skip_providers: set[str] = field(default_factory=set)

    def admits(self, spec: EndpointSpec) -> bool:
        if self.models is not None and spec.model not in self.models:
            return False
        if self.providers is not None and spec.provider not in self.providers:
            return False
        return spec.model not in self.skip_models and spec.provider not in self.skip_providers


def _invalid_model() -> errors.SimHTTPError:
    return errors.SimHTTPError(400, errors.INVALID_MODEL)


def _invalid_provider() -> errors.SimHTTPError:
    return errors.SimHTTPError(400, errors.INVALID_PROVIDER)


def expand_fallbacks(model_field: str) -> list[str]:
    """The candidates of a ``->`` chain in order, at most five.

    A bare segment before any ``model@provider`` segment is a model waiting for the next
    provider; a bare segment after one is a provider for the last model. Raises a 400 with the
    "Invalid model" text if a bare model never gets a provider or a segment is empty.
    """
    if "->" not in model_field:
        return [model_field]
    candidates: list[str] = []
    waiting_models: list[str] = []
    last_model: str | None = None
    for segment in model_field.split("->"):
        if not segment:
            raise _invalid_model()
        if "@" in segment:
            model, _, provider = segment.partition("@")
            if not model or not provider:
                raise _invalid_model()
            candidates.extend(f"{waiting}@{provider}" for waiting in waiting_models)
            waiting_models = []
            candidates.append(segment)
            last_model = model
        elif last_model is None:
            waiting_models.append(segment)
        else:
            candidates.append(f"{last_model}@{segment}")
    if waiting_models:
        raise _invalid_model()
    return candidates[:MAX_FALLBACKS]


def _metric_with_direction(token: str) -> tuple[str, bool] | None:
    """``lowest-itl`` -> ("itl", False); ``highest-tks-per-sec`` -> ("tks-per-sec", True)."""
    for prefix, highest in (("lowest-", False), ("highest-", True)):
        if token.startswith(prefix) and token[len(prefix) :] in METRIC_ALIASES:
            return METRIC_ALIASES[token[len(prefix) :]], highest
    if token in METRIC_ALIASES:
        metric = METRIC_ALIASES[token]
        return metric, metric in _HIGHER_IS_BETTER
    return None


def _names(text: str) -> set[str]:
    names = {name.strip() for name in text.split(",")}
    if "" in names:
        raise _invalid_provider()
    return names


def parse_routing_spec(text: str) -> RoutingSpec:
    """Parse the part after ``@`` as a routing spec; raises the 400 "Invalid provider" error."""
    if not text:
        raise _invalid_provider()
    routing = RoutingSpec()
    for part in text.split("|"):
        if not part:
            raise _invalid_provider()
        if match := _NEW_THRESHOLD.match(part):
            metric = METRIC_ALIASES.get(match.group(1))
            if metric is None:
                raise _invalid_provider()
            routing.thresholds.append(Threshold(metric, match.group(2), float(match.group(3))))
            continue
        if (match := _SEARCH_SPACE.match(part)) and match.group(1) in _SEARCH_SPACE_KEYS:
            names = _names(match.group(2))
            key = match.group(1)
            if key in ("providers", "skip_providers") and not names <= set(PROVIDERS):
                raise _invalid_provider()
            if key == "models":
                routing.models = names
            elif key == "providers":
                routing.providers = names
            elif key == "skip_models":
                routing.skip_models |= names
            else:
                routing.skip_providers |= names
            continue
        if match := _FACTOR.match(part):
            metric = METRIC_ALIASES.get(match.group(1))
            if metric is None:
                raise _invalid_provider()
            routing.factors[metric] = routing.factors.get(metric, 0.0) + float(match.group(2))
            continue
        mode = part
        if match := _OLD_MODE.match(part):
            mode = match.group(1)
            for number, name in _OLD_THRESHOLD.findall(match.group(2)):
                metric = METRIC_ALIASES.get(name)
                if metric is None:
                    raise _invalid_provider()
                if metric == "tks-per-sec":
                    # the old backend inverted it: itl < 1/x, i.e. faster than x tokens/s
                    routing.thresholds.append(Threshold(metric, ">", float(number)))
                else:
                    routing.thresholds.append(Threshold(metric, "<", float(number)))
        direction = _metric_with_direction(mode)
        if direction is None or routing.metric is not None:
            raise _invalid_provider()
        routing.metric, routing.highest = direction
    if routing.factors and routing.metric is not None:
        # the backend refuses a meta-provider (lowest-..., highest-...) combined with factors
        raise _invalid_provider()
    return routing


def _objective(routing: RoutingSpec, metrics: EndpointMetrics) -> float:
    """q_f*q - i_f*i - t_f*t - c_f*c (and so on): higher is better."""
    score = 0.0
    for metric, factor in routing.factors.items():
        sign = 1.0 if metric in _HIGHER_IS_BETTER else -1.0
        score += sign * factor * metrics.value(metric)
    return score


def _rank(
    routing: RoutingSpec, candidates: Sequence[EndpointMetrics], across_models: bool
) -> list[EndpointMetrics]:
    def key(metrics: EndpointMetrics) -> tuple[float, float, str]:
        if routing.factors:
            primary = -_objective(routing, metrics)
        else:
            metric = routing.metric or "quality"
            if metric == "quality" and not across_models:
                primary = 0.0  # one model's providers share its quality: cheapest wins
            else:
                value = metrics.value(metric)
                primary = -value if (routing.highest or routing.metric is None) else value
        return (primary, metrics.cost, metrics.endpoint)

    return sorted(candidates, key=key)


def context_window_error(metrics: EndpointMetrics, prompt_tokens: int) -> errors.SimHTTPError:
    return errors.SimHTTPError(
        400,
        "litellm.ContextWindowExceededError: This model's maximum context length is "
        f"{metrics.context_window} tokens. However, your messages resulted in "
        f"{prompt_tokens} tokens. Please reduce the length of the messages.",
    )


def resolve(
    candidate: str,
    catalog: Catalog,
    *,
    now: float,
    interval_s: float,
    drift: str = "jitter",
    prompt_tokens: int,
    digest: Callable[[], str],
) -> list[EndpointMetrics]:
    """The concrete endpoints that may serve ``candidate``, best first.

    Raises ``SimHTTPError``: 400 for a malformed string or an unknown provider or metric, 404
    when no endpoint passes the thresholds, 500 with a digest for a model unknown at a provider,
    400 when the prompt does not fit a concrete endpoint's context window.
    """
    model, at, provider = candidate.partition("@")
    if not at or not model or not provider or "@" in provider:
        raise _invalid_model()
    if provider in PROVIDERS:
        spec = catalog.spec(candidate)
        if spec is None:
            raise errors.SimHTTPError(500, errors.internal_error(digest()))
        metrics = catalog.metrics(spec, now, interval_s, drift)
        if prompt_tokens >= metrics.context_window:
            raise context_window_error(metrics, prompt_tokens)
        return [metrics]
    routing = parse_routing_spec(provider)
    across_models = model == "router"
    pool = catalog.specs() if across_models else catalog.specs_for_model(model)
    if not across_models and not pool:
        # no benchmark data for an unknown model: the backend fails with a generic 500
        raise errors.SimHTTPError(500, errors.internal_error(digest()))
    admitted = [
        metrics
        for metrics in (
            catalog.metrics(spec, now, interval_s, drift) for spec in pool if routing.admits(spec)
        )
        if metrics.context_window > prompt_tokens
        and all(threshold.admits(metrics) for threshold in routing.thresholds)
    ]
    if not admitted:
        raise errors.SimHTTPError(404, errors.NO_PROVIDERS_WITHIN_THRESHOLDS)
    ranked = _rank(routing, admitted, across_models)
    return ranked[:MAX_ROUTER_CANDIDATES] if across_models else ranked[:1]
