"""The spend figures (tui_chat/store/spend.py), each checked against a store of known replies."""

from __future__ import annotations

import csv
import io
import sqlite3
import stat
from datetime import datetime
from pathlib import Path

import pytest

from tests.store.conftest import reply, user
from tui_chat.core.accounting import Spend
from tui_chat.core.conversation import Message, Outcome
from tui_chat.store import SCHEMA_VERSION, Store
from tui_chat.store.export import ExportError
from tui_chat.store.schema import migrate, schema_version
from tui_chat.store.spend import (
    CSV_COLUMNS,
    ConversationSpend,
    SpendReport,
    SpendRow,
    load_spend_report,
    open_read_only,
    spend_between,
    spend_csv,
    spend_report,
    write_spend_csv,
)


def test_version_4_database_gets_the_gateway_column_and_the_reply_index(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    assert migrate(conn, target=4) == 4
    conn.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (7, 't', 1, 2)"
    )
    conn.execute(
        "INSERT INTO messages (id, conversation_id, position, role, content, created_at, cost,"
        " served_endpoint, outcome) VALUES (70, 7, 0, 'assistant', 'kept', 1.0, 0.25,"
        " 'gpt-4o@openai', 'complete')"
    )
    conn.close()

    with Store.open(db_path) as store:
        (message,) = store.load_conversation(7).messages
        assert (message.content, message.cost, message.served_endpoint) == (
            "kept",
            0.25,
            "gpt-4o@openai",
        )
        store.append_message(7, reply("after the migration"))
    conn = sqlite3.connect(db_path)
    try:
        assert schema_version(conn) == SCHEMA_VERSION
        assert conn.execute("SELECT gateway FROM messages WHERE id = 70").fetchone() == (None,)
        (index_sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'messages_reply_figures'"
        ).fetchone()
        assert "WHERE role = 'assistant'" in index_sql
    finally:
        conn.close()


# -- a store of known replies ---------------------------------------------------------------
# Noon UTC, so every reply falls on the same local day in any time zone from UTC-11 to UTC+11.


def _noon(day: str, minutes: int = 0) -> float:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp() + 60 * minutes


def _reply(
    at: float,
    served: str | None,
    cost: float | None,
    prompt: int | None,
    completion: int | None,
    ttft_ms: float | None,
    duration_ms: float | None,
    *,
    requested: str | None = None,
    outcome: Outcome | None = Outcome.COMPLETE,
    text: str = "an answer",
    cost_estimated: bool = False,
    tokens_estimated: bool = False,
) -> Message:
    return Message(
        role="assistant",
        content=text,
        created_at=at,
        requested_endpoint=requested or served,
        served_endpoint=served,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=cost,
        cost_estimated=cost_estimated,
        tokens_estimated=tokens_estimated,
        ttft_ms=ttft_ms,
        duration_ms=duration_ms,
        outcome=outcome,
    )


MINI = "gpt-4o-mini@openai"
GROQ = "llama-3.1-8b-chat@groq"
TOGETHER = "llama-3.1-8b-chat@together-ai"


@pytest.fixture
def known(store: Store) -> dict[str, int]:
    return fill_known(store)


def fill_known(store: Store) -> dict[str, int]:
    """Seven replies in four conversations, on four days of two months; title -> id. The
    figures every test here expects are worked out by hand beside each assertion."""
    conversations = {
        "cheap": (
            "unify",
            [
                _reply(_noon("2026-11-02"), MINI, 0.10, 100, 400, 200.0, 1200.0),
                _reply(
                    _noon("2026-11-04"), MINI, 0.20, 200, 300, 400.0, 1400.0, cost_estimated=True
                ),
            ],
        ),
        "big": (
            "openrouter",
            [
                _reply(_noon("2026-11-04", 1), GROQ, 1.00, 1000, 1000, 100.0, 600.0),
                _reply(_noon("2026-11-09"), GROQ, None, 50, 50, 300.0, 800.0),  # no cost
                _reply(
                    _noon("2026-11-09", 1),
                    TOGETHER,
                    0.50,
                    500,
                    500,
                    500.0,
                    2500.0,
                    tokens_estimated=True,
                ),
            ],
        ),
        "failed": (
            None,  # a gateway not recorded
            [
                _reply(
                    _noon("2026-12-01"),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    requested="claude-3.5-sonnet@anthropic->gpt-4o@openai",
                    outcome=Outcome.ERROR,
                    text="",
                )
            ],
        ),
        "unknown": (
            "demo",
            [
                _reply(
                    _noon("2026-12-01", 1),
                    MINI,
                    None,
                    10,
                    5,
                    250.0,
                    300.0,
                    outcome=Outcome.STOPPED,
                    tokens_estimated=True,
                )
            ],
        ),
    }
    ids: dict[str, int] = {}
    for title, (_, replies) in conversations.items():
        record = store.create_conversation(title)
        ids[title] = record.id
        for message in replies:
            store.append_message(record.id, user("q", created_at=message.created_at - 1))
            store.append_message(record.id, message)
    # The recorder does not write the gateway yet (schema 5 has the column): set here.
    conn = sqlite3.connect(store.path)
    try:
        for title, (gateway, _) in conversations.items():
            conn.execute(
                "UPDATE messages SET gateway = ? WHERE conversation_id = ?", (gateway, ids[title])
            )
        conn.commit()
    finally:
        conn.close()
    return ids


def _report(store: Store) -> SpendReport:
    return load_spend_report(store.path, now=_noon("2026-12-02"))


def _shown(rows: tuple[SpendRow, ...]) -> list[tuple[str | None, str, int]]:
    return [(row.name, str(row.spend), row.replies) for row in rows]


def test_total_counts_every_reply_and_is_a_lower_bound_when_a_cost_is_unknown(
    store: Store, known: dict[str, int]
) -> None:
    report = _report(store)
    assert str(report.total.spend) == "≥1.800000"  # 0.10 + 0.20 + 1.00 + 0.50, two unknown
    assert report.total.spend.estimated  # the 0.20 is an estimate (≥ is shown first)
    assert report.total.replies == 7
    assert report.total.prompt_tokens == 100 + 200 + 1000 + 50 + 500 + 10
    assert report.total.completion_tokens == 400 + 300 + 1000 + 50 + 500 + 5
    assert report.total.tokens_estimated


def test_spend_per_day_week_and_month_in_local_time(store: Store, known: dict[str, int]) -> None:
    report = _report(store)
    assert _shown(report.days) == [
        ("2026-11-02", "0.100000", 1),
        ("2026-11-04", "~1.200000", 2),  # 0.20 estimated + 1.00
        ("2026-11-09", "≥0.500000", 2),  # one cost unknown
        ("2026-12-01", "–", 2),  # a failed reply (no text) and one with text but no cost
    ]
    assert _shown(report.weeks) == [  # weeks from Monday
        ("2026-11-02", "~1.300000", 3),
        ("2026-11-09", "≥0.500000", 2),
        ("2026-11-30", "–", 2),
    ]
    assert _shown(report.months) == [("2026-11", "≥1.800000", 5), ("2026-12", "–", 2)]
    assert (report.today, report.this_week, report.this_month) == (
        "2026-12-02",
        "2026-11-30",
        "2026-12",
    )
    assert report.period(report.days, report.today) is None  # nothing spent today
    this_week = report.period(report.weeks, report.this_week)
    assert this_week is not None and this_week.replies == 2


def test_spend_per_model_provider_gateway_and_endpoint_most_first(
    store: Store, known: dict[str, int]
) -> None:
    report = _report(store)
    assert _shown(report.models) == [
        ("llama-3.1-8b-chat", "≥1.500000", 3),
        ("gpt-4o-mini", "≥0.300000", 3),
        # a failed reply with no served endpoint counts for the first model it asked for;
        # with no text it cost nothing and misses nothing
        ("claude-3.5-sonnet", "0.000000", 1),
    ]
    assert _shown(report.providers) == [
        ("groq", "≥1.000000", 2),
        ("together-ai", "0.500000", 1),
        ("openai", "≥0.300000", 3),
        (None, "0.000000", 1),
    ]
    assert _shown(report.gateways) == [
        ("openrouter", "≥1.500000", 3),
        ("unify", "~0.300000", 2),
        ("demo", "–", 1),
        (None, "0.000000", 1),
    ]
    assert _shown(report.endpoints) == [
        (GROQ, "≥1.000000", 2),
        (TOGETHER, "0.500000", 1),
        (MINI, "≥0.300000", 3),
        (None, "0.000000", 1),
    ]
    groq = report.providers[0]
    assert (groq.prompt_tokens, groq.completion_tokens, groq.tokens_estimated) == (
        1050,
        1050,
        False,
    )
    assert report.providers[1].tokens_estimated  # together-ai's 500 were counted from the text


def test_most_expensive_conversations_agree_with_each_conversations_own_total(
    store: Store, known: dict[str, int]
) -> None:
    report = _report(store)
    shown = [(c.title, str(c.row.spend), c.row.replies) for c in report.conversations]
    assert shown == [
        ("big", "≥1.500000", 3),
        ("cheap", "~0.300000", 2),
        ("failed", "0.000000", 1),  # no known cost: after those with one, by id
        ("unknown", "–", 1),
    ]
    for conversation in report.conversations:
        assert conversation.conversation_id == known[conversation.title]
        # the SQL follows the app's own rule for a conversation's spend (core Conversation)
        expected = store.load_conversation(conversation.conversation_id).spend
        assert str(conversation.row.spend) == str(expected)
        assert conversation.row.spend.amount == pytest.approx(expected.amount)
    assert report.conversations[0].last_reply_at == _noon("2026-11-09", 1)
    assert len(spend_report_top(store, 2)) == 2


def spend_report_top(store: Store, top: int) -> tuple[ConversationSpend, ...]:
    conn = open_read_only(store.path)
    try:
        return spend_report(conn, top_conversations=top).conversations
    finally:
        conn.close()


def test_cost_per_1000_tokens_per_endpoint_over_replies_with_known_figures(
    store: Store, known: dict[str, int]
) -> None:
    rates = _report(store).rates
    assert [(r.endpoint, r.replies, r.tokens, str(r.rate)) for r in rates] == [
        (GROQ, 1, 2000, "0.500000"),  # 1.00 for 2,000 tokens; the reply without a cost is left out
        (TOGETHER, 1, 1000, "~0.500000"),  # 0.50 for 1,000 tokens counted from the text
        (MINI, 2, 1000, "~0.300000"),  # (0.10 + 0.20 estimated) for 500 + 500
    ]
    assert rates[2].rate.amount == pytest.approx(0.3)


def test_median_ttft_and_tokens_per_second_per_provider_for_each_model(
    store: Store, known: dict[str, int]
) -> None:
    speeds = _report(store).speeds
    shown = [
        (
            s.model,
            s.provider,
            s.replies,
            s.median_ttft_ms,
            s.ttft_replies,
            s.median_tokens_per_s,
            s.speed_replies,
            s.tokens_estimated,
        )
        for s in speeds
    ]
    assert shown == [
        # finished replies only: the stopped one on openai is left out
        # TTFT (200, 400); tokens/s 400 / 1.0 s and 300 / 1.0 s
        ("gpt-4o-mini", "openai", 2, 300.0, 2, pytest.approx(350.0), 2, False),
        # TTFT (100, 300); 1000 / 0.5 s and 50 / 0.5 s: fastest first within a model
        ("llama-3.1-8b-chat", "groq", 2, 200.0, 2, pytest.approx(1050.0), 2, False),
        ("llama-3.1-8b-chat", "together-ai", 1, 500.0, 1, pytest.approx(250.0), 1, True),
    ]


def test_medians_of_an_odd_count_and_replies_without_timings(store: Store) -> None:
    record = store.create_conversation("speeds")
    for ttft, duration, completion in (
        (300.0, 1300.0, 100),  # 100 tok/s
        (100.0, 600.0, 100),  # 200 tok/s
        (None, 2000.0, 100),  # no TTFT: 50 tok/s over the whole duration
        (900.0, None, 100),  # no duration: no speed
    ):
        store.append_message(
            record.id, _reply(_noon("2026-11-02"), MINI, 0.1, 1, completion, ttft, duration)
        )
    (speed,) = _report(store).speeds
    assert (speed.replies, speed.ttft_replies, speed.speed_replies) == (4, 3, 3)
    assert speed.median_ttft_ms == 300.0  # of 100, 300, 900
    assert speed.median_tokens_per_s == pytest.approx(100.0)  # of 50, 100, 200


def test_a_reply_saved_while_it_streamed_with_text_but_no_cost_makes_totals_a_lower_bound(
    store: Store,
) -> None:
    record = store.create_conversation("crashed")
    store.append_message(record.id, _reply(_noon("2026-11-02"), MINI, 0.25, 1, 1, 1.0, 2.0))
    store.append_message(
        record.id, _reply(_noon("2026-11-02", 1), MINI, None, None, None, None, None, outcome=None)
    )
    report = _report(store)
    assert str(report.total.spend) == "≥0.250000"
    assert str(store.load_conversation(record.id).spend) == "≥0.250000"
    assert report.speeds[0].replies == 1  # a reply that never finished has no speed


def test_an_empty_store_has_no_rows_and_a_total_of_nothing(store: Store) -> None:
    report = _report(store)
    assert (report.total.replies, report.total.spend.amount) == (0, 0.0)
    assert report.days == report.models == report.conversations == report.speeds == ()
    assert report.rates == ()


def test_figures_come_from_one_read_of_the_index_and_each_query_is_timed(
    store: Store, known: dict[str, int]
) -> None:
    report = _report(store)
    assert {"read replies into cells", "by day", "median speeds"} <= set(report.query_ms)
    conn = open_read_only(store.path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM messages")  # the spend screen cannot change the store
        spend_report(conn)
        spend_report(conn)  # the temporary table is dropped after each read
    finally:
        conn.close()


# -- CSV --------------------------------------------------------------------------------------


def test_csv_holds_every_row_with_its_figure_in_words(
    store: Store, known: dict[str, int], tmp_path: Path
) -> None:
    report = _report(store)
    folder = tmp_path / "new" / "exports"
    path = write_spend_csv(report, folder, now=_noon("2026-12-02"))
    assert path.parent == folder and path.name.startswith("spend-") and path.suffix == ".csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1] == ["total", "all replies", "1.800000", "lower bound", "7", "1860", "2255"]
    assert ["day", "2026-11-04", "1.200000", "estimate", "2", "1200", "1300"] in rows
    assert ["day", "2026-12-01", "", "unknown", "2", "10", "5"] in rows
    assert ["model", "claude-3.5-sonnet", "0.000000", "exact", "1", "0", "0"] in rows
    assert ["gateway", "", "0.000000", "exact", "1", "0", "0"] in rows
    assert ["conversation", "big", "1.500000", "lower bound", "3", "1550", "1550"] in rows
    groups = [row[0] for row in rows[1:]]
    assert groups.count("day") == 4 and groups.count("conversation") == 4
    assert groups.count("endpoint") == 4 and groups.count("month") == 2


def test_csv_names_cannot_run_in_a_terminal_or_a_spreadsheet(store: Store) -> None:
    record = store.create_conversation("=HYPERLINK(\x1b[31mred)")
    store.append_message(record.id, _reply(_noon("2026-11-02"), "@odd@openai", 0.1, 1, 1, 1.0, 2.0))
    text = spend_csv(_report(store))
    assert "\x1b" not in text
    row = next(r for r in csv.reader(io.StringIO(text)) if r[0] == "conversation")
    assert row[1].startswith("'=HYPERLINK(")
    assert ["model", "'@odd", "0.100000", "exact", "1", "1", "1"] in list(
        csv.reader(io.StringIO(text))
    )


def test_csv_to_a_folder_that_is_a_file_says_so(store: Store, tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("")
    with pytest.raises(ExportError, match="is a file"):
        write_spend_csv(_report(store), blocker / "spend")


# -- the budgets' figure: spend_between ------------------------------------------------------


def test_spend_between_sums_a_period_by_the_app_rules(store: Store, db_path: Path) -> None:
    fill_known(store)
    conn = open_read_only(db_path)
    try:
        # 2 and 4 November: 0.10 + 0.20 (an estimate) on unify, 1.00 on openrouter
        assert spend_between(conn, _noon("2026-11-02", -60), _noon("2026-11-05")) == Spend(
            1.30, estimated=True
        )
        assert spend_between(
            conn, _noon("2026-11-02", -60), _noon("2026-11-05"), "openrouter"
        ) == Spend(1.00)
        # 9 November: a reply with text and no cost, and 0.50: a lower bound
        assert spend_between(conn, _noon("2026-11-09", -60), _noon("2026-11-10")) == Spend(
            0.50, partial=True
        )
        # 1 December on demo: one stopped reply with text and no cost: unknown, never 0
        assert spend_between(conn, _noon("2026-12-01", -60), _noon("2026-12-02"), "demo") == Spend(
            None
        )
        # until is exclusive; a failed reply without text costs nothing
        assert spend_between(conn, _noon("2026-12-01"), _noon("2026-12-01", 1)) == Spend(0.0)
    finally:
        conn.close()
