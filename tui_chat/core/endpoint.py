"""Endpoint strings: ``<model>@<provider>``, routing modes, the router, and ``->`` fallbacks.

What is accepted (the Unify API's model strings):

- ``llama-2-70b-chat@anyscale``: a concrete endpoint. The legacy ``<uploaded_by>/`` prefix of
  April 2024 (``john_doe/llama-2-70b-chat@anyscale``) is accepted and removed.
- A routing mode in place of the provider. The seed's modes (``highest-tks-per-sec``,
  ``lowest-input-cost``, ``lowest-output-cost``, ``lowest-ttft``, ``lowest-itl``) and their
  aliases, with the old ``<`` thresholds (``lowest-itl<0.5input-cost``); and the later metric
  names (``quality|q``, ``ttft|t``, ``itl|i``, ``cost|c``, ``input-cost|ic``, ``output-cost|oc``)
  with an optional ``lowest-``/``highest-`` prefix, ``|``-separated thresholds with
  ``< > <= >=`` and search-space filters (``providers:a,b``, ``skip_providers:…``,
  ``models:…``, ``skip_models:…``, ``endpoints:…``, ``skip_endpoints:…``).
- ``router@…`` (and custom ``router_<name>@…``), including objective factors ``q:1|c:0.5``.
- Fallback chains joined by ``->``: ``a->b@p1->c@p2->p3`` means ``a@p1, b@p1, c@p2, c@p3``.

The parser checks syntax only; whether a provider serves a model is the gateway's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

EXAMPLE_ENDPOINT = "llama-2-70b-chat@anyscale"
EXPECTED_FORMAT = f"Expected <model>@<provider>, e.g. {EXAMPLE_ENDPOINT}"

SEED_ROUTING_MODES: tuple[str, ...] = (
    "highest-tks-per-sec",
    "lowest-input-cost",
    "lowest-output-cost",
    "lowest-ttft",
    "lowest-itl",
)
MY_ROUTING_MODES: tuple[str, ...] = ("my-fastest", "my-quickest-start", "my-cheapest")
"""Presets resolved on the client from the user's own replies (``core.my_routing``) to a
concrete ``model@provider`` before sending; never sent to a gateway as they are."""
ROUTING_MODES: tuple[str, ...] = (
    *SEED_ROUTING_MODES,
    "lowest-cost",
    "highest-quality",
    *MY_ROUTING_MODES,
)

# alias -> canonical metric. The seed-era names and the later Router names together (the
# embedded gateway's routing reads the same table).
METRIC_ALIASES: dict[str, str] = {
    "quality": "quality",
    "q": "quality",
    "ttft": "ttft",
    "time-to-first-token": "ttft",
    "t": "ttft",
    "itl": "itl",
    "inter-token-latency": "itl",
    "i": "itl",
    "cost": "cost",
    "c": "cost",
    "input-cost": "input-cost",
    "input-cost-per-token": "input-cost",
    "ic": "input-cost",
    "output-cost": "output-cost",
    "output-cost-per-token": "output-cost",
    "oc": "output-cost",
    "tks-per-sec": "tks-per-sec",
    "output-tks-per-sec": "tks-per-sec",
    "ots": "tks-per-sec",
}
_SEARCH_KEYS = (
    "models",
    "providers",
    "skip_models",
    "skip_providers",
    "endpoints",
    "skip_endpoints",
)

# Longest alias first so that "input-cost" wins over "i" inside the old "<0.5input-cost" syntax.
_ALIAS = "|".join(re.escape(a) for a in sorted(METRIC_ALIASES, key=len, reverse=True))
_NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_MODE = rf"(?:(?:lowest|highest)-)?(?:{_ALIAS})"
# Compiled on first use (_regex), not at import: compiling them is most of this module's import
# time, and start-up parses no endpoint before the first frame.
_PATTERNS = {
    "mode": _MODE,
    "old_thresholds": rf"(?P<mode>{_MODE})(?P<thresholds>(?:<{_NUMBER}(?:{_ALIAS}))+)",
    "threshold": rf"(?:{_ALIAS})(?:<=|>=|<|>){_NUMBER}",
    "factor": rf"(?:{_ALIAS}):{_NUMBER}",
    "name": r"[A-Za-z0-9][A-Za-z0-9._+:-]*",
    "provider": r"[A-Za-z0-9][A-Za-z0-9._-]*",
    "search": (
        rf"(?P<key>{'|'.join(_SEARCH_KEYS)}):"
        r"(?P<names>[A-Za-z0-9._@+:-]+(?:,[A-Za-z0-9._@+:-]+)*)"
    ),
}
# Any Unicode space counts here, as it would in a terminal.
_UNICODE_PATTERNS = {"whitespace": r"\s", "model_name": r"\S+"}


@cache
def _regex(name: str) -> re.Pattern[str]:
    if name in _UNICODE_PATTERNS:
        return re.compile(_UNICODE_PATTERNS[name])
    return re.compile(_PATTERNS[name], re.ASCII)


class EndpointError(ValueError):
    """A malformed endpoint string. ``str(err)`` is a sentence that names the expected format."""


@dataclass(frozen=True)
class Endpoint:
    """A parsed endpoint string.

    For a fallback chain, ``model`` and ``provider`` are those of the first candidate.
    """

    raw: str
    model: str
    provider: str
    is_routing: bool
    is_fallback: bool
    candidates: tuple[str, ...]

    def __str__(self) -> str:
        """The string to send as the request's ``model``."""
        return self.raw


def _shown(text: str) -> str:
    # repr() escapes control characters; long input is cut so the message stays one line.
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _fail(reason: str) -> EndpointError:
    return EndpointError(f"{reason}. {EXPECTED_FORMAT}.")


def _is_router(model: str) -> bool:
    return model == "router" or model.startswith("router_")


def _strip_legacy_prefix(model: str) -> str:
    # "<uploaded_by>/<model>" was doc notation in April 2024; the server never wanted the prefix.
    return model.rsplit("/", 1)[-1]


def _check_model(model: str, segment: str) -> str:
    model = _strip_legacy_prefix(model)
    if not model:
        raise _fail(f"The model name is missing in {_shown(segment)}")
    if not _regex("name").fullmatch(model):
        raise _fail(
            f"The model name {_shown(model)} may only contain letters, digits, '.', '_', '-', "
            "'+' and ':'"
        )
    return model


def _is_routing_item(item: str) -> bool:
    return bool(
        item in MY_ROUTING_MODES
        or _regex("mode").fullmatch(item)
        or _regex("old_thresholds").fullmatch(item)
        or _regex("threshold").fullmatch(item)
        or _regex("factor").fullmatch(item)
        or _regex("search").fullmatch(item)
    )


def _check_routing_spec(spec: str) -> None:
    for item in spec.split("|"):
        if not item:
            raise _fail(f"The routing spec {_shown(spec)} has an empty part between '|'")
        if _is_routing_item(item):
            continue
        if item.startswith(("lowest-", "highest-")) or item in METRIC_ALIASES:
            raise _fail(
                f"{_shown(item)} is not a routing mode; use a provider name or one of "
                + ", ".join(ROUTING_MODES)
            )
        if any(op in item for op in "<>"):
            raise _fail(
                f"The threshold {_shown(item)} should look like itl<20 or input-cost<=0.8 "
                "(a metric, one of < > <= >=, a number)"
            )
        if ":" in item:
            raise _fail(
                f"{_shown(item)} should be a factor such as q:1 or a filter such as "
                "providers:groq,together-ai"
            )
        raise _fail(f"{_shown(item)} is not a routing metric, threshold or filter")


def _classify_provider(spec: str, model: str, segment: str) -> bool:
    """Check the part after '@'; return True if it is a routing spec, False for a provider."""
    if not spec:
        raise _fail(f"The provider is missing after '@' in {_shown(segment)}")
    looks_like_provider = (
        _regex("provider").fullmatch(spec) is not None
        and not _regex("mode").fullmatch(spec)
        and not spec.startswith(("lowest-", "highest-"))
        and spec not in MY_ROUTING_MODES
    )
    if looks_like_provider and not _is_router(model):
        return False
    if looks_like_provider:
        raise _fail(
            f"{_shown(segment)}: the router takes a routing spec, e.g. router@q:1|c:0.5 "
            "or router@quality|itl<20"
        )
    _check_routing_spec(spec)
    return True


@dataclass(frozen=True)
class _Segment:
    model: str | None  # None for a bare segment
    spec: str | None  # None for a bare segment
    bare: str | None
    is_routing: bool


def _split_segment(segment: str) -> _Segment:
    if not segment:
        raise _fail("A fallback chain has an empty step ('->' at an end or doubled)")
    if "@" not in segment:
        return _Segment(model=None, spec=None, bare=segment, is_routing=False)
    model_text, spec = segment.split("@", 1)
    # Only an endpoints:/skip_endpoints: filter may hold another '@'.
    if "@" in spec and "endpoints:" not in spec:
        raise _fail(f"{_shown(segment)} has more than one '@'")
    model = _check_model(model_text, segment)
    is_routing = _classify_provider(spec, model, segment) or _is_router(model)
    return _Segment(model=model, spec=spec, bare=None, is_routing=is_routing)


def parse_endpoint(text: str) -> Endpoint:
    """Parse and validate an endpoint string; raise ``EndpointError`` if it is malformed."""
    if not isinstance(text, str):
        raise _fail(f"The endpoint must be text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise _fail("No endpoint was given")
    if _regex("whitespace").search(stripped):
        raise _fail(f"The endpoint {_shown(stripped)} must not contain spaces")
    if "@" not in stripped:
        raise _fail(f"The endpoint {_shown(stripped)} is missing '@<provider>'")

    pieces = stripped.split("->")
    if len(pieces) == 1:
        segment = _split_segment(stripped)
        assert segment.model is not None and segment.spec is not None
        raw = f"{segment.model}@{segment.spec}"
        return Endpoint(
            raw=raw,
            model=segment.model,
            provider=segment.spec,
            is_routing=segment.is_routing,
            is_fallback=False,
            candidates=(raw,),
        )
    return _parse_fallback_chain(pieces)


def _parse_fallback_chain(pieces: list[str]) -> Endpoint:
    # A bare step before the first "m@p" is a model waiting for that provider; a bare step
    # after one is another provider for the latest model (as the Unify backend reads a chain).
    candidates: list[str] = []
    normalized: list[str] = []
    waiting_models: list[str] = []
    last_model: str | None = None
    is_routing = False
    for piece in pieces:
        segment = _split_segment(piece)
        if segment.bare is None:
            assert segment.model is not None and segment.spec is not None
            candidates.extend(f"{m}@{segment.spec}" for m in waiting_models)
            waiting_models.clear()
            candidates.append(f"{segment.model}@{segment.spec}")
            normalized.append(f"{segment.model}@{segment.spec}")
            last_model = segment.model
            is_routing = is_routing or segment.is_routing
        elif last_model is None:
            model = _check_model(segment.bare, piece)
            if _is_router(model):
                raise _fail("The router cannot be a bare fallback step; write router@<spec>")
            waiting_models.append(model)
            normalized.append(model)
        else:
            is_routing = _classify_provider(segment.bare, last_model, piece) or is_routing
            candidates.append(f"{last_model}@{segment.bare}")
            normalized.append(segment.bare)
    first_model, first_provider = candidates[0].split("@", 1)
    return Endpoint(
        raw="->".join(normalized),
        model=first_model,
        provider=first_provider,
        is_routing=is_routing,
        is_fallback=True,
        candidates=tuple(candidates),
    )


def provider_of(served: str) -> str:
    """The provider part of a served endpoint (after the last '@'); "" if there is none."""
    if "@" not in served:
        return ""
    return served.rsplit("@", 1)[1]


def model_of(served: str) -> str:
    """The model part of a served endpoint (before the last '@'); the whole string if none."""
    return served.rsplit("@", 1)[0]


def endpoint_problem(kind: str, text: str) -> str | None:
    """Why ``text`` cannot be sent to a gateway of ``kind`` (a sentence), or None when it can.

    Unify and the demo take the seed's ``model@provider`` syntax. OpenRouter also takes its own
    ids (``openai/gpt-4o-mini``, ``...:nitro``). A plain OpenAI-compatible server takes any model
    name the server knows (``gpt-4o-mini``, ``llama3.1:8b``).
    """
    stripped = text.strip()
    preset = next((mode for mode in MY_ROUTING_MODES if f"@{mode}" in stripped), None)
    if preset is not None:
        if kind == "openai-compatible":
            return f"@{preset} picks a provider; this server has no provider choice."
        model, _, spec = stripped.rpartition("@")
        if spec != preset or "->" in model or "|" in spec or not model:
            return (
                f"@{preset} is resolved before sending and stands alone: write "
                f"<model>@{preset}, not in a fallback chain or with other routing parts."
            )
    if kind == "openai-compatible":
        if not _regex("model_name").fullmatch(stripped):
            return "Type a model name the server knows, e.g. gpt-4o-mini (no spaces)."
        return None
    if kind == "openrouter" and "@" not in stripped and _regex("model_name").fullmatch(stripped):
        return None
    try:
        parse_endpoint(stripped)
    except EndpointError as error:
        return str(error)
    return None
