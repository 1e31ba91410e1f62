"""tui_chat.connection: which key, whether it may be sent, and what the user is told when not.

The same decisions serve start-up, switching gateway in the app and ``--plain``; these tests need
no Textual and no network (keyrings are off, keys.toml lives in a temporary folder).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_chat import keys
from tui_chat.config import GatewayProfile
from tui_chat.connection import (
    DEMO_KEY,
    KeyRefusal,
    PendingConnection,
    demo_plan,
    how_to_set_key,
    plan_connection,
    startup_notice,
    switch_failed_text,
)
from tui_chat.gateways.config import SecretStr
from tui_chat.gateways.retry import RetryingGateway

KEY = "uk-CONNECTION-0123456789abcdef"
UNIFY = GatewayProfile("unify", "unify")
REMOTE_HTTP = GatewayProfile("remote", "unify", base_url="http://gateway.example.com/v0")


@pytest.fixture(autouse=True)
def _no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "system_keyring", lambda *a, **k: None)


def test_key_from_the_environment_is_ready_over_https() -> None:
    plan = plan_connection(UNIFY, environ={"UNIFY_KEY": KEY})
    assert plan.key == SecretStr(KEY)
    assert plan.ready and not plan.missing_key
    assert plan.base_url.startswith("https://")


def test_no_key_is_missing_and_not_ready() -> None:
    plan = plan_connection(UNIFY, environ={})
    assert plan.key is None and plan.missing_key and not plan.ready


def test_unify_base_url_from_the_environment_unless_given() -> None:
    environ = {"UNIFY_KEY": KEY, "UNIFY_BASE_URL": "https://env.example.com/v0"}
    assert plan_connection(UNIFY, environ=environ).base_url == "https://env.example.com/v0"
    given = plan_connection(UNIFY, base_url="https://flag.example.com/v0", environ=environ)
    assert given.base_url == "https://flag.example.com/v0"


def test_a_found_key_over_plain_http_to_another_host_must_be_confirmed() -> None:
    plan = plan_connection(REMOTE_HTTP, environ={"UNIFY_KEY": KEY})
    assert plan.key is not None and not plan.transport_ok and not plan.ready
    pending = plan.pending()
    assert pending.key == plan.key and pending.host == "gateway.example.com"
    verdict = pending.transport()
    assert verdict.needs_confirmation
    question = pending.send_anyway_question(verdict)
    assert question.endswith("Send the API key to gateway.example.com anyway?")
    assert KEY not in question


def test_the_demo_plan_looks_no_key_up_and_connects_with_its_own() -> None:
    plan = demo_plan(GatewayProfile("demo", "demo"), "http://127.0.0.1:9/v0")
    assert plan.ready and plan.key == SecretStr(DEMO_KEY) and plan.label == "Demo gateway"
    gateway, account = plan.connector()(plan.key)
    assert isinstance(gateway, RetryingGateway)
    account.close()


def test_what_start_up_says_when_no_key_is_sent() -> None:
    pending = PendingConnection(profile=REMOTE_HTTP, base_url=REMOTE_HTTP.base_url or "", label="R")
    assert pending.refusal_text(KeyRefusal.NO_KEY_ENTERED) == how_to_set_key(
        REMOTE_HTTP, in_app=True
    )
    not_sent = pending.refusal_text(KeyRefusal.NOT_SENT)
    assert not_sent.startswith("Not connected: the API key was not sent to gateway.example.com")
    assert "https://" in not_sent


def test_what_switching_says_when_no_key_is_sent() -> None:
    pending = PendingConnection(
        profile=REMOTE_HTTP, base_url=REMOTE_HTTP.base_url or "", label="R", staying_on="Demo"
    )
    assert (
        pending.refusal_text(KeyRefusal.NO_KEY_ENTERED)
        == "Stayed on Demo: no API key entered for remote (Unify)."
    )
    assert pending.refusal_text(KeyRefusal.NOT_SENT) == (
        "Stayed on Demo: the API key was not sent to gateway.example.com over plain http."
    )
    assert switch_failed_text(REMOTE_HTTP, ValueError("bad")) == (
        "Could not switch to remote (Unify): bad"
    )


def test_a_typed_key_is_saved_where_the_request_says(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.toml"
    pending = PendingConnection(
        profile=UNIFY, base_url="https://x.example.com", label="Unify", keys_file=keys_file
    )
    assert "keys.toml (readable only by you)" in pending.where_saved
    said = pending.save_key(SecretStr(KEY))
    assert said.startswith("Key saved in ") and KEY not in said
    found = keys.resolve_key(UNIFY, {}, keyring=None, keys_file=keys_file)
    assert found.key == SecretStr(KEY)


def test_how_to_set_key_outside_and_inside_the_app() -> None:
    outside = how_to_set_key(UNIFY)
    assert "`export UNIFY_KEY=...`" in outside and "unify-tui --demo" in outside
    assert "ctrl+p" in how_to_set_key(UNIFY, in_app=True)


def test_startup_notice_lists_problems_then_warnings() -> None:
    assert startup_notice([]) is None
    notice = startup_notice(["config.toml:1: x: unknown setting"], ["keys.toml is readable"])
    assert notice is not None
    assert notice.splitlines()[1:] == [
        "• config.toml:1: x: unknown setting",
        "• keys.toml is readable",
    ]
