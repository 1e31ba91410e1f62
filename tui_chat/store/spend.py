"""Spend over the stored replies: per day, week and month, per model, provider, gateway and
endpoint, the most expensive conversations, cost per 1,000 tokens and median speeds.

Every figure is an SQL aggregate (GROUP BY, window functions for the medians); Python only turns
the rows into records. The replies are read once, from the ``messages_reply_figures`` index
(schema 5) into a temporary table with their day, week, month, model and provider worked out,
and every aggregate groups that table, all inside one read transaction: the figures on the screen
are of one moment, even while the app goes on writing.

The figures follow the app's rules (``core.accounting.Spend``, the same as a conversation's
total): a sum holding an estimate is estimated (``~``), one missing a reply that has text but no
cost is a lower bound (``≥``), and a group whose replies have no figure at all is unknown
(``–``), never 0. A failed reply with no text costs nothing and is not counted as missing.

No Textual here. The reads use a connection of their own, opened read-only on the database file,
so a long read never holds the store's lock while the recorder writes.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tui_chat.core.accounting import Spend, format_credits
from tui_chat.core.my_routing import ProviderFigures
from tui_chat.core.text import inert
from tui_chat.store.errors import translated
from tui_chat.store.export import (
    ExportError,
    export_file_name,
    export_folder_problem,
    make_private_folder,
    write_private,
)

TOP_CONVERSATIONS: Final = 20
TOKENS_PER_RATE_UNIT: Final = 1_000  # cost per 1,000 tokens
_PERIODS: Final = ("day", "week", "month")


def _model_of(endpoint: str) -> str:
    """SQL: the part of ``endpoint`` (a column) before its last "@", as core.endpoint.model_of.
    rtrim(e, <every character of e but "@">) keeps e up to and including its last "@"."""
    up_to_at = f"rtrim({endpoint}, replace({endpoint}, '@', ''))"
    return (
        f"CASE WHEN instr({endpoint}, '@') = 0 THEN {endpoint}"
        f" ELSE substr({endpoint}, 1, length({up_to_at}) - 1) END"
    )


def _provider_of(endpoint: str) -> str:
    """SQL: the part of ``endpoint`` after its last "@" (NULL without one)."""
    up_to_at = f"rtrim({endpoint}, replace({endpoint}, '@', ''))"
    return (
        f"CASE WHEN instr({endpoint}, '@') = 0 THEN NULL"
        f" ELSE substr({endpoint}, length({up_to_at}) + 1) END"
    )


# One scan of the replies (the partial index makes it an index-only scan), summed into cells:
# one per day, conversation, served endpoint and gateway. Every spend figure is a GROUP BY over
# the cells. Whether a reply with an unknown cost has text is read from its row only for those
# replies (reading every reply's text would cost a scan of the whole table). A reply without a
# served endpoint (it failed, or the server never said) counts for the requested model: the
# requested endpoint up to its first "@" or "->".
_CELLS: Final = f"""
CREATE TEMP TABLE spend_cells AS
SELECT
    day,
    date(day, '-6 days', 'weekday 1') AS week,
    substr(day, 1, 7) AS month,
    conversation_id,
    endpoint,
    CASE WHEN endpoint IS NULL THEN unserved_model ELSE {_model_of("endpoint")} END AS model,
    {_provider_of("endpoint")} AS provider,
    gateway,
    replies, known_cost, known_replies, estimated, missing,
    prompt_tokens, completion_tokens, tokens_estimated,
    rate_cost, rate_tokens, rate_replies, rate_estimated, last_reply_at
FROM (
    SELECT
        date(m.created_at, 'unixepoch', 'localtime') AS day,
        m.conversation_id,
        m.served_endpoint AS endpoint,
        CASE WHEN m.served_endpoint IS NULL THEN
            CASE
                WHEN instr(m.requested_endpoint, '->') > 0
                     AND (instr(m.requested_endpoint, '@') = 0
                          OR instr(m.requested_endpoint, '->') < instr(m.requested_endpoint, '@'))
                THEN substr(m.requested_endpoint, 1, instr(m.requested_endpoint, '->') - 1)
                WHEN instr(m.requested_endpoint, '@') > 0
                THEN substr(m.requested_endpoint, 1, instr(m.requested_endpoint, '@') - 1)
                ELSE m.requested_endpoint
            END
        END AS unserved_model,
        m.gateway,
        COUNT(*) AS replies,
        COALESCE(SUM(m.cost), 0.0) AS known_cost,
        COUNT(m.cost) AS known_replies,
        COALESCE(MAX(m.cost IS NOT NULL AND m.cost_estimated), 0) AS estimated,
        COALESCE(MAX(CASE
            WHEN m.cost IS NOT NULL THEN 0
            ELSE (SELECT t.content != '' FROM messages AS t WHERE t.id = m.id)
        END), 0) AS missing,
        COALESCE(SUM(m.prompt_tokens), 0) AS prompt_tokens,
        COALESCE(SUM(m.completion_tokens), 0) AS completion_tokens,
        COALESCE(MAX(m.completion_tokens IS NOT NULL AND m.tokens_estimated), 0)
            AS tokens_estimated,
        -- for cost per 1,000 tokens: the replies whose cost and both token counts are known
        COALESCE(SUM(CASE WHEN {{rated}} THEN m.cost END), 0.0) AS rate_cost,
        COALESCE(SUM(CASE WHEN {{rated}} THEN m.prompt_tokens + m.completion_tokens END), 0)
            AS rate_tokens,
        COUNT(CASE WHEN {{rated}} THEN 1 END) AS rate_replies,
        COALESCE(MAX(CASE WHEN {{rated}} THEN m.cost_estimated OR m.tokens_estimated END), 0)
            AS rate_estimated,
        MAX(m.created_at) AS last_reply_at
    FROM messages AS m
    WHERE m.role = 'assistant'
    GROUP BY day, m.conversation_id, m.served_endpoint, unserved_model, m.gateway
)
""".replace(
    "{rated}",
    "m.cost IS NOT NULL AND m.prompt_tokens IS NOT NULL AND m.completion_tokens IS NOT NULL",
)

# The columns of one group's spend, summed over its cells, in the order _spend_row reads them.
_SPEND_COLUMNS: Final = """
    SUM(replies), SUM(known_cost), SUM(known_replies), MAX(estimated), MAX(missing),
    SUM(prompt_tokens), SUM(completion_tokens), MAX(tokens_estimated)
"""

_BY_PERIOD: Final = f"""
SELECT {{name}} AS name, {_SPEND_COLUMNS} FROM spend_cells GROUP BY name ORDER BY name
"""

# Most spent first; an unknown spend (no known cost) last; then by name, so the order is stable.
_BY_NAME: Final = f"""
SELECT {{name}} AS name, {_SPEND_COLUMNS} FROM spend_cells GROUP BY name
ORDER BY SUM(known_replies) = 0, SUM(known_cost) DESC, name IS NULL, name
"""

# The title is looked up for each conversation's group before the sort (a lookup by id each).
_TOP_CONVERSATIONS: Final = f"""
SELECT conversation_id, (SELECT title FROM conversations WHERE id = conversation_id),
    MAX(last_reply_at), {_SPEND_COLUMNS}
FROM spend_cells GROUP BY conversation_id
ORDER BY SUM(known_replies) = 0, SUM(known_cost) DESC, conversation_id
LIMIT :limit
"""

# Credits per 1,000 tokens per served endpoint.
_RATES: Final = """
SELECT endpoint, SUM(rate_replies), SUM(rate_tokens),
    SUM(rate_cost) * :per / SUM(rate_tokens) AS rate, MAX(rate_estimated)
FROM spend_cells
WHERE endpoint IS NOT NULL AND rate_replies > 0
GROUP BY endpoint HAVING SUM(rate_tokens) > 0
ORDER BY rate DESC, endpoint
"""

# Medians per served endpoint (a model on a provider) over the replies that finished, read
# straight from the index once (MATERIALIZED): each value's place by ROW_NUMBER over its
# endpoint's partition, the median the middle value or the mean of the two middle ones. Speed as
# Message.tokens_per_second: completion tokens over the time after the first token.
_SPEEDS: Final = f"""
WITH finished AS MATERIALIZED (
    SELECT
        served_endpoint AS endpoint,
        ttft_ms,
        CASE
            WHEN completion_tokens > 0 AND duration_ms - COALESCE(ttft_ms, 0) > 0
            THEN completion_tokens * 1000.0 / (duration_ms - COALESCE(ttft_ms, 0))
        END AS tokens_per_s,
        tokens_estimated
    FROM messages
    WHERE role = 'assistant' AND outcome = 'complete' AND served_endpoint IS NOT NULL
),
counts AS (
    SELECT endpoint, COUNT(*) AS replies, COUNT(ttft_ms) AS ttft_replies,
        COUNT(tokens_per_s) AS speed_replies,
        MAX(CASE WHEN tokens_per_s IS NOT NULL THEN tokens_estimated END) AS tokens_estimated
    FROM finished GROUP BY endpoint
),
ttft_placed AS (
    SELECT endpoint, ttft_ms,
        ROW_NUMBER() OVER (PARTITION BY endpoint ORDER BY ttft_ms) AS place
    FROM finished WHERE ttft_ms IS NOT NULL
),
speed_placed AS (
    SELECT endpoint, tokens_per_s,
        ROW_NUMBER() OVER (PARTITION BY endpoint ORDER BY tokens_per_s) AS place
    FROM finished WHERE tokens_per_s IS NOT NULL
),
ttft_median AS (
    SELECT endpoint, AVG(ttft_ms) AS value FROM ttft_placed JOIN counts USING (endpoint)
    WHERE place IN ((ttft_replies + 1) / 2, (ttft_replies + 2) / 2) GROUP BY endpoint
),
speed_median AS (
    SELECT endpoint, AVG(tokens_per_s) AS value FROM speed_placed JOIN counts USING (endpoint)
    WHERE place IN ((speed_replies + 1) / 2, (speed_replies + 2) / 2) GROUP BY endpoint
)
SELECT
    {_model_of("c.endpoint")} AS model, {_provider_of("c.endpoint")} AS provider,
    c.replies, t.value, c.ttft_replies, s.value AS speed, c.speed_replies,
    COALESCE(c.tokens_estimated, 0)
FROM counts AS c
LEFT JOIN ttft_median AS t USING (endpoint)
LEFT JOIN speed_median AS s USING (endpoint)
WHERE provider IS NOT NULL
ORDER BY model, speed IS NULL, speed DESC, provider
"""


@dataclass(frozen=True)
class SpendRow:
    """The spend of one group of replies: a day, week or month, a model, provider, gateway or
    served endpoint. ``name`` None: the group of replies for which it is not known (no served
    endpoint; a gateway not recorded). Tokens are the sums of the known counts."""

    name: str | None
    spend: Spend
    replies: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_estimated: bool = False


@dataclass(frozen=True)
class ConversationSpend:
    """One of the most expensive conversations."""

    conversation_id: int
    title: str
    last_reply_at: float  # Unix seconds
    row: SpendRow


@dataclass(frozen=True)
class EndpointRate:
    """Credits per 1,000 tokens (prompt and completion) on one served endpoint, over the
    ``replies`` whose cost and token counts are known; ``estimated`` when one of them was."""

    endpoint: str
    rate: Spend  # credits per 1,000 tokens
    replies: int
    tokens: int


@dataclass(frozen=True)
class SpeedRow:
    """Median time to first token (ms) and tokens/s of one model on one provider, over the
    finished replies that have them (``ttft_replies``, ``speed_replies`` of ``replies``)."""

    model: str | None
    provider: str
    replies: int
    median_ttft_ms: float | None
    ttft_replies: int
    median_tokens_per_s: float | None
    speed_replies: int
    tokens_estimated: bool  # a token count in the speeds was counted from the text


@dataclass(frozen=True)
class SpendReport:
    """Everything the spend screen shows, read at one moment. Periods oldest first; groups most
    spent first. ``today``, ``this_week`` and ``this_month`` name the current periods (local
    time), as the period rows do. ``query_ms``: how long each step took (for the benchmark)."""

    total: SpendRow
    days: tuple[SpendRow, ...]
    weeks: tuple[SpendRow, ...]
    months: tuple[SpendRow, ...]
    models: tuple[SpendRow, ...]
    providers: tuple[SpendRow, ...]
    gateways: tuple[SpendRow, ...]
    endpoints: tuple[SpendRow, ...]
    conversations: tuple[ConversationSpend, ...]
    rates: tuple[EndpointRate, ...]
    speeds: tuple[SpeedRow, ...]
    today: str
    this_week: str
    this_month: str
    query_ms: Mapping[str, float] = field(default_factory=dict)
    presets: tuple[PresetRow, ...] = ()
    billing: BilledTotals = field(default_factory=lambda: BilledTotals(0, 0.0, 0.0))

    def period(self, rows: tuple[SpendRow, ...], name: str) -> SpendRow | None:
        """The row of the period ``name`` (``today``...), None if nothing was spent in it."""
        for row in reversed(rows):  # the current period is the last, or absent
            if row.name == name:
                return row
        return None


def _spend(known_cost: float, known_replies: int, estimated: int, missing: int) -> Spend:
    """A group's spend by the app's rule (``Conversation.spend``)."""
    if known_replies == 0:
        return Spend(None if missing else 0.0)
    return Spend(known_cost, estimated=bool(estimated), partial=bool(missing))


def _spend_row(name: str | None, values: Sequence[Any]) -> SpendRow:
    """A row of ``_SPEND_COLUMNS`` (NULLs, from no replies at all, read as none)."""
    replies, known_cost, known_replies, estimated, missing, prompt, completion, counted = (
        0 if value is None else value for value in values
    )
    return SpendRow(
        name=name,
        spend=_spend(float(known_cost), int(known_replies), int(estimated), int(missing)),
        replies=int(replies),
        prompt_tokens=int(prompt),
        completion_tokens=int(completion),
        tokens_estimated=bool(counted),
    )


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection of its own to the database at ``path`` (it must exist)."""
    uri = f"{path.expanduser().resolve().as_uri()}?mode=ro"
    with translated("read the conversation database", path):
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def spend_report(
    conn: sqlite3.Connection,
    *,
    now: float | None = None,
    top_conversations: int = TOP_CONVERSATIONS,
) -> SpendReport:
    """Read the spend of every stored reply (blocking: call it from a thread). ``now`` (Unix
    seconds) decides which day, week and month are the current ones."""
    now = time.time() if now is None else now
    timings: dict[str, float] = {}

    def timed(step: str, sql: str, parameters: Mapping[str, object] | None = None) -> list[Any]:
        started = time.perf_counter()
        rows = conn.execute(sql, parameters or {}).fetchall()
        timings[step] = (time.perf_counter() - started) * 1000
        return rows

    with translated("read the spend", None):
        conn.execute("BEGIN")  # one snapshot for every figure
        try:
            conn.execute("DROP TABLE IF EXISTS temp.spend_cells")
            timed("read replies into cells", _CELLS)
            ((today, this_week, this_month),) = timed(
                "current periods",
                "SELECT date(:now, 'unixepoch', 'localtime'),"
                " date(:now, 'unixepoch', 'localtime', '-6 days', 'weekday 1'),"
                " strftime('%Y-%m', :now, 'unixepoch', 'localtime')",
                {"now": now},
            )
            (total,) = timed("total", f"SELECT {_SPEND_COLUMNS} FROM spend_cells")
            by_name = {
                group: tuple(
                    _spend_row(_text_or_none(name), values)
                    for name, *values in timed(
                        f"by {group}",
                        (_BY_PERIOD if group in _PERIODS else _BY_NAME).format(name=group),
                    )
                )
                for group in (*_PERIODS, "model", "provider", "gateway", "endpoint")
            }
            conversations = tuple(
                ConversationSpend(
                    conversation_id=int(conversation_id),
                    title="" if title is None else str(title),
                    last_reply_at=float(last),
                    row=_spend_row(None, values),
                )
                for conversation_id, title, last, *values in timed(
                    "top conversations", _TOP_CONVERSATIONS, {"limit": top_conversations}
                )
            )
            rates = tuple(
                EndpointRate(
                    endpoint=str(endpoint),
                    rate=Spend(float(rate), estimated=bool(estimated)),
                    replies=int(replies),
                    tokens=int(tokens),
                )
                for endpoint, replies, tokens, rate, estimated in timed(
                    "cost per 1,000 tokens", _RATES, {"per": TOKENS_PER_RATE_UNIT}
                )
            )
            speeds = tuple(
                SpeedRow(
                    model=_text_or_none(model),
                    provider=str(provider),
                    replies=int(replies),
                    median_ttft_ms=None if ttft is None else float(ttft),
                    ttft_replies=int(ttft_replies),
                    median_tokens_per_s=None if speed is None else float(speed),
                    speed_replies=int(speed_replies),
                    tokens_estimated=bool(estimated),
                )
                for (
                    model,
                    provider,
                    replies,
                    ttft,
                    ttft_replies,
                    speed,
                    speed_replies,
                    estimated,
                ) in timed("median speeds", _SPEEDS)
            )
            presets = tuple(
                PresetRow(str(preset), _text_or_none(provider), int(replies), speed, ttft, rate)
                for preset, provider, replies, speed, ttft, rate in timed(
                    "routing presets", _PRESETS
                )
            )
            ((billed_replies, reported, billed),) = timed("billed vs reported", _BILLED)
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")
            conn.execute("DROP TABLE IF EXISTS temp.spend_cells")
    return SpendReport(
        total=_spend_row(None, total),
        days=by_name["day"],
        weeks=by_name["week"],
        months=by_name["month"],
        models=by_name["model"],
        providers=by_name["provider"],
        gateways=by_name["gateway"],
        endpoints=by_name["endpoint"],
        conversations=conversations,
        rates=rates,
        speeds=speeds,
        presets=presets,
        billing=BilledTotals(int(billed_replies), float(reported), float(billed)),
        today=str(today),
        this_week=str(this_week),
        this_month=str(this_month),
        query_ms=timings,
    )


# The spend of the replies begun in [since, until), through one gateway or all, by the rules of
# the cells above: an estimate marks the sum, a reply with text and no cost makes it a lower
# bound. The reply index leads with created_at: a range scan of the period only.
_BETWEEN: Final = """
SELECT COALESCE(SUM(m.cost), 0.0), COUNT(m.cost),
    COALESCE(MAX(m.cost IS NOT NULL AND m.cost_estimated), 0),
    COALESCE(MAX(CASE
        WHEN m.cost IS NOT NULL THEN 0
        ELSE (SELECT t.content != '' FROM messages AS t WHERE t.id = m.id)
    END), 0)
FROM messages AS m
WHERE m.role = 'assistant' AND m.created_at >= :since AND m.created_at < :until
    AND (:gateway IS NULL OR m.gateway = :gateway)
"""


def spend_between(
    conn: sqlite3.Connection, since: float, until: float, gateway: str | None = None
) -> Spend:
    """Credits spent on the replies begun from ``since`` up to ``until`` (Unix seconds), through
    the gateway profile ``gateway`` (None: every gateway). Blocking; for the budgets."""
    with translated("read the spend", None):
        row = conn.execute(
            _BETWEEN, {"since": since, "until": until, "gateway": gateway}
        ).fetchone()
    known_cost, known_replies, estimated, missing = row
    return _spend(float(known_cost), int(known_replies), int(estimated), int(missing))


# The routing presets' figures (core.my_routing): per provider of one model, over its last
# :last finished replies, the median tokens/s and TTFT (as _SPEEDS) and the cost per 1,000
# tokens. The served endpoint is "<model>@<provider>" with no other "@" after the model.
_PROVIDER_FIGURES: Final = """
WITH mine AS MATERIALIZED (
    SELECT
        substr(served_endpoint, length(:model) + 2) AS provider,
        created_at, ttft_ms, cost, prompt_tokens, completion_tokens,
        CASE
            WHEN completion_tokens > 0 AND duration_ms - COALESCE(ttft_ms, 0) > 0
            THEN completion_tokens * 1000.0 / (duration_ms - COALESCE(ttft_ms, 0))
        END AS tokens_per_s
    FROM messages
    WHERE role = 'assistant' AND outcome = 'complete'
        AND substr(served_endpoint, 1, length(:model) + 1) = :model || '@'
        AND instr(substr(served_endpoint, length(:model) + 2), '@') = 0
        AND (:gateway IS NULL OR gateway IS NULL OR gateway = :gateway)
),
recent AS (
    SELECT * FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY provider ORDER BY created_at DESC) AS age
        FROM mine
    ) WHERE age <= :last
),
counts AS (
    SELECT provider, COUNT(*) AS replies, COUNT(tokens_per_s) AS speed_replies,
        COUNT(ttft_ms) AS ttft_replies,
        COUNT(CASE WHEN cost IS NOT NULL AND prompt_tokens IS NOT NULL
                   AND completion_tokens IS NOT NULL THEN 1 END) AS cost_replies,
        SUM(CASE WHEN cost IS NOT NULL AND prompt_tokens IS NOT NULL
                 AND completion_tokens IS NOT NULL THEN cost END) AS rated_cost,
        SUM(CASE WHEN cost IS NOT NULL AND prompt_tokens IS NOT NULL
                 AND completion_tokens IS NOT NULL THEN prompt_tokens + completion_tokens END)
            AS rated_tokens
    FROM recent GROUP BY provider
),
speed_placed AS (
    SELECT provider, tokens_per_s,
        ROW_NUMBER() OVER (PARTITION BY provider ORDER BY tokens_per_s) AS place
    FROM recent WHERE tokens_per_s IS NOT NULL
),
ttft_placed AS (
    SELECT provider, ttft_ms, ROW_NUMBER() OVER (PARTITION BY provider ORDER BY ttft_ms) AS place
    FROM recent WHERE ttft_ms IS NOT NULL
),
speed_median AS (
    SELECT provider, AVG(tokens_per_s) AS value FROM speed_placed JOIN counts USING (provider)
    WHERE place IN ((speed_replies + 1) / 2, (speed_replies + 2) / 2) GROUP BY provider
),
ttft_median AS (
    SELECT provider, AVG(ttft_ms) AS value FROM ttft_placed JOIN counts USING (provider)
    WHERE place IN ((ttft_replies + 1) / 2, (ttft_replies + 2) / 2) GROUP BY provider
)
SELECT c.provider, c.replies, s.value, c.speed_replies, t.value, c.ttft_replies,
    CASE WHEN c.rated_tokens > 0 THEN c.rated_cost * 1000.0 / c.rated_tokens END,
    c.cost_replies
FROM counts AS c
LEFT JOIN speed_median AS s USING (provider)
LEFT JOIN ttft_median AS t USING (provider)
WHERE c.provider != ''
ORDER BY c.provider
"""


def provider_figures(
    conn: sqlite3.Connection, model: str, *, gateway: str | None = None, last: int = 50
) -> list[ProviderFigures]:
    """Per provider of ``model``: medians and cost per 1,000 tokens over its ``last`` finished
    replies (through ``gateway``, or replies whose gateway was not recorded). Blocking."""
    with translated("read the replies' figures", None):
        rows = conn.execute(
            _PROVIDER_FIGURES, {"model": model, "gateway": gateway, "last": last}
        ).fetchall()
    return [
        ProviderFigures(
            provider=str(provider),
            replies=int(replies),
            median_tokens_per_s=speed,
            speed_replies=int(speed_replies),
            median_ttft_ms=ttft,
            ttft_replies=int(ttft_replies),
            cost_per_1k=rate,
            cost_replies=int(cost_replies),
        )
        for provider, replies, speed, speed_replies, ttft, ttft_replies, rate, cost_replies in rows
    ]


# How each routing preset did: the replies sent to <model>@my-..., by preset and the provider
# that served them, with their medians and cost per 1,000 tokens.
_PRESETS: Final = f"""
WITH sent AS MATERIALIZED (
    SELECT
        {_provider_of("requested_endpoint")} AS preset,
        {_provider_of("served_endpoint")} AS provider,
        ttft_ms, cost, prompt_tokens, completion_tokens,
        CASE
            WHEN completion_tokens > 0 AND duration_ms - COALESCE(ttft_ms, 0) > 0
            THEN completion_tokens * 1000.0 / (duration_ms - COALESCE(ttft_ms, 0))
        END AS tokens_per_s
    FROM messages
    WHERE role = 'assistant' AND outcome = 'complete' AND requested_endpoint LIKE '%@my-%'
),
groups AS (
    SELECT preset, provider, COUNT(*) AS replies, COUNT(tokens_per_s) AS speed_replies,
        COUNT(ttft_ms) AS ttft_replies,
        SUM(CASE WHEN cost IS NOT NULL AND prompt_tokens IS NOT NULL
                 AND completion_tokens IS NOT NULL THEN cost END) AS rated_cost,
        SUM(CASE WHEN cost IS NOT NULL AND prompt_tokens IS NOT NULL
                 AND completion_tokens IS NOT NULL THEN prompt_tokens + completion_tokens END)
            AS rated_tokens
    FROM sent WHERE preset IN ('my-fastest', 'my-quickest-start', 'my-cheapest')
    GROUP BY preset, provider
),
speed_placed AS (
    SELECT preset, provider, tokens_per_s,
        ROW_NUMBER() OVER (PARTITION BY preset, provider ORDER BY tokens_per_s) AS place
    FROM sent WHERE tokens_per_s IS NOT NULL
),
ttft_placed AS (
    SELECT preset, provider, ttft_ms,
        ROW_NUMBER() OVER (PARTITION BY preset, provider ORDER BY ttft_ms) AS place
    FROM sent WHERE ttft_ms IS NOT NULL
),
speed_median AS (
    SELECT preset, provider, AVG(tokens_per_s) AS value
    FROM speed_placed JOIN groups USING (preset, provider)
    WHERE place IN ((speed_replies + 1) / 2, (speed_replies + 2) / 2) GROUP BY preset, provider
),
ttft_median AS (
    SELECT preset, provider, AVG(ttft_ms) AS value
    FROM ttft_placed JOIN groups USING (preset, provider)
    WHERE place IN ((ttft_replies + 1) / 2, (ttft_replies + 2) / 2) GROUP BY preset, provider
)
SELECT g.preset, g.provider, g.replies, s.value, t.value,
    CASE WHEN g.rated_tokens > 0 THEN g.rated_cost * 1000.0 / g.rated_tokens END
FROM groups AS g
LEFT JOIN speed_median AS s ON s.preset = g.preset AND s.provider IS g.provider
LEFT JOIN ttft_median AS t ON t.preset = g.preset AND t.provider IS g.provider
ORDER BY g.preset, g.replies DESC, g.provider
"""


@dataclass(frozen=True)
class PresetRow:
    """How a routing preset did on one provider it chose: its replies' medians and cost."""

    preset: str  # my-fastest, my-quickest-start, my-cheapest
    provider: str | None
    replies: int
    median_tokens_per_s: float | None
    median_ttft_ms: float | None
    cost_per_1k: float | None


@dataclass(frozen=True)
class BilledTotals:
    """The replies whose billed cost was measured (a balance change around each alone): what
    they reported and what they were billed, credits."""

    replies: int
    reported: float
    billed: float

    @property
    def difference(self) -> float:
        return self.billed - self.reported


_BILLED: Final = """
SELECT COUNT(*), COALESCE(SUM(cost), 0.0), COALESCE(SUM(billed_cost), 0.0) FROM messages
WHERE role = 'assistant' AND billed_cost IS NOT NULL AND cost IS NOT NULL
"""


def preset_performance(conn: sqlite3.Connection) -> list[PresetRow]:
    """Every reply sent with a routing preset, by preset and the provider that served it."""
    with translated("read the spend", None):
        rows = conn.execute(_PRESETS).fetchall()
    return [
        PresetRow(str(preset), _text_or_none(provider), int(replies), speed, ttft, rate)
        for preset, provider, replies, speed, ttft, rate in rows
    ]


def load_spend_report(path: Path, *, now: float | None = None) -> SpendReport:
    """Open the database at ``path`` read-only, read its spend, close it. Blocking."""
    conn = open_read_only(path)
    try:
        return spend_report(conn, now=now)
    finally:
        conn.close()


# -- CSV ------------------------------------------------------------------------------------

CSV_COLUMNS: Final = (
    "group",
    "name",
    "credits",
    "figure",
    "replies",
    "prompt_tokens",
    "completion_tokens",
)


def figure_word(spend: Spend) -> str:
    """How sure a spend is, in a word a spreadsheet can filter on."""
    if spend.amount is None:
        return "unknown"
    if spend.partial:
        return "lower bound"
    return "estimate" if spend.estimated else "exact"


def _cell(text: str) -> str:
    """A name from the store made safe for a CSV read in a terminal or a spreadsheet: control
    characters shown as the chat log shows them, and a leading = + - @ (a spreadsheet formula)
    quoted with an apostrophe."""
    shown = inert(text)
    return f"'{shown}" if shown[:1] in ("=", "+", "-", "@") else shown


def spend_csv(report: SpendReport) -> str:
    """The report's spend rows as CSV: ``group`` is total, day, week, month, model, provider,
    gateway, endpoint or conversation; ``credits`` empty when unknown; ``figure`` exact, estimate,
    lower bound or unknown (the screen's ``~``, ``≥``, ``–``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def write(group: str, name: str, row: SpendRow) -> None:
        amount = row.spend.amount
        writer.writerow(
            (
                group,
                _cell(name),
                "" if amount is None else format_credits(amount),
                figure_word(row.spend),
                row.replies,
                row.prompt_tokens,
                row.completion_tokens,
            )
        )

    write("total", "all replies", report.total)
    for group, rows in (
        ("day", report.days),
        ("week", report.weeks),
        ("month", report.months),
        ("model", report.models),
        ("provider", report.providers),
        ("gateway", report.gateways),
        ("endpoint", report.endpoints),
    ):
        for row in rows:
            write(group, "" if row.name is None else row.name, row)
    for conversation in report.conversations:
        write("conversation", conversation.title, conversation.row)
    return out.getvalue()


def write_spend_csv(report: SpendReport, folder: Path, *, now: float | None = None) -> Path:
    """Write ``spend_csv(report)`` into ``folder`` as ``spend-<time>.csv``, by the rules of the
    conversation exports (``store.export``): a missing folder made 0700, the file 0600. Blocking.
    Raises ``ExportError``."""
    now = time.time() if now is None else now
    path = folder / export_file_name("spend", ".csv", now)
    try:
        make_private_folder(folder)
        write_private(path, spend_csv(report))
    except OSError as error:
        raise ExportError(folder, path, export_folder_problem(folder, error)) from error
    return path
