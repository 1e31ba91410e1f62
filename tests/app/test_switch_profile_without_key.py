"""Switching to a profile with no key asks for it (masked dialog), saves it, then switches.

Regression for "Switching to a profile with no key only says 'Could not switch to …: no API
key'": the dialog of start-up now opens; escape keeps the gateway in use.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from tests.app.conftest import APP_SIZE, profiles_app, send, wait_for_reply, wait_until
from tests.conftest import start_sim
from tui_chat.config import GatewayProfile
from tui_chat.connection import profile_connector
from tui_chat.core.conversation import Outcome
from tui_chat.gateway_sim import GatewaySim
from tui_chat.gateways.config import SecretStr
from tui_chat.keys import resolve_key
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.screens.dialogs import ConfirmScreen
from tui_chat.ui.screens.key_entry import KeyEntryScreen
from tui_chat.ui.widgets.messages import ErrorCard

REMOTE_KEY = "uk-REMOTE-SWITCH-0123456789abcdef"


@pytest.fixture
def keyed_sim() -> Iterator[GatewaySim]:
    """A second embedded gateway that accepts only REMOTE_KEY."""
    with start_sim(api_key=REMOTE_KEY, credits=20.0, seed=1) as gateway:
        yield gateway


def build(sim: Any, keyed_sim: GatewaySim, keys_file: Path) -> UnifyTUI:
    profiles = {
        "demo": GatewayProfile("demo", "demo", base_url=sim.base_url),
        "remote": GatewayProfile(
            "remote", "unify", base_url=keyed_sim.base_url, key_env="H6_REMOTE_KEY_UNSET"
        ),
    }
    return profiles_app(
        profiles,
        # keys are looked up in keys_file only (no keyring, the variable is unset)
        connect_profile=profile_connector(keyring=None),
        keys_file=keys_file,
    )


def notices(app: UnifyTUI) -> str:
    return "\n".join(str(notice.render()) for notice in app.chat_log.query(".notice"))


async def test_switch_to_profile_without_key_asks_saves_and_switches(
    sim: Any, keyed_sim: GatewaySim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("H6_REMOTE_KEY_UNSET", raising=False)
    keys_file = tmp_path / "keys.toml"
    remote = GatewayProfile("remote", "unify", base_url=keyed_sim.base_url)
    app = build(sim, keyed_sim, keys_file)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.balance is not None, what="the balance")
        app.switch_gateway("remote")
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        field = app.screen.query_one("#key-input", Input)
        assert field.password is True
        assert "keys.toml" in str(app.screen.query_one("#key-entry-where").render())
        assert app.profile_name == "demo"  # nothing switched yet
        await pilot.press(*REMOTE_KEY)
        await pilot.pause()
        assert REMOTE_KEY not in app.export_screenshot()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.profile_name == "remote", what="the switch")
        assert not isinstance(app.screen, KeyEntryScreen)
        await wait_until(pilot, keys_file.exists, what="the key saved")
        if os.name == "posix":
            assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        saved = resolve_key(remote, {}, keyring=None, keys_file=keys_file)
        assert saved.key == SecretStr(REMOTE_KEY)
        # The new gateway takes the typed key: the balance loads and a message is answered.
        await wait_until(pilot, lambda: app.status.balance == 20.0, what="the remote balance")
        await send(pilot, "hello over there")
        await wait_for_reply(pilot)
        assert app.conversation.messages[-1].content
        assert keyed_sim.requests_for("unify")[-1].messages[-1]["content"] == "hello over there"
        assert not sim.requests_for("unify") or all(
            request.messages[-1]["content"] != "hello over there"
            for request in sim.requests_for("unify")
        )
        shown = app.export_screenshot() + notices(app)
        assert REMOTE_KEY not in shown


async def test_escape_in_key_dialog_keeps_the_current_gateway(
    sim: Any, keyed_sim: GatewaySim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("H6_REMOTE_KEY_UNSET", raising=False)
    keys_file = tmp_path / "keys.toml"
    app = build(sim, keyed_sim, keys_file)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.balance is not None, what="the balance")
        gateway = app.gateway
        app.switch_gateway("remote")
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, KeyEntryScreen), what="closed")
        assert app.profile_name == "demo" and app.gateway is gateway
        assert app.selector.query_one("#gateway-select").value == "demo"
        assert app.status.connection == "online"
        assert "no API key entered for remote" in notices(app)
        assert not keys_file.exists()
        await send(pilot, "still here?")
        await wait_for_reply(pilot)
        assert sim.requests_for("unify")[-1].messages[-1]["content"] == "still here?"
        assert not keyed_sim.requests_for("unify")


async def test_key_typed_for_a_plain_http_profile_is_not_sent_unless_confirmed(
    sim: Any, keyed_sim: GatewaySim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start-up question ("send it over plain http anyway?") is asked when switching too;
    declining keeps the gateway in use, saves nothing and says why."""
    monkeypatch.delenv("H6_REMOTE_KEY_UNSET", raising=False)
    keys_file = tmp_path / "keys.toml"
    profiles = {
        "demo": GatewayProfile("demo", "demo", base_url=sim.base_url),
        "far": GatewayProfile(
            "far", "unify", base_url="http://gateway.example.com/v0", key_env="H6_REMOTE_KEY_UNSET"
        ),
    }
    app = profiles_app(
        profiles, connect_profile=profile_connector(keyring=None), keys_file=keys_file
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.balance is not None, what="the balance")
        gateway = app.gateway
        app.switch_gateway("far")
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        await pilot.press(*REMOTE_KEY)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="question")
        screen = app.screen
        assert isinstance(screen, ConfirmScreen)
        question = screen.question
        assert "gateway.example.com" in question and "plain http" in question
        assert REMOTE_KEY not in question
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="closed")
        assert app.profile_name == "demo" and app.gateway is gateway
        assert app.selector.query_one("#gateway-select").value == "demo"
        assert "the API key was not sent to gateway.example.com over plain http" in notices(app)
        assert not keys_file.exists()


async def test_a_refused_key_offers_a_new_one_and_the_app_connects_again_with_it(
    sim: Any, keyed_sim: GatewaySim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: "Enter API key" said "Already connected" and asked nothing, so a key refused
    # by a server (401) could not be replaced without a restart.
    monkeypatch.delenv("H6_REMOTE_KEY_UNSET", raising=False)
    keys_file = tmp_path / "keys.toml"
    profiles = {
        "demo": GatewayProfile("demo", "demo", base_url=sim.base_url),
        "remote": GatewayProfile(
            "remote", "unify", base_url=keyed_sim.base_url, key_env="H6_REMOTE_KEY_UNSET"
        ),
    }
    app = profiles_app(  # connected to "remote" with a key it refuses
        profiles,
        first="remote",
        connect_profile=profile_connector(keyring=None),
        keys_file=keys_file,
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello over there")
        await wait_for_reply(pilot)
        card = app.chat_log.query_one(ErrorCard)
        assert "HTTP 401" in card.title and card.can_enter_key
        await pilot.click("#enter-key")
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        assert "replaces the one in use" in str(app.screen.query_one(".dialog-question").render())
        await pilot.press(*REMOTE_KEY)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Using the new key" in notices(app), what="reconnected")
        assert app.profile_name == "remote"
        await wait_until(pilot, keys_file.exists, what="the key saved")
        await pilot.click("#retry")
        await wait_until(
            pilot,
            lambda: (
                bool(keyed_sim.requests_for("unify"))
                and app.conversation.messages[-1].outcome is Outcome.COMPLETE
            ),
            what="the reply with the new key",
        )
        assert REMOTE_KEY not in app.export_screenshot() + notices(app)
        # and the palette's "Enter API key" asks again while connected, too
        app.action_enter_key()
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, KeyEntryScreen), what="closed")
        assert app.profile_name == "remote" and app.status.connection == "online"


def plain_http_remote(sim: Any, keyed_sim: GatewaySim, monkeypatch: pytest.MonkeyPatch) -> UnifyTUI:
    """The app on the demo, with a profile whose stored key (in its variable) would go to
    keyed_sim over plain http, as to another machine (loopback is not "this machine" here)."""
    import tui_chat.keys

    monkeypatch.setattr(tui_chat.keys, "is_loopback_host", lambda host: False)
    monkeypatch.setenv("H6_FAR_KEY", REMOTE_KEY)
    profiles = {
        "demo": GatewayProfile("demo", "demo", base_url=sim.base_url),
        "far": GatewayProfile("far", "unify", base_url=keyed_sim.base_url, key_env="H6_FAR_KEY"),
    }
    return profiles_app(profiles, connect_profile=profile_connector(keyring=None))


async def test_a_stored_key_over_plain_http_is_asked_about_and_sent_when_confirmed(
    sim: Any, keyed_sim: GatewaySim, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found from outside: the switch said "confirm to send it anyway" and offered no way to.
    app = plain_http_remote(sim, keyed_sim, monkeypatch)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.balance is not None, what="the balance")
        app.switch_gateway("far")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="question")
        screen = app.screen
        assert isinstance(screen, ConfirmScreen)
        assert "plain http" in screen.question and "anyway?" in screen.question
        assert REMOTE_KEY not in screen.question
        assert not keyed_sim.requests_for("unify")  # nothing sent while asking
        assert app.profile_name == "demo"
        await wait_until(pilot, lambda: bool(screen.query("#confirm")), what="its buttons")
        await pilot.pause()
        await pilot.click("#confirm")  # "Send anyway"
        await wait_until(pilot, lambda: app.profile_name == "far", what="the switch")
        await wait_until(pilot, lambda: app.status.balance == 20.0, what="the remote balance")
        await send(pilot, "hello over plain http")
        await wait_for_reply(pilot)
        assert keyed_sim.requests_for("unify")[-1].messages[-1]["content"] == (
            "hello over plain http"
        )
        assert REMOTE_KEY not in app.export_screenshot() + notices(app)


async def test_declining_to_send_a_stored_key_over_plain_http_stays_put(
    sim: Any, keyed_sim: GatewaySim, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = plain_http_remote(sim, keyed_sim, monkeypatch)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.balance is not None, what="the balance")
        gateway = app.gateway
        app.switch_gateway("far")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="question")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="closed")
        assert app.profile_name == "demo" and app.gateway is gateway
        assert app.status.connection == "online"
        assert "the API key was not sent to 127.0.0.1 over plain http" in notices(app)
        assert not keyed_sim.requests_for("unify")
