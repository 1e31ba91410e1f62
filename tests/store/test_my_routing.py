"""Routing by your own measurements: store.spend.provider_figures over a generated long history
(benchmarks/spend_history.py), each figure checked against the stored replies worked out in
Python; core.my_routing.choose picks from them or falls back to the gateway's routing; and the
spend screen's table of how each preset did (preset_performance)."""

from __future__ import annotations

import sqlite3
import statistics
from pathlib import Path

import pytest

from benchmarks.spend_history import fill_history
from tests.store.conftest import reply
from tui_chat.core.endpoint import ROUTING_MODES, endpoint_problem, parse_endpoint
from tui_chat.core.my_routing import (
    MIN_REPLIES,
    ProviderFigures,
    choose,
    preset_of,
)
from tui_chat.store import Store
from tui_chat.store.spend import (
    load_spend_report,
    open_read_only,
    preset_performance,
    provider_figures,
)

MODEL = "llama-3.1-8b-chat"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.db"
    fill_history(path, replies=3000, years=1.0, seed=5)
    return path


def _expected(path: Path, model: str, last: int) -> dict[str, tuple[float, float, float, int]]:
    """Per provider: median tok/s, median TTFT, cost per 1k tokens, replies; in Python."""
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT served_endpoint, created_at, ttft_ms, duration_ms, cost, prompt_tokens,"
        " completion_tokens FROM messages WHERE role = 'assistant' AND outcome = 'complete'"
        " AND served_endpoint LIKE ? ORDER BY created_at DESC",
        (f"{model}@%",),
    ).fetchall()
    conn.close()
    by_provider: dict[str, list[tuple[object, ...]]] = {}
    for row in rows:
        provider = str(row[0]).rpartition("@")[2]
        kept = by_provider.setdefault(provider, [])
        if len(kept) < last:
            kept.append(row)
    expected = {}
    for provider, kept in by_provider.items():
        speeds = [
            c * 1000 / (d - (t or 0))
            for _, _, t, d, _, _, c in kept
            if c and d is not None and d - (t or 0) > 0
        ]
        ttfts = [t for _, _, t, *_ in kept if t is not None]
        rated = [(cost, p + c) for *_, cost, p, c in kept if None not in (cost, p, c)]
        rate = sum(x for x, _ in rated) * 1000 / sum(n for _, n in rated)
        expected[provider] = (
            statistics.median(speeds),
            statistics.median(ttfts),
            rate,
            len(kept),
        )
    return expected


@pytest.mark.parametrize("last", [5, 50])
def test_provider_figures_are_the_medians_of_the_last_replies(history: Path, last: int) -> None:
    conn = open_read_only(history)
    try:
        figures = provider_figures(conn, MODEL, last=last)
    finally:
        conn.close()
    expected = _expected(history, MODEL, last)
    assert (
        {row.provider for row in figures}
        == set(expected)
        == {
            "groq",
            "together-ai",
            "fireworks-ai",
        }
    )
    for row in figures:
        speed, ttft, rate, replies = expected[row.provider]
        assert row.replies == replies == last
        assert row.median_tokens_per_s == pytest.approx(speed)
        assert row.median_ttft_ms == pytest.approx(ttft)
        assert row.cost_per_1k == pytest.approx(rate)


def test_the_presets_choose_from_the_history(history: Path) -> None:
    conn = open_read_only(history)
    try:
        figures = provider_figures(conn, MODEL)
    finally:
        conn.close()
    fastest = choose("my-fastest", MODEL, figures)
    groq = next(row for row in figures if row.provider == "groq")
    assert fastest.endpoint == f"{MODEL}@groq" and fastest.provider == "groq"
    assert fastest.note == (
        f"my-fastest → groq, {groq.median_tokens_per_s:.0f} tok/s median of {groq.speed_replies}"
    )
    assert choose("my-quickest-start", MODEL, figures).provider == "groq"
    cheapest = choose("my-cheapest", MODEL, figures)
    best_rate = min(figures, key=lambda row: row.cost_per_1k or 1e9)
    assert cheapest.provider == best_rate.provider


def test_too_little_history_falls_back_to_the_gateways_routing() -> None:
    one = ProviderFigures("groq", 9, 500.0, 9, 100.0, 9, 0.1, 9)
    few = ProviderFigures("together-ai", 2, 900.0, 2, 50.0, 2, 0.01, 2)
    choice = choose("my-fastest", MODEL, [one, few])  # together-ai has under MIN_REPLIES
    assert MIN_REPLIES == 3
    assert choice.endpoint == f"{MODEL}@highest-tks-per-sec" and choice.provider is None
    assert choice.note.startswith("my-fastest → highest-tks-per-sec: not enough history")
    assert choose("my-quickest-start", MODEL, []).endpoint == f"{MODEL}@lowest-ttft"
    assert choose("my-cheapest", MODEL, []).endpoint == f"{MODEL}@lowest-cost"


def test_the_presets_are_routing_modes_in_the_syntax_check() -> None:
    assert {"my-fastest", "my-quickest-start", "my-cheapest"} <= set(ROUTING_MODES)
    assert parse_endpoint(f"{MODEL}@my-fastest").is_routing
    assert preset_of(f"{MODEL}@my-cheapest") == (MODEL, "my-cheapest")
    assert preset_of(f"{MODEL}@groq") is None
    assert endpoint_problem("unify", f"{MODEL}@my-fastest") is None
    assert endpoint_problem("openrouter", "openai/gpt-4o-mini@my-fastest") is None
    assert "no provider choice" in (endpoint_problem("openai-compatible", "m@my-fastest") or "")
    assert "stands alone" in (endpoint_problem("unify", f"{MODEL}@my-fastest->gpt-4o@openai") or "")


def test_preset_performance_groups_the_replies_sent_with_a_preset(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with Store.open(path) as store:
        conversation = store.create_conversation("t").id
        for served, ttft, duration in (
            ("groq", 100.0, 1100.0),
            ("groq", 300.0, 2300.0),
            ("together-ai", 500.0, 4500.0),
        ):
            message = reply("x", requested=f"{MODEL}@my-fastest", served=f"{MODEL}@{served}")
            message.ttft_ms, message.duration_ms = ttft, duration
            message.prompt_tokens, message.completion_tokens, message.cost = 100, 400, 0.0005
            store.append_message(conversation, message)
        store.append_message(conversation, reply("y", requested=f"{MODEL}@groq"))  # no preset
    conn = open_read_only(path)
    try:
        rows = preset_performance(conn)
    finally:
        conn.close()
    # groq: 400 tok over 1.0 s and 2.0 s -> 400 and 200 tok/s, median 300; TTFT median 200
    assert [(r.preset, r.provider, r.replies) for r in rows] == [
        ("my-fastest", "groq", 2),
        ("my-fastest", "together-ai", 1),
    ]
    assert rows[0].median_tokens_per_s == pytest.approx(300.0)
    assert rows[0].median_ttft_ms == pytest.approx(200.0)
    assert rows[0].cost_per_1k == pytest.approx(0.001 * 1000 / 1000)
    assert rows[1].median_tokens_per_s == pytest.approx(100.0)
    assert load_spend_report(path).presets == tuple(rows)
