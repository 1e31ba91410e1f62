"""Fixtures for the store tests: a store on a temporary file and a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_chat.core.conversation import Message, Outcome
from tui_chat.store import Store


class FakeClock:
    """Unix seconds that advance one second per reading, so every stamp is distinct."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "conversations.db"


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Iterator[Store]:
    opened = Store.open(db_path, clock=clock)
    try:
        yield opened
    finally:
        opened.close()


def user(text: str, created_at: float = 1_700_000_000.0) -> Message:
    return Message(role="user", content=text, created_at=created_at)


def reply(
    text: str,
    *,
    requested: str = "gpt-4o@openai",
    served: str | None = "gpt-4o@openai",
    cost: float | None = 0.0012,
    outcome: Outcome | None = Outcome.COMPLETE,
    created_at: float = 1_700_000_001.0,
) -> Message:
    return Message(
        role="assistant",
        content=text,
        created_at=created_at,
        requested_endpoint=requested,
        served_endpoint=served,
        prompt_tokens=12,
        completion_tokens=34,
        cost=cost,
        ttft_ms=230.0,
        duration_ms=1500.0,
        outcome=outcome,
    )
