"""API keys: lookup order, the private key file, a keyring that fails or hangs, transport checks."""

from __future__ import annotations

import os
import stat
import threading
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_chat.config import GatewayProfile
from tui_chat.gateways.config import SecretStr
from tui_chat.keys import (
    SERVICE_NAME,
    KeyStoreError,
    check_key_transport,
    clean_key,
    default_keys_path,
    forget_key,
    is_loopback_host,
    is_real_keyring_backend,
    needs_key,
    resolve_key,
    save_key,
    validate_key_format,
)

UNIFY = GatewayProfile("unify", "unify")
OPENROUTER = GatewayProfile("openrouter", "openrouter")
LOCAL = GatewayProfile("local", "openai-compatible", base_url="http://127.0.0.1:11434/v1")
DEMO = GatewayProfile("demo", "demo")
KEY = "unify-key-0123456789abcdef"

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


class FakeKeyring:
    """A keyring backend in memory; can be told to fail or to hang."""

    def __init__(self, *, fail: bool = False, hang: threading.Event | None = None) -> None:
        self.passwords: dict[tuple[str, str], str] = {}
        self.fail = fail
        self.hang = hang
        self.calls: list[str] = []

    def _maybe_misbehave(self, name: str) -> None:
        self.calls.append(name)
        if self.hang is not None:
            self.hang.wait(10)
        if self.fail:
            raise RuntimeError(f"backend broke and leaked {KEY}")

    def get_password(self, service_name: str, username: str) -> str | None:
        self._maybe_misbehave("get")
        return self.passwords.get((service_name, username))

    def set_password(self, service_name: str, username: str, password: str) -> None:
        self._maybe_misbehave("set")
        self.passwords[(service_name, username)] = password

    def delete_password(self, service_name: str, username: str) -> None:
        self._maybe_misbehave("delete")
        del self.passwords[(service_name, username)]


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    return tmp_path / "conf" / "keys.toml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- lookup order ----------------------------------------------------------------------------


def test_environment_wins_over_keyring_and_file(keys_file: Path) -> None:
    ring = FakeKeyring()
    ring.passwords[(SERVICE_NAME, "unify")] = "from-keyring-123456"
    save_key(UNIFY, "from-file-1234567", keyring=None, keys_file=keys_file)
    found = resolve_key(UNIFY, {"UNIFY_KEY": f"  {KEY}\n"}, keyring=ring, keys_file=keys_file)
    assert found.key == SecretStr(KEY)
    assert found.source == "env:UNIFY_KEY"
    assert ring.calls == []  # the keyring is not even asked


def test_keyring_wins_over_file(keys_file: Path) -> None:
    ring = FakeKeyring()
    ring.passwords[(SERVICE_NAME, "unify")] = "from-keyring-123456"
    save_key(UNIFY, "from-file-1234567", keyring=None, keys_file=keys_file)
    found = resolve_key(UNIFY, {}, keyring=ring, keys_file=keys_file)
    assert found.key == SecretStr("from-keyring-123456")
    assert found.source == "keyring"


def test_file_is_the_last_resort(keys_file: Path) -> None:
    save_key(UNIFY, KEY, keyring=None, keys_file=keys_file)
    found = resolve_key(UNIFY, {}, keyring=FakeKeyring(), keys_file=keys_file)
    assert (found.key, found.source, found.found) == (SecretStr(KEY), "file", True)


def test_nothing_found(keys_file: Path) -> None:
    found = resolve_key(UNIFY, {}, keyring=None, keys_file=keys_file)
    assert (found.key, found.source, found.found, found.warnings) == (None, None, False, ())


def test_each_profile_reads_its_own_variable(keys_file: Path) -> None:
    env = {"UNIFY_KEY": "u-key-12345678", "OPENROUTER_API_KEY": "sk-or-v1-abcdef"}
    assert resolve_key(OPENROUTER, env, keyring=None, keys_file=keys_file).source == (
        "env:OPENROUTER_API_KEY"
    )
    custom = GatewayProfile("work", "unify", key_env="WORK_UNIFY_KEY")
    assert not resolve_key(custom, env, keyring=None, keys_file=keys_file).found
    found = resolve_key(custom, {"WORK_UNIFY_KEY": "w-1234567890"}, keyring=None)
    assert found.source == "env:WORK_UNIFY_KEY"


def test_empty_key_env_means_no_variable(keys_file: Path) -> None:
    profile = GatewayProfile("x", "unify", key_env="")
    assert not resolve_key(profile, {"UNIFY_KEY": KEY}, keyring=None, keys_file=keys_file).found


def test_demo_needs_no_key(keys_file: Path) -> None:
    assert not resolve_key(DEMO, {"UNIFY_KEY": KEY}, keyring=None, keys_file=keys_file).found
    assert not needs_key(DEMO)


def test_default_keys_path_is_in_the_config_dir() -> None:
    path = default_keys_path()
    assert path.name == "keys.toml" and path.parent.name == "unify-tui"
    assert path.is_relative_to(Path(os.environ["XDG_CONFIG_HOME"]))


# --- the key file ----------------------------------------------------------------------------


@posix_only
def test_key_file_is_created_0600_in_a_0700_directory(keys_file: Path) -> None:
    assert save_key(UNIFY, KEY, keyring=None, keys_file=keys_file) == "file"
    assert mode(keys_file) == 0o600
    assert mode(keys_file.parent) == 0o700
    assert KEY in keys_file.read_text()


@posix_only
def test_saving_twice_keeps_0600_and_other_profiles(keys_file: Path) -> None:
    save_key(UNIFY, KEY, keyring=None, keys_file=keys_file)
    save_key(OPENROUTER, "sk-or-v1-0123456789", keyring=None, keys_file=keys_file)
    save_key(UNIFY, "replaced-key-0123456", keyring=None, keys_file=keys_file)
    assert mode(keys_file) == 0o600
    env: dict[str, str] = {}
    assert resolve_key(UNIFY, env, keyring=None, keys_file=keys_file).key == SecretStr(
        "replaced-key-0123456"
    )
    assert resolve_key(OPENROUTER, env, keyring=None, keys_file=keys_file).found


@posix_only
def test_world_readable_key_file_warns_without_the_key(keys_file: Path) -> None:
    save_key(UNIFY, KEY, keyring=None, keys_file=keys_file)
    keys_file.chmod(0o644)
    found = resolve_key(UNIFY, {}, keyring=None, keys_file=keys_file)
    assert found.found  # still usable
    assert len(found.warnings) == 1
    assert "readable by other users" in found.warnings[0]
    assert "chmod 600" in found.warnings[0]
    assert KEY not in found.warnings[0]


@posix_only
def test_group_writable_key_file_warns(keys_file: Path) -> None:
    save_key(UNIFY, KEY, keyring=None, keys_file=keys_file)
    keys_file.chmod(0o620)
    found = resolve_key(UNIFY, {}, keyring=None, keys_file=keys_file)
    assert any("changed by other users" in warning for warning in found.warnings)


def test_broken_key_file_warns_without_quoting_it(keys_file: Path) -> None:
    keys_file.parent.mkdir(parents=True)
    keys_file.write_text(f'[keys]\nunify = "{KEY}\n', encoding="utf-8")
    keys_file.chmod(0o600)
    found = resolve_key(UNIFY, {}, keyring=None, keys_file=keys_file)
    assert not found.found
    assert any("not valid TOML" in warning for warning in found.warnings)
    assert all(KEY not in warning for warning in found.warnings)
    # ... and saving refuses to clobber a file it cannot read.
    with pytest.raises(KeyStoreError) as caught:
        save_key(UNIFY, "another-key-123456", keyring=None, keys_file=keys_file)
    assert KEY not in str(caught.value)


def test_key_file_without_keys_table(keys_file: Path) -> None:
    keys_file.parent.mkdir(parents=True)
    keys_file.write_text("keys = 3\n", encoding="utf-8")
    found = resolve_key(UNIFY, {}, keyring=None, keys_file=keys_file)
    assert not found.found and any("[keys]" in w for w in found.warnings)


def test_save_refuses_an_empty_key(keys_file: Path) -> None:
    with pytest.raises(ValueError):
        save_key(UNIFY, "  Bearer  ", keyring=None, keys_file=keys_file)
    assert not keys_file.exists()


def test_save_cleans_the_key(keys_file: Path) -> None:
    save_key(UNIFY, SecretStr(f"Authorization: Bearer {KEY}\n"), keyring=None, keys_file=keys_file)
    assert resolve_key(UNIFY, {}, keyring=None, keys_file=keys_file).key == SecretStr(KEY)


def test_forget_key_removes_file_entry_and_keyring(keys_file: Path) -> None:
    ring = FakeKeyring()
    ring.passwords[(SERVICE_NAME, "unify")] = KEY
    save_key(OPENROUTER, "sk-or-v1-0123456789", keyring=None, keys_file=keys_file)
    save_key(UNIFY, KEY, keyring=None, keys_file=keys_file)
    assert forget_key(UNIFY, keyring=ring, keys_file=keys_file) == ["keyring", "file"]
    assert not resolve_key(UNIFY, {}, keyring=ring, keys_file=keys_file).found
    assert resolve_key(OPENROUTER, {}, keyring=None, keys_file=keys_file).found
    assert forget_key(OPENROUTER, keyring=None, keys_file=keys_file) == ["file"]
    assert not keys_file.exists()  # the last key gone: no file left
    assert forget_key(OPENROUTER, keyring=None, keys_file=keys_file) == []


# --- the keyring -----------------------------------------------------------------------------


def test_save_prefers_the_keyring_and_drops_a_plaintext_copy(keys_file: Path) -> None:
    save_key(UNIFY, "old-key-in-file-123", keyring=None, keys_file=keys_file)
    ring = FakeKeyring()
    assert save_key(UNIFY, KEY, keyring=ring, keys_file=keys_file) == "keyring"
    assert ring.passwords[(SERVICE_NAME, "unify")] == KEY
    assert not keys_file.exists()


def test_failing_keyring_falls_back_to_the_file(keys_file: Path) -> None:
    ring = FakeKeyring(fail=True)
    assert save_key(UNIFY, KEY, keyring=ring, keys_file=keys_file) == "file"
    found = resolve_key(UNIFY, {}, keyring=ring, keys_file=keys_file)
    assert found.source == "file"
    assert len(found.warnings) == 1
    assert "RuntimeError" in found.warnings[0]
    assert KEY not in found.warnings[0]  # the backend's message is not repeated
    assert forget_key(UNIFY, keyring=ring, keys_file=keys_file) == ["file"]


def test_hanging_keyring_times_out_and_does_not_crash(keys_file: Path) -> None:
    release = threading.Event()
    ring = FakeKeyring(hang=release)
    try:
        assert save_key(UNIFY, KEY, keyring=ring, keys_file=keys_file, timeout_s=0.05) == "file"
        found = resolve_key(UNIFY, {}, keyring=ring, keys_file=keys_file, timeout_s=0.05)
        assert found.source == "file"
        assert any("did not answer" in warning for warning in found.warnings)
        assert forget_key(UNIFY, keyring=ring, keys_file=keys_file, timeout_s=0.05) == ["file"]
    finally:
        release.set()


def test_keyring_returning_garbage_is_ignored(keys_file: Path) -> None:
    ring = FakeKeyring()
    ring.passwords[(SERVICE_NAME, "unify")] = "   "
    assert not resolve_key(UNIFY, {}, keyring=ring, keys_file=keys_file).found


def test_system_keyring_missing_is_fine(keys_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_keyring(name: str, *args: object, **kwargs: object) -> object:
        if name == "keyring":
            raise ImportError("no keyring here")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_keyring)
    assert save_key(UNIFY, KEY, keys_file=keys_file) == "file"
    assert resolve_key(UNIFY, {}, keys_file=keys_file).source == "file"


def test_placeholder_backends_are_not_real() -> None:
    fail = type("Keyring", (), {"__module__": "keyring.backends.fail", "priority": 0})()
    null = type("Keyring", (), {"__module__": "keyring.backends.null", "priority": -1})()
    real = type("Keyring", (), {"__module__": "keyring.backends.SecretService", "priority": 5})()
    chain_empty = type("ChainerBackend", (), {"__module__": "keyring.backends.chainer"})()
    chain_empty.backends = [fail]  # type: ignore[attr-defined]
    chain_real = type("ChainerBackend", (), {"__module__": "keyring.backends.chainer"})()
    chain_real.backends = [fail, real]  # type: ignore[attr-defined]
    assert not is_real_keyring_backend(fail)
    assert not is_real_keyring_backend(null)
    assert not is_real_keyring_backend(chain_empty)
    assert is_real_keyring_backend(real)
    assert is_real_keyring_backend(chain_real)


# --- the key never shows ---------------------------------------------------------------------


def test_lookup_never_shows_the_key(keys_file: Path) -> None:
    found = resolve_key(UNIFY, {"UNIFY_KEY": KEY}, keyring=None, keys_file=keys_file)
    assert KEY not in repr(found) and KEY not in str(found)
    try:
        raise RuntimeError(f"failed with {found!r}")
    except RuntimeError:
        assert KEY not in traceback.format_exc()


# --- clean_key and validate_key_format -------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (f"  {KEY}\n", KEY),
        (f"Bearer {KEY}", KEY),
        (f"bearer   {KEY}", KEY),
        (f"Authorization: Bearer {KEY}", KEY),
        (f"authorization:bearer {KEY} ", KEY),
        ("", ""),
        ("Bearer", ""),
        ("Bearerxyz12345678", "Bearerxyz12345678"),
    ],
)
def test_clean_key(raw: str, clean: str) -> None:
    assert clean_key(raw) == clean


@pytest.mark.parametrize(
    ("kind", "raw", "fragment"),
    [
        ("unify", "", "empty"),
        ("unify", "export UNIFY_KEY=abc123456789", "not the NAME=... line"),
        ("unify", "UNIFY_KEY=abc123456789", "not the NAME=... line"),
        ("unify", f'"{KEY}"', "quotes"),
        ("unify", "abc def ghi jkl", "space"),
        ("unify", "abcdéfghijkl", "characters"),
        ("unify", "sk-or-v1-abcdefghij", "OpenRouter key"),
        ("unify", "abc123", "too short"),
        ("openrouter", "abc123", "too short"),
    ],
)
def test_validate_key_format_catches_paste_mistakes(kind: str, raw: str, fragment: str) -> None:
    message = validate_key_format(kind, raw)
    assert message is not None and fragment in message
    if raw:
        assert raw not in message


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("unify", KEY),
        ("unify", f"Bearer {KEY}"),
        ("openrouter", "sk-or-v1-abcdefghij"),
        ("openai-compatible", "x"),  # a local server takes anything
    ],
)
def test_validate_key_format_accepts_real_looking_keys(kind: str, raw: str) -> None:
    assert validate_key_format(kind, raw) is None


# --- transport -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://api.unify.ai/v0",
        "https://10.0.0.5:8443/v1",
        "http://127.0.0.1:8080/v1",
        "http://127.9.9.9/v1",
        "http://localhost:11434/v1",
        "http://LOCALHOST./v1",
        "http://[::1]:8000/v1",
        "http://[::ffff:127.0.0.1]/v1",
    ],
)
def test_https_and_loopback_http_are_fine(url: str) -> None:
    verdict = check_key_transport(url)
    assert verdict.ok and not verdict.needs_confirmation


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com/v1",
        "http://10.0.0.5:8000/v1",
        "http://localhost.example.com/v1",
        "http://127.0.0.1.nip.io/v1",
        "http://0.0.0.0:8000/v1",
        "http://user:pass@gateway.example.com/v1",
        "ftp://127.0.0.1/v1",
        "not a url",
        "http://[::1/v1",
    ],
)
def test_plain_http_off_this_machine_needs_confirmation(url: str) -> None:
    verdict = check_key_transport(url)
    assert verdict.needs_confirmation and not verdict.ok
    assert "pass" not in verdict.message  # credentials in the URL are never repeated


def test_refusal_names_the_host() -> None:
    message = check_key_transport("http://gateway.example.com:8000/v1").message
    assert "gateway.example.com" in message and "unencrypted" in message


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("127.0.0.1", True), ("::1", True), ("[::1]", True), ("10.1.1.1", False)],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_needs_key() -> None:
    assert needs_key(UNIFY) and needs_key(OPENROUTER)
    assert not needs_key(LOCAL)  # Ollama on this machine takes any key
    remote = GatewayProfile("r", "openai-compatible", base_url="https://llm.example.com/v1")
    assert needs_key(remote)
    # a local server that checks keys (a LiteLLM proxy with a master key) says so
    proxy = GatewayProfile(
        "proxy", "openai-compatible", base_url="http://127.0.0.1:4000/v1", needs_key=True
    )
    assert needs_key(proxy)


# --- property: a damaged key file never crashes the lookup ---------------------------------


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_random_key_file_never_raises(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "keys.toml"
    path.write_bytes(data)
    found = resolve_key(UNIFY, {}, keyring=None, keys_file=path)
    for warning in found.warnings:
        assert isinstance(warning, str)
