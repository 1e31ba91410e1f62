"""Fill a conversation database with a long generated history, for the spend screen.

Usage: python3 benchmarks/spend_history.py PATH [--replies N] [--years Y] [--seed S]

Then: unify-tui --demo --db PATH, and f9 opens the spend screen over it.

The history: ``--replies`` replies (100,000 by default) spread over ``--years`` years back from
now, in conversations of 1 to 30 turns, each reply answered by one of several models and
providers on one of three gateways. Most costs are reported; about 5 % are estimates (a stopped
reply, a server without costs), 2 % unknown, 1 % of the replies failed (no text, no cost), 3 %
have estimated tokens. The rows are written with plain SQL in one transaction (the Store API
commits each message durably, which would take minutes), after ``Store.open`` made the schema.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_chat.store import Store

# model -> (providers, input $/M, output $/M)
MODELS: dict[str, tuple[tuple[str, ...], float, float]] = {
    "llama-3.1-8b-chat": (("groq", "together-ai", "fireworks-ai"), 0.1, 0.1),
    "llama-3.1-70b-chat": (("groq", "together-ai", "deepinfra"), 0.6, 0.8),
    "gpt-4o-mini": (("openai", "azure-ai"), 0.15, 0.6),
    "gpt-4o": (("openai",), 2.5, 10.0),
    "claude-3.5-sonnet": (("anthropic", "aws-bedrock"), 3.0, 15.0),
    "mistral-large": (("mistral-ai",), 2.0, 6.0),
}
GATEWAYS = ("unify", "openrouter", "demo")
# provider -> (median TTFT ms, tokens/s)
SPEEDS = {
    "groq": (180.0, 600.0),
    "together-ai": (350.0, 120.0),
    "fireworks-ai": (300.0, 150.0),
    "deepinfra": (500.0, 60.0),
    "openai": (450.0, 90.0),
    "azure-ai": (600.0, 70.0),
    "anthropic": (800.0, 60.0),
    "aws-bedrock": (900.0, 50.0),
    "mistral-ai": (400.0, 80.0),
}
WORDS = [
    "the",
    "a",
    "spend",
    "model",
    "token",
    "reply",
    "provider",
    "cost",
    "answer",
    "question",
    "why",
    "how",
    "speed",
]


def fill_history(
    path: Path, replies: int = 100_000, years: float = 3.0, seed: int = 18, now: float | None = None
) -> None:
    """Write ``replies`` generated replies (and the user messages they answer) into ``path``."""
    Store.open(path).close()  # the schema, by the app's own migrations
    rng = random.Random(seed)
    now = time.time() if now is None else now
    start = now - years * 365.25 * 86400
    conn = sqlite3.connect(path)
    conn.execute("BEGIN")
    conversation_id = 0
    written = 0
    times = sorted(rng.uniform(start, now) for _ in range(replies))
    conversations: list[tuple[object, ...]] = []
    messages: list[tuple[object, ...]] = []
    while written < replies:
        conversation_id += 1
        turns = min(rng.randint(1, 30), replies - written)
        model = rng.choice(list(MODELS))
        providers, input_cost, output_cost = MODELS[model]
        gateway = rng.choice(GATEWAYS)
        first = times[written]
        last = times[written + turns - 1]
        title = " ".join(rng.choice(WORDS) for _ in range(4)).capitalize()
        conversations.append((conversation_id, title, first, last, model))
        for turn in range(turns):
            at = times[written]
            written += 1
            question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30)))
            messages.append(
                (conversation_id, 2 * turn, "user", question, at - 1.0) + (None,) * 10 + (0, 0)
            )
            provider = rng.choice(providers)
            endpoint = f"{model}@{provider}"
            roll = rng.random()
            prompt_tokens = rng.randint(20, 4000)
            completion_tokens: int | None = rng.randint(20, 1500)
            ttft_median, speed = SPEEDS[provider]
            ttft_ms: float | None = ttft_median * rng.uniform(0.5, 1.8)
            duration_ms: float | None = (ttft_ms or 0) + 1000 * (completion_tokens or 0) / (
                speed * rng.uniform(0.6, 1.4)
            )
            cost: float | None = (
                prompt_tokens * input_cost + (completion_tokens or 0) * output_cost
            ) / 1e6
            cost_estimated = 0
            tokens_estimated = 0
            outcome = "complete"
            content = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 200)))
            served: str | None = endpoint
            if roll < 0.01:  # failed: no text, no figures
                outcome, content, served = "error", "", None
                completion_tokens = cost = ttft_ms = duration_ms = None
            elif roll < 0.03:
                cost = None  # a server that reported no cost, no price to estimate from
            elif roll < 0.08:
                cost_estimated = 1
                outcome = rng.choice(("stopped", "cut", "complete"))
            if 0.01 <= roll < 0.04 or rng.random() < 0.02:
                tokens_estimated = int(completion_tokens is not None)
            messages.append(
                (
                    conversation_id,
                    2 * turn + 1,
                    "assistant",
                    content,
                    at,
                    f"{model}@{provider}" if rng.random() < 0.7 else f"{model}@lowest-ttft",
                    served,
                    prompt_tokens,
                    completion_tokens,
                    cost,
                    ttft_ms,
                    duration_ms,
                    outcome,
                    "The gateway failed." if outcome == "error" else None,
                    gateway,
                    cost_estimated,
                    tokens_estimated,
                )
            )
    conn.executemany(
        "INSERT INTO conversations (id, title, created_at, updated_at, model) VALUES (?,?,?,?,?)",
        conversations,
    )
    conn.executemany(
        """
        INSERT INTO messages (conversation_id, position, role, content, created_at,
            requested_endpoint, served_endpoint, prompt_tokens, completion_tokens, cost, ttft_ms,
            duration_ms, outcome, error, gateway, cost_estimated, tokens_estimated)
        VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
        """,
        messages,
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA optimize")
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--replies", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=18)
    arguments = parser.parse_args()
    if arguments.path.exists():
        parser.error(f"{arguments.path} exists; give a new file")
    started = time.perf_counter()
    fill_history(arguments.path, arguments.replies, arguments.years, arguments.seed)
    print(
        f"{arguments.replies} replies in {arguments.path} ({time.perf_counter() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
