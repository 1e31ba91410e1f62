"""Settings: the key from UNIFY_KEY, the base URL from UNIFY_BASE_URL, and the key kept secret."""

from __future__ import annotations

import pickle
import traceback

import pytest

from tui_chat.gateways.config import DEFAULT_BASE_URL, GatewaySettings, SecretStr
from tui_chat.gateways.errors import ConfigurationError, GatewayError, MissingAPIKeyError

KEY = "sk-very-secret-123"


def test_key_and_base_url_come_from_the_environment() -> None:
    settings = GatewaySettings.from_env(
        {"UNIFY_KEY": KEY, "UNIFY_BASE_URL": "http://127.0.0.1:9/v0/"}
    )
    assert settings.api_key.get_secret_value() == KEY
    assert settings.base_url == "http://127.0.0.1:9/v0"


def test_base_url_defaults_to_unify() -> None:
    assert (
        GatewaySettings.from_env({"UNIFY_KEY": KEY}).base_url
        == DEFAULT_BASE_URL
        == ("https://api.unify.ai/v0")
    )


def test_explicit_arguments_win_over_the_environment() -> None:
    settings = GatewaySettings.from_env(
        {"UNIFY_KEY": "env", "UNIFY_BASE_URL": "http://a:1/v0"},
        api_key=KEY,
        base_url="http://b:2/v0",
    )
    assert settings.api_key.get_secret_value() == KEY
    assert settings.base_url == "http://b:2/v0"


def test_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIFY_KEY", KEY)
    assert GatewaySettings.from_env().api_key.get_secret_value() == KEY


@pytest.mark.parametrize("environ", [{}, {"UNIFY_KEY": ""}, {"UNIFY_KEY": "   "}])
def test_missing_key_says_how_to_set_it(environ: dict[str, str]) -> None:
    with pytest.raises(MissingAPIKeyError) as caught:
        GatewaySettings.from_env(environ)
    message = str(caught.value)
    assert "export UNIFY_KEY=..." in message
    assert "unify-tui --demo" in message
    assert isinstance(caught.value, GatewayError)


def test_missing_key_can_be_allowed_for_later() -> None:
    settings = GatewaySettings.from_env({}, require_key=False)
    assert not settings.has_key
    with pytest.raises(MissingAPIKeyError):
        settings.require_key()


def test_key_never_appears_in_repr_str_or_traceback() -> None:
    settings = GatewaySettings.from_env({"UNIFY_KEY": KEY})
    assert KEY not in repr(settings)
    assert KEY not in str(settings)
    assert KEY not in repr(settings.api_key) and KEY not in str(settings.api_key)
    assert KEY not in f"{settings.api_key}"
    try:
        raise RuntimeError(f"failed with {settings!r}")
    except RuntimeError:
        assert KEY not in traceback.format_exc()


def test_plain_string_key_is_wrapped() -> None:
    settings = GatewaySettings(api_key=KEY)
    assert isinstance(settings.api_key, SecretStr)
    assert KEY not in repr(settings)


def test_secret_survives_pickling_and_compares() -> None:
    secret = SecretStr(KEY)
    assert pickle.loads(pickle.dumps(secret)) == secret
    assert secret != SecretStr("other")


@pytest.mark.parametrize("url", ["api.unify.ai/v0", "ftp://x/v0", "http://"])
def test_base_url_must_be_http(url: str) -> None:
    with pytest.raises(ConfigurationError, match="http"):
        GatewaySettings(base_url=url, api_key=SecretStr(KEY))
