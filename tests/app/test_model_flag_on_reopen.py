"""An explicit --model (or --gateway) wins over the model of the conversation reopened at start.

Regression for "--model given on the command line is ignored when the app reopens the last
conversation (the saved model wins)". config.toml's default_model must NOT win: the reopened
conversation's model does (cli passes ``pin_model`` only for --model/--gateway; see
tests/test_cli.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tui_chat.core.conversation import Message
from tui_chat.store import Store

SAVED_MODEL = "gpt-4o-mini@openai"
FLAG_MODEL = "llama-3.1-8b-chat@groq"


@pytest.fixture
def saved_store(tmp_path: Path) -> Iterator[Store]:
    """A database whose last opened conversation was using SAVED_MODEL."""
    store = Store.open(tmp_path / "conversations.db")
    record = store.create_conversation("Capitals", model=SAVED_MODEL)
    store.append_message(record.id, Message(role="user", content="What is the capital of Spain?"))
    store.append_message(record.id, Message(role="assistant", content="Madrid."))
    store.mark_opened(record.id)
    try:
        yield store
    finally:
        store.close()


async def test_model_flag_wins_over_the_reopened_conversations_model(
    make_app: Any, sim: Any, saved_store: Store
) -> None:
    app = make_app(store=saved_store, model=FLAG_MODEL, pin_model=True)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: len(app.conversation.messages) == 2, what="reopened")
        assert app.endpoint == FLAG_MODEL
        # the panel's widgets are mounted after the first frame
        await wait_until(pilot, lambda: app.selector.built, what="the selector panel")
        assert app.selector.query_one("#endpoint-input", Input).value == FLAG_MODEL
        notices = " ".join(str(n.render()) for n in app.chat_log.query(".notice"))
        assert f"Next messages go to {FLAG_MODEL}" in notices
        await send(pilot, "And of France?")
        await wait_for_reply(pilot, 2)
        sent = sim.requests[-1]
        assert sent.model == FLAG_MODEL
        assert [m["content"] for m in sent.messages if m["role"] == "user"] == [
            "What is the capital of Spain?",
            "And of France?",
        ]
        assert app.recorder is not None
        assert await asyncio.to_thread(app.recorder.flush)
    # The conversation goes on with the model asked for: the next plain start reopens it so.
    record = saved_store.last_opened_conversation()
    assert record is not None and record.model == FLAG_MODEL


async def test_without_the_flag_the_reopened_conversations_model_wins(
    make_app: Any, sim: Any, saved_store: Store
) -> None:
    # e.g. config.toml's default_model: the app is built with it, but nothing pins it
    app = make_app(store=saved_store, model=FLAG_MODEL)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: len(app.conversation.messages) == 2, what="reopened")
        await wait_until(pilot, lambda: app.endpoint == SAVED_MODEL, what="the saved model")
    record = saved_store.last_opened_conversation()
    assert record is not None and record.model == SAVED_MODEL


async def test_the_reopened_conversations_model_gets_its_own_providers_listed(
    make_app: Any, sim: Any, saved_store: Store
) -> None:
    # Regression: after a restart that reopened the last conversation, the Provider dropdown
    # said "Loading providers…" for ever: the listing asked for at start was the old model's.
    from textual.widgets import Select

    app = make_app(store=saved_store, model=FLAG_MODEL)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.endpoint == SAVED_MODEL, what="the saved model")
        await wait_until(pilot, lambda: app.selector.built, what="the selector panel")
        providers = app.selector.query_one("#provider-select", Select)
        await wait_until(
            pilot,
            lambda: any(value == "openai" for _, value in providers._options),
            what="gpt-4o-mini's providers listed",
        )
        assert providers.value == "openai"
        assert str(providers.prompt) != "Loading providers…"
        await wait_until(
            pilot, lambda: SAVED_MODEL in app.account_watch.details, what="its details"
        )
