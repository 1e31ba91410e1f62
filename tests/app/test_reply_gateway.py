"""Each reply records the gateway profile it came through (messages.gateway, schema 5): the app
from its profile name, --plain from the Agent's profile; the spend screen groups by it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tui_chat import Agent
from tui_chat.config import GatewayProfile
from tui_chat.store import Store


async def test_a_reply_is_saved_with_the_profile_it_came_through(
    make_app: Any, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "c.db")
    try:
        app = make_app(store=store, profile_name="work")
        async with app.run_test(size=APP_SIZE) as pilot:
            await send(pilot, "hello")
            await wait_for_reply(pilot)
            (_, answer) = app.conversation.messages
            assert answer.gateway == "work"
            await wait_until(
                pilot,
                lambda: (
                    [
                        m.gateway
                        for m in store.load_conversation(app.saved.conversation_id or 0).messages
                    ]
                    == [None, "work"]
                ),
                what="the reply saved with its gateway",
            )
    finally:
        store.close()


def test_plain_records_the_agents_profile(sim: Any) -> None:
    profile = GatewayProfile("mine", "unify", base_url=sim.base_url, key_env="")
    agent = Agent(
        "llama-3.1-8b-chat@groq",
        profile=profile,
        api_key="test-key",
        stdin=io.StringIO("Hi\npause\n"),
        stdout=io.StringIO(),
    )
    agent.run()
    replies = [m for m in agent._conversation.messages if m.role == "assistant"]
    assert [m.gateway for m in replies] == ["mine"]
