"""config.toml and keys in the running app: the problems notice, theme, keymap, spend cap,
the first-run key dialog (masked, saved 0600, never on screen) and the plain-http confirmation.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Input

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tests.conftest import start_sim
from tui_chat.config import GatewayProfile, load_config
from tui_chat.connection import PendingConnection, startup_notice
from tui_chat.core.conversation import Outcome
from tui_chat.gateway_sim import GatewaySim
from tui_chat.gateway_sim.faults import Fault, FaultKind
from tui_chat.gateways.config import GatewaySettings, SecretStr
from tui_chat.gateways.unify import UnifyAccount, UnifyGateway
from tui_chat.keys import default_keys_path, resolve_key
from tui_chat.ui.screens.dialogs import ConfirmScreen
from tui_chat.ui.screens.key_entry import KeyEntryScreen

SECRET = "uk-TOPSECRET-0123456789abcdef"
UNIFY = GatewayProfile("unify", "unify")


def notices(app: Any) -> str:
    return "\n".join(str(n.render()) for n in app.chat_log.query(".notice"))


def replies(app: Any) -> list[Any]:
    return [m for m in app.conversation.messages if m.role == "assistant"]


@pytest.fixture
def secret_sim() -> Iterator[GatewaySim]:
    """An embedded gateway that accepts only SECRET."""
    with start_sim(api_key=SECRET) as gateway:
        yield gateway


def pending_for(
    sim: GatewaySim, calls: list[SecretStr | None], *, base_url: str | None = None, **extra: Any
) -> PendingConnection:
    def connect(key: SecretStr | None) -> tuple[Any, Any]:
        calls.append(key)
        settings = GatewaySettings(base_url=sim.base_url, api_key=key or "", timeout=5.0)
        return UnifyGateway(settings), UnifyAccount(settings)

    return PendingConnection(
        profile=UNIFY,
        base_url=base_url or sim.base_url,
        connect=connect,
        label="Unify",
        **extra,
    )


# --- config problems, theme, keymap ----------------------------------------------------------


async def test_config_problems_are_one_notice_and_the_app_runs(
    make_app: Any, sim: Any, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("show_credits = 'no'\ncolour = 'red'\ntemperature = 9\n", encoding="utf-8")
    config, problems = load_config(path)
    app = make_app(
        show_credits=config.show_credits,
        startup_notice=startup_notice([str(p) for p in problems]),
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        shown = notices(app)
        assert "The configuration file has problems" in shown
        assert f"{path}:1: show_credits: expected true or false" in shown
        assert f"{path}:2: colour: unknown setting" in shown
        assert f"{path}:3: temperature: expected a number from 0 to 2" in shown
        assert len(app.chat_log.query(".notice")) == 2  # the greeting and the one problem notice
        assert app.show_credits is True  # started on the defaults
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        assert replies(app)[0].outcome is Outcome.COMPLETE


async def test_theme_from_config_is_used(make_app: Any, sim: Any) -> None:
    app = make_app(theme="nord")
    async with app.run_test(size=APP_SIZE):
        assert app.theme == "nord"


async def test_unknown_theme_and_binding_ids_are_warned(make_app: Any, sim: Any) -> None:
    app = make_app(theme="no-such-theme", keymap={"stop": "f9", "fly_away": "f1"})
    async with app.run_test(size=APP_SIZE):
        shown = notices(app)
        assert "no theme 'no-such-theme'" in shown and "nord" in shown
        assert "unknown binding id(s) fly_away" in shown
        assert "stop" not in shown.split("unknown binding id(s)")[1].split(";")[0]
        assert app.theme != "no-such-theme"


async def test_keymap_remaps_stop_to_f9(make_app: Any, sim: Any) -> None:
    sim.controls.reply_tokens = 2000
    sim.inject(Fault(FaultKind.STALL, after_tokens=40, seconds=None))
    app = make_app(keymap={"stop": "f9"})
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Tell me a long story")
        await wait_until(pilot, lambda: len(replies(app)[0].content) > 40, what="some text")
        await pilot.press("f9")
        await wait_for_reply(pilot)
        assert replies(app)[0].outcome is Outcome.STOPPED


async def test_config_system_prompt_is_sent(make_app: Any, sim: Any) -> None:
    app = make_app(system_prompt="Answer like a pirate.")
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        sent = sim.requests[-1].body["messages"]
        assert sent[0] == {"role": "system", "content": "Answer like a pirate."}
        await pilot.press("ctrl+n")  # a new conversation starts with it too
        await send(pilot, "again")
        await wait_until(pilot, lambda: len(sim.requests) == 2, what="second request")
        assert sim.requests[-1].body["messages"][0]["content"] == "Answer like a pirate."


# --- spend cap -------------------------------------------------------------------------------


async def test_spend_cap_refuses_to_send_and_keeps_the_prompt(make_app: Any, sim: Any) -> None:
    # A cap the first prompt (one token) stays under and its 300-token reply passes; the prices
    # are waited for so the prompt check always runs (it used to race with them).
    sim.controls.reply_tokens = 300
    app = make_app(spend_cap=2e-6)
    async with app.run_test(size=APP_SIZE) as pilot:
        assert "cap" in app.status.part("spend")
        endpoint = app.endpoint
        await wait_until(pilot, lambda: endpoint in app.account_watch.details, what="prices")
        details = app.account_watch.details[endpoint]
        assert details.input_cost is not None and details.input_cost < 2.0  # $/M
        await send(pilot, "first")
        await wait_for_reply(pilot)
        assert app.conversation.total_cost > 2e-6
        await send(pilot, "second, over the cap")
        await pilot.pause()
        assert len(sim.requests) == 1
        assert app.prompt.text == "second, over the cap"
        assert len(replies(app)) == 1


# --- the key dialog --------------------------------------------------------------------------


async def test_key_dialog_masks_saves_0600_and_connects(make_app: Any, secret_sim: Any) -> None:
    calls: list[SecretStr | None] = []
    app = make_app(gateway=None, account=None, pending_connection=pending_for(secret_sim, calls))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        field = app.screen.query_one("#key-input", Input)
        assert field.password is True
        assert "keys.toml" in str(app.screen.query_one("#key-entry-where").render())
        await pilot.press(*SECRET)
        await pilot.pause()
        assert SECRET not in app.export_screenshot()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.gateway is not None, what="connected")
        assert not isinstance(app.screen, KeyEntryScreen)
        assert calls == [SecretStr(SECRET)]
        path = default_keys_path()
        await wait_until(pilot, path.exists, what="key saved")
        if os.name == "posix":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert resolve_key(UNIFY, {}, keyring=None).key == SecretStr(SECRET)
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        assert replies(app)[0].outcome is Outcome.COMPLETE
        screen = app.export_screenshot()
        assert SECRET not in screen and SECRET[3:20] not in screen
        assert SECRET not in notices(app)


async def test_key_dialog_rejects_a_pasted_assignment(make_app: Any, secret_sim: Any) -> None:
    calls: list[SecretStr | None] = []
    app = make_app(gateway=None, account=None, pending_connection=pending_for(secret_sim, calls))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        screen = app.screen
        assert isinstance(screen, KeyEntryScreen)
        screen.query_one("#key-input", Input).value = f"export UNIFY_KEY={SECRET}"
        await pilot.click("#save")
        await wait_until(pilot, lambda: bool(screen.error_text), what="error shown")
        assert "NAME=" in screen.error_text and SECRET not in screen.error_text
        assert app.screen is screen and calls == []
        assert not default_keys_path().exists()


async def test_escape_leaves_the_app_running_and_says_how(make_app: Any, secret_sim: Any) -> None:
    calls: list[SecretStr | None] = []
    app = make_app(gateway=None, account=None, pending_connection=pending_for(secret_sim, calls))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, KeyEntryScreen), what="closed")
        shown = notices(app)
        assert "export UNIFY_KEY=" in shown and "--demo" in shown and "Enter API key" in shown
        assert app.status.connection == "no key"
        await send(pilot, "hello?")
        await pilot.pause()
        assert calls == [] and app.gateway is None
        assert app.prompt.text == "hello?"
        assert not default_keys_path().exists()
        # The palette command brings the dialog back.
        app.action_enter_key()
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="again")
        await pilot.press(*SECRET, "enter")
        await wait_until(pilot, lambda: app.gateway is not None, what="connected")
        assert calls == [SecretStr(SECRET)]


# --- plain http to another host --------------------------------------------------------------


def plain_http_app(make_app: Any, sim: GatewaySim, calls: list[SecretStr | None]) -> Any:
    """The app connecting to a plain-http gateway on another host, with SECRET already found."""
    pending = pending_for(
        sim, calls, base_url="http://gateway.example.com/v0", key=SecretStr(SECRET)
    )
    return make_app(gateway=None, account=None, pending_connection=pending)


async def test_plain_http_key_is_not_sent_unless_confirmed(make_app: Any, secret_sim: Any) -> None:
    calls: list[SecretStr | None] = []
    app = plain_http_app(make_app, secret_sim, calls)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        question = str(app.screen.query_one(".dialog-question").render())
        assert "gateway.example.com" in question and "unencrypted" in question
        assert SECRET not in app.export_screenshot()
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="closed")
        assert calls == [] and app.gateway is None
        assert "was not sent to gateway.example.com" in notices(app)


async def test_plain_http_key_sent_after_confirmation(make_app: Any, secret_sim: Any) -> None:
    calls: list[SecretStr | None] = []
    app = plain_http_app(make_app, secret_sim, calls)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        assert str(app.screen.query_one("#confirm", Button).label) == "Send anyway"
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: app.gateway is not None, what="connected")
        assert calls == [SecretStr(SECRET)]
        assert not default_keys_path().exists()  # a key found elsewhere is not copied


# --- crash reports ---------------------------------------------------------------------------


async def test_crash_report_shows_no_local_variables(
    make_app: Any, sim: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Textual prints every frame's locals on a crash; a key held as a str must not appear."""
    app = make_app()

    def crash() -> None:
        api_key = SECRET  # what a frame on the way to the gateway may hold
        raise RuntimeError(f"crashed with a key of {len(api_key)} characters")

    with pytest.raises(RuntimeError):
        async with app.run_test(size=APP_SIZE) as pilot:
            app.call_later(crash)
            await pilot.pause()
            await pilot.pause()
    captured = capsys.readouterr()
    report = captured.out + captured.err
    assert "crashed with a key of" in report and "def crash" in report
    assert SECRET not in report


async def test_key_dialog_saves_in_the_keyring_when_there_is_one(
    make_app: Any, secret_sim: Any
) -> None:
    from tests.test_keys import FakeKeyring

    ring = FakeKeyring()
    calls: list[SecretStr | None] = []
    pending = pending_for(secret_sim, calls, keyring=ring)
    app = make_app(gateway=None, account=None, pending_connection=pending)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        assert "the system keyring" in str(app.screen.query_one("#key-entry-where").render())
        await pilot.press(*SECRET, "enter")
        await wait_until(pilot, lambda: bool(ring.passwords), what="saved in the keyring")
        assert ring.passwords == {("unify-tui", "unify"): SECRET}
        assert not default_keys_path().exists()
        await wait_until(pilot, lambda: app.gateway is not None, what="connected")


async def test_a_local_server_that_needs_a_key_asks_then_shows_what_its_kind_can_do(
    make_app: Any, secret_sim: Any
) -> None:
    # Regression: connected through the key dialog, an OpenAI-compatible profile kept Unify's
    # capabilities ("Balance –" for ever, where its kind reports none: "Balance n/a").
    from tui_chat.config import GatewayProfile
    from tui_chat.connection import connect

    profile = GatewayProfile(
        "proxy", "openai-compatible", base_url=secret_sim.openai_base_url, needs_key=True
    )

    def connector(key: SecretStr | None) -> tuple[Any, Any]:
        connection = connect(profile, key, retrying=False)
        return connection.gateway, connection.account

    pending = PendingConnection(
        profile=profile, base_url=profile.base_url or "", connect=connector, label=profile.label
    )
    app = make_app(
        gateway=None,
        account=None,
        pending_connection=pending,
        model="gpt-4o-mini",
        profiles={"proxy": profile},
        profile_name="proxy",
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        assert "Balance n/a" in app.status.text  # known from the kind before any key
        await pilot.press(*SECRET)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.gateway is not None, what="connected")
        await pilot.pause()
        assert not app.status.has_balance and "Balance n/a" in app.status.text
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        assert replies(app)[0].outcome is Outcome.COMPLETE


async def test_spend_cap_refuses_a_prompt_that_alone_would_pass_it(make_app: Any, sim: Any) -> None:
    app = make_app(spend_cap=0.0001)
    async with app.run_test(size=APP_SIZE) as pilot:
        endpoint = app.endpoint
        await wait_until(pilot, lambda: endpoint in app.account_watch.details, what="prices")
        price = app.account_watch.details[endpoint].input_cost
        assert price is not None and price > 0
        # far more prompt than the cap pays for: refused before anything is sent
        long_text = "word " * int(0.0002 / price * 1_000_000 * 4 / 5 + 100)
        app.prompt.load_text(long_text)
        await pilot.press("enter")
        await pilot.pause()
        assert sim.requests_for("unify") == []
        assert app.prompt.text == long_text  # kept for the user
        # a short one is well under the cap and goes
        app.prompt.load_text("hi")
        await pilot.press("enter")
        await wait_for_reply(pilot)
        assert len(sim.requests_for("unify")) == 1
