"""Switching gateway profiles in the selector panel: Unify dialect -> OpenAI-compatible -> back."""

from __future__ import annotations

from typing import Any

from textual.widgets import Select, Static

from tests.app.conftest import APP_SIZE, profiles_app, send, wait_for_reply, wait_until
from tui_chat.config import GatewayProfile
from tui_chat.connection import profile_connector
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.screens.key_entry import KeyEntryScreen


def build(sim: Any, **extra_profiles: GatewayProfile) -> UnifyTUI:
    profiles = {
        "demo": GatewayProfile("demo", "demo", base_url=sim.base_url),
        "local": GatewayProfile(
            "local", "openai-compatible", base_url=sim.openai_base_url, key_env=""
        ),
        **extra_profiles,
    }
    return profiles_app(
        profiles,
        connect_profile=profile_connector(demo_base_url=sim.base_url, demo_key="test-key"),
    )


async def choose_gateway(pilot: Any, label_start: str) -> None:
    """Open the gateway dropdown and pick the option whose label starts with ``label_start``."""
    app = pilot.app
    select = app.query_one("#gateway-select", Select)
    await pilot.click("#gateway-select")
    await wait_until(pilot, lambda: select.expanded, what="the gateway list to open")
    labels = [str(prompt) for prompt, _ in select._options]
    target = next(i for i, label in enumerate(labels) if label.startswith(label_start))
    current = next(i for i, (_, value) in enumerate(select._options) if value == select.value)
    key = "down" if target > current else "up"
    for _ in range(abs(target - current)):
        await pilot.press(key)
    await pilot.press("enter")


def _text(app: UnifyTUI, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_switch_to_openai_compatible_and_back_keeps_and_resends_history(sim: Any) -> None:
    app = build(sim)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.balance is not None, what="the balance")
        await send(pilot, "Hi, my name is Ada and I live in Lisbon.")
        await wait_for_reply(pilot, 1)

        await choose_gateway(pilot, "local")
        await wait_until(pilot, lambda: app.profile_name == "local", what="the switch")
        await wait_until(pilot, lambda: bool(app.known_models), what="the server's models")
        assert "OpenAI-compatible" in app.status.gateway
        assert app.endpoint == "llama-3.1-8b-chat"  # the model part: this server names models
        # what this kind cannot do is greyed out, with a one-line reason
        assert app.query_one("#provider-select", Select).disabled
        assert "This gateway picks no provider" in _text(app, "#provider-note")
        assert "No balance: OpenAI-compatible servers do not report credits" in _text(
            app, "#capability-notes"
        )
        assert app.status.balance is None and not app.status.has_balance
        assert "Balance n/a" in app.status.part("balance")

        await send(pilot, "What is my name?")
        await wait_for_reply(pilot, 2)
        local_reply = app.conversation.messages[-1]
        assert "Ada" in local_reply.content
        assert local_reply.cost is None  # no price table: no cost, never a guess
        sent_local = [m["content"] for m in sim.requests_for("openai")[-1].messages]
        assert sent_local[0] == "Hi, my name is Ada and I live in Lisbon."
        assert sent_local[-1] == "What is my name?" and len(sent_local) == 3

        await choose_gateway(pilot, "Demo")
        await wait_until(pilot, lambda: app.profile_name == "demo", what="the switch back")
        assert app.endpoint == "llama-3.1-8b-chat@groq"  # the profile's own endpoint again
        await wait_until(pilot, lambda: app.status.balance is not None, what="the balance")
        provider_select = app.query_one("#provider-select", Select)
        assert not provider_select.disabled
        await wait_until(pilot, lambda: len(provider_select._options) > 1, what="the provider list")
        assert not app.query_one("#capability-notes", Static).display

        await send(pilot, "Where do I live?")
        await wait_for_reply(pilot, 3)
        assert "Lisbon" in app.conversation.messages[-1].content
        sent_back = [m["content"] for m in sim.requests_for("unify")[-1].messages]
        assert sent_back[:3] == sent_local
        assert sent_back[-1] == "Where do I live?" and len(sent_back) == 5
        assert app.conversation.messages[-1].cost is not None  # Unify reports cost again


async def test_price_table_gives_estimated_costs_after_switching(sim: Any) -> None:
    from tui_chat.config import ModelPrice

    priced = GatewayProfile(
        "priced",
        "openai-compatible",
        base_url=sim.openai_base_url,
        key_env="",
        default_model="gpt-4o-mini",
        prices={"gpt-4o-mini": ModelPrice(input=0.15, output=0.6)},
    )
    app = build(sim, priced=priced)
    async with app.run_test(size=APP_SIZE) as pilot:
        app.switch_gateway("priced")
        await wait_until(pilot, lambda: app.profile_name == "priced", what="the switch")
        assert app.endpoint == "gpt-4o-mini"  # the profile's default model
        await send(pilot, "Hello there")
        await wait_for_reply(pilot, 1)
        reply = app.conversation.messages[-1]
        assert reply.cost is not None and reply.cost > 0
        assert reply.cost_estimated


async def test_switch_without_a_key_stays_put_and_says_why(sim: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("UNIFY_TUI_TEST_NO_KEY", raising=False)
    keyless = GatewayProfile(
        "remote-router",
        "openrouter",
        base_url="https://openrouter.invalid/api/v1",
        key_env="UNIFY_TUI_TEST_NO_KEY",
    )
    app = build(sim, **{"remote-router": keyless})
    async with app.run_test(size=APP_SIZE) as pilot:
        app.switch_gateway("remote-router")
        # No key: the key dialog asks for one (tests/app/test_switch_profile_without_key.py);
        # escape there keeps the gateway in use and says so.
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        await pilot.press("escape")
        await wait_until(
            pilot,
            lambda: any(
                "no API key entered" in str(n.render()) for n in app.chat_log.query(Static)
            ),
            what="the notice",
        )
        assert app.profile_name == "demo"
        assert app.query_one("#gateway-select", Select).value == "demo"
        await send(pilot, "Still here?")
        await wait_for_reply(pilot, 1)
        assert sim.requests_for("unify")  # still chatting through the demo


async def test_the_palette_offers_a_plain_model_name_on_a_server_without_providers(
    sim: Any,
) -> None:
    # Regression: "Use endpoint" came only for strings with "@"; a local model name such as
    # llama3.1:8b got "No matches found" on an OpenAI-compatible server.
    from textual.command import CommandList

    profiles = {
        "local": GatewayProfile(
            "local", "openai-compatible", base_url=sim.openai_base_url, key_env=""
        ),
    }
    app = profiles_app(profiles, first="local", model="gpt-4o-mini")
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"llama3.1:8b")

        def hits() -> list[str]:
            lists = app.screen.query(CommandList)
            if not lists:
                return []
            command_list = lists.first()
            return [
                str(command_list.get_option_at_index(i).prompt)
                for i in range(command_list.option_count)
            ]

        await wait_until(
            pilot,
            lambda: any(hit.startswith("Use endpoint llama3.1:8b") for hit in hits()),
            what="the hit",
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.endpoint == "llama3.1:8b", what="switched")
