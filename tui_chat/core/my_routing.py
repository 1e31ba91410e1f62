"""Routing by your own measurements: ``@my-fastest``, ``@my-quickest-start``, ``@my-cheapest``.

The gateway's own routing modes (``@highest-tks-per-sec``...) rank providers by the gateway's
benchmarks. These presets rank them by the user's own replies, as saved in the store: for one
model, per provider, over its last ``LAST_REPLIES`` finished replies:

- ``my-fastest``: the highest median tokens/s (completion tokens over the time after the first);
- ``my-quickest-start``: the lowest median time to first token;
- ``my-cheapest``: the lowest cost per 1,000 tokens (prompt and completion).

A provider counts with at least ``MIN_REPLIES`` replies that have the figure; a choice needs at
least ``MIN_PROVIDERS`` such providers. With less history the request goes to the gateway's own
routing mode of the same kind (``FALLBACKS``), and the provenance line says so. The preset is
resolved on the client, to a concrete ``model@provider``, before the request is sent.

No Textual, no store: ``store.spend.provider_figures`` reads the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from tui_chat.core.endpoint import MY_ROUTING_MODES

LAST_REPLIES: Final = 50
MIN_REPLIES: Final = 3
MIN_PROVIDERS: Final = 2

FALLBACKS: Final[dict[str, str]] = {
    "my-fastest": "highest-tks-per-sec",
    "my-quickest-start": "lowest-ttft",
    "my-cheapest": "lowest-cost",
}
assert set(FALLBACKS) == set(MY_ROUTING_MODES)


@dataclass(frozen=True)
class ProviderFigures:
    """One provider's figures for one model over its last replies (``replies`` of them)."""

    provider: str
    replies: int
    median_tokens_per_s: float | None
    speed_replies: int
    median_ttft_ms: float | None
    ttft_replies: int
    cost_per_1k: float | None  # credits per 1,000 tokens
    cost_replies: int


@dataclass(frozen=True)
class RoutingChoice:
    """What a preset resolved to: the ``endpoint`` to send, the ``provider`` chosen (None: the
    gateway's routing decides), and why, for the provenance line."""

    endpoint: str
    provider: str | None
    note: str


def preset_of(endpoint: str) -> tuple[str, str] | None:
    """(model, preset) when ``endpoint`` is ``model@my-...``, else None."""
    model, at, spec = endpoint.strip().rpartition("@")
    if not at or spec not in MY_ROUTING_MODES or not model or "->" in model:
        return None
    return model, spec


def _ranked(preset: str, figures: Sequence[ProviderFigures]) -> list[tuple[float, ProviderFigures]]:
    """The providers with enough replies for ``preset``, best first (lowest key)."""
    ranked: list[tuple[float, ProviderFigures]] = []
    for row in figures:
        if preset == "my-fastest":
            value, count = row.median_tokens_per_s, row.speed_replies
            key = None if value is None else -value  # the highest speed first
        elif preset == "my-quickest-start":
            key, count = row.median_ttft_ms, row.ttft_replies
        else:
            key, count = row.cost_per_1k, row.cost_replies
        if key is not None and count >= MIN_REPLIES:
            ranked.append((key, row))
    ranked.sort(key=lambda item: (item[0], item[1].provider))
    return ranked


def _figure(preset: str, row: ProviderFigures) -> str:
    if preset == "my-fastest":
        return f"{row.median_tokens_per_s:.0f} tok/s median of {row.speed_replies}"
    if preset == "my-quickest-start":
        return f"TTFT {row.median_ttft_ms:.0f} ms median of {row.ttft_replies}"
    return f"{row.cost_per_1k:.6f} credits per 1k tokens over {row.cost_replies}"


def choose(preset: str, model: str, figures: Sequence[ProviderFigures]) -> RoutingChoice:
    """The provider ``preset`` picks for ``model`` from ``figures``, or the gateway's own
    routing when there are fewer than MIN_PROVIDERS providers with MIN_REPLIES replies."""
    ranked = _ranked(preset, figures)
    if len(ranked) < MIN_PROVIDERS:
        fallback = FALLBACKS[preset]
        have = f"{len(ranked)} provider{'s' if len(ranked) != 1 else ''}"
        return RoutingChoice(
            f"{model}@{fallback}",
            None,
            f"{preset} → {fallback}: not enough history ({have} with {MIN_REPLIES}+ replies, "
            f"{MIN_PROVIDERS} needed)",
        )
    best = ranked[0][1]
    return RoutingChoice(
        f"{model}@{best.provider}",
        best.provider,
        f"{preset} → {best.provider}, {_figure(preset, best)}",
    )
