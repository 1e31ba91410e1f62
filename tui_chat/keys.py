"""API keys: where a profile's key comes from, where a new one is kept, and where it may go.

Lookup order (``resolve_key``): the environment variable named by the profile's ``key_env``,
then the system keyring (only a real backend, each call bounded by a timeout because a locked
D-Bus secret service can block forever), then ``keys.toml`` in the config directory
(``[keys] <profile> = "..."``, mode 0600). ``save_key`` prefers the keyring and falls back to the
file, which is always born 0600 and replaced atomically.

A key is a ``SecretStr`` from the moment it is read: no repr, str, warning or exception message
in this module contains one.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

import platformdirs

from tui_chat.config import APP_NAME, GatewayProfile, toml_key, toml_string, write_private_file
from tui_chat.gateways.config import SecretStr

SERVICE_NAME: Final = "unify-tui"  # the keyring service; the username is the profile name
KEYS_FILE_NAME: Final = "keys.toml"
DEFAULT_KEYRING_TIMEOUT_S: Final = 2.0

SOURCE_KEYRING: Final = "keyring"
SOURCE_FILE: Final = "file"

_T = TypeVar("_T")


class KeyringLike(Protocol):
    """The part of the ``keyring`` module (or a backend) this module uses."""

    def get_password(self, service_name: str, username: str) -> str | None: ...

    def set_password(self, service_name: str, username: str, password: str) -> None: ...

    def delete_password(self, service_name: str, username: str) -> None: ...


# "system": find the real system keyring if there is one; None: no keyring; else the object.
KeyringChoice = KeyringLike | Literal["system"] | None


class KeyStoreError(Exception):
    """A key could not be stored or removed. The message names the file, never the key."""


class KeyringTimeout(Exception):
    """The keyring did not answer in time (typically a locked secret service)."""


def default_keys_path() -> Path:
    """``<user config dir>/unify-tui/keys.toml`` (the file need not exist)."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / KEYS_FILE_NAME


@dataclass(frozen=True)
class KeyLookup:
    """The outcome of ``resolve_key``.

    ``key`` is None when no key was found. ``source`` says where it came from:
    ``"env:UNIFY_KEY"``, ``"keyring"``, ``"file"``, or None. ``warnings`` are sentences for the
    user (a keys.toml others can read, a keyring that did not answer), never containing the key.
    """

    key: SecretStr | None
    source: str | None
    warnings: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        """True when a non-empty key was found."""
        return bool(self.key)


# --- the keyring -------------------------------------------------------------------------------


def _call_with_timeout(call: Callable[[], _T], timeout_s: float) -> _T:
    """Run ``call`` on a daemon thread; raise ``KeyringTimeout`` if it has not returned in time.

    A call that never returns is abandoned (the daemon thread does not keep the app alive).
    """
    outcome: list[tuple[bool, object]] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as error:  # handed back to the caller below
            outcome.append((False, error))

    worker = threading.Thread(target=run, name="unify-tui-keyring", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not outcome:
        raise KeyringTimeout(f"the keyring did not answer within {timeout_s:g} s")
    succeeded, value = outcome[0]
    if succeeded:
        return value  # type: ignore[return-value]
    assert isinstance(value, BaseException)
    raise value


def is_real_keyring_backend(backend: object) -> bool:
    """False for keyring's placeholder backends: fail, null, and a chainer with nothing real."""
    module = type(backend).__module__
    if module.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return False
    if module.startswith("keyring.backends.chainer"):
        inner = getattr(backend, "backends", None) or []
        return any(is_real_keyring_backend(each) for each in inner)
    priority = getattr(backend, "priority", 1)
    return not (isinstance(priority, int | float) and priority <= 0)


def system_keyring(timeout_s: float = DEFAULT_KEYRING_TIMEOUT_S) -> KeyringLike | None:
    """The system keyring backend, or None when ``keyring`` is missing, unusable or stuck."""
    try:
        import keyring
    except Exception:
        return None

    def find() -> object:
        return keyring.get_keyring()

    try:
        backend = _call_with_timeout(find, timeout_s)
    except Exception:
        return None
    if not is_real_keyring_backend(backend):
        return None
    if not all(
        callable(getattr(backend, name, None))
        for name in ("get_password", "set_password", "delete_password")
    ):
        return None
    return backend  # type: ignore[return-value]


def _pick_keyring(choice: KeyringChoice, timeout_s: float) -> KeyringLike | None:
    if choice == "system":
        return system_keyring(timeout_s)
    return choice


def _keyring_failure(action: str, error: Exception) -> str:
    # Only the exception's type: a backend's message is not ours to vouch for.
    if isinstance(error, KeyringTimeout):
        return (
            f"The system keyring did not answer within the time limit while {action}; skipped it."
        )
    return f"The system keyring failed while {action} ({type(error).__name__}); skipped it."


# --- the key file ------------------------------------------------------------------------------


def _key_file_warnings(path: Path, status: os.stat_result) -> list[str]:
    if os.name != "posix":
        return []
    warnings = []
    if status.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.append(f"keys.toml is readable by other users; run chmod 600 {path}")
    elif status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        warnings.append(f"keys.toml can be changed by other users; run chmod 600 {path}")
    if hasattr(os, "getuid") and status.st_uid != os.getuid():
        warnings.append(f"keys.toml belongs to another user; check {path}")
    return warnings


def _read_key_file(path: Path) -> tuple[dict[str, str] | None, list[str]]:
    """The ``[keys]`` table (None if the file is missing or unusable) and warnings about it."""
    try:
        with open(path, "rb") as handle:
            status = os.fstat(handle.fileno())
            data = handle.read()
    except FileNotFoundError:
        return None, []
    except IsADirectoryError:
        return None, [f"{path} is a directory, not a key file; ignoring it"]
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return None, [f"{path} cannot be read ({reason}); ignoring it"]
    warnings = _key_file_warnings(path, status)
    import tomllib  # here, not at start-up: most runs have no keys file to parse

    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        # No detail: a parser message could quote a fragment of the file, i.e. of a key.
        warnings.append(f"{path} is not valid TOML; ignoring it (fix or delete it)")
        return None, warnings
    table = document.get("keys", {})
    if not isinstance(table, dict):
        warnings.append(f"{path} has no [keys] table; ignoring it")
        return None, warnings
    keys = {name: value for name, value in table.items() if isinstance(value, str)}
    return keys, warnings


def _write_key_file(path: Path, keys: Mapping[str, str]) -> None:
    if not keys:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        return
    lines = [
        "# API keys for unify-tui, one per gateway profile. Keep this file private (chmod 600).",
        "[keys]",
        *(f"{toml_key(name)} = {toml_string(value)}" for name, value in sorted(keys.items())),
    ]
    write_private_file(path, "\n".join(lines) + "\n", overwrite=True)


def _existing_keys_for_update(path: Path) -> dict[str, str]:
    """The keys already in the file, or ``KeyStoreError`` if it exists but cannot be kept."""
    keys, _ = _read_key_file(path)
    if keys is None and (path.exists() or path.is_symlink()):
        raise KeyStoreError(
            f"{path} exists but is not a readable key file; fix or delete it, then try again"
        )
    return dict(keys or {})


# --- the public functions ----------------------------------------------------------------------


def clean_key(key: str) -> str:
    """``key`` without surrounding whitespace and without an ``Authorization: Bearer`` prefix."""
    cleaned = key.strip()
    cleaned = re.sub(r"^authorization\s*:\s*", "", cleaned, flags=re.IGNORECASE)
    cleaned = re.sub(r"^bearer(\s+|$)", "", cleaned, flags=re.IGNORECASE)
    return cleaned.strip()


def resolve_key(
    profile: GatewayProfile,
    environ: Mapping[str, str] | None = None,
    *,
    keyring: KeyringChoice = "system",
    keys_file: Path | None = None,
    timeout_s: float = DEFAULT_KEYRING_TIMEOUT_S,
) -> KeyLookup:
    """Find the key for ``profile``: environment, then keyring, then ``keys.toml``.

    ``keyring``: "system" (detect a real one), None (skip), or a keyring-like object (tests).
    ``timeout_s`` bounds each keyring call, in seconds. Never raises for a broken keyring or file.
    """
    if profile.kind == "demo":
        return KeyLookup(None, None)
    env = os.environ if environ is None else environ
    warnings: list[str] = []
    if profile.key_env:
        from_env = clean_key(env.get(profile.key_env, ""))
        if from_env:
            return KeyLookup(SecretStr(from_env), f"env:{profile.key_env}")

    store = _pick_keyring(keyring, timeout_s)
    if store is not None:
        try:
            stored = _call_with_timeout(
                lambda: store.get_password(SERVICE_NAME, profile.name), timeout_s
            )
        except Exception as error:
            warnings.append(_keyring_failure("reading the key", error))
        else:
            if isinstance(stored, str) and clean_key(stored):
                return KeyLookup(SecretStr(clean_key(stored)), SOURCE_KEYRING)

    path = default_keys_path() if keys_file is None else keys_file
    keys, file_warnings = _read_key_file(path)
    warnings.extend(file_warnings)
    from_file = clean_key((keys or {}).get(profile.name, ""))
    if from_file:
        return KeyLookup(SecretStr(from_file), SOURCE_FILE, tuple(warnings))
    return KeyLookup(None, None, tuple(warnings))


def save_key(
    profile: GatewayProfile,
    key: str | SecretStr,
    *,
    keyring: KeyringChoice = "system",
    keys_file: Path | None = None,
    timeout_s: float = DEFAULT_KEYRING_TIMEOUT_S,
) -> str:
    """Keep ``key`` for ``profile``; return where: ``"keyring"`` or ``"file"``.

    The keyring when a real one answers; otherwise ``keys.toml`` (created 0600, written
    atomically, other profiles' keys kept). Raises ``ValueError`` for an empty key and
    ``KeyStoreError`` when the file cannot be written.
    """
    value = clean_key(key.get_secret_value() if isinstance(key, SecretStr) else key)
    if not value:
        raise ValueError("refusing to save an empty API key")
    path = default_keys_path() if keys_file is None else keys_file

    store = _pick_keyring(keyring, timeout_s)
    if store is not None:
        try:
            _call_with_timeout(
                lambda: store.set_password(SERVICE_NAME, profile.name, value), timeout_s
            )
        except Exception:
            pass  # fall back to the file below
        else:
            _drop_from_file(path, profile.name)  # no stale plaintext copy left behind
            return SOURCE_KEYRING

    keys = _existing_keys_for_update(path)
    keys[profile.name] = value
    try:
        _write_key_file(path, keys)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise KeyStoreError(f"could not write {path} ({reason})") from None
    return SOURCE_FILE


def _drop_from_file(path: Path, name: str) -> bool:
    keys, _ = _read_key_file(path)
    if not keys or name not in keys:
        return False
    del keys[name]
    try:
        _write_key_file(path, keys)
    except OSError:
        return False
    return True


def forget_key(
    profile: GatewayProfile,
    *,
    keyring: KeyringChoice = "system",
    keys_file: Path | None = None,
    timeout_s: float = DEFAULT_KEYRING_TIMEOUT_S,
) -> list[str]:
    """Remove the stored key of ``profile`` from the keyring and ``keys.toml``.

    Returns where a key was removed (``["keyring", "file"]``, possibly empty). A key in the
    environment is out of reach: check ``resolve_key`` afterwards to tell the user.
    """
    removed: list[str] = []
    store = _pick_keyring(keyring, timeout_s)
    if store is not None:
        try:
            present = _call_with_timeout(
                lambda: store.get_password(SERVICE_NAME, profile.name), timeout_s
            )
            if present is not None:
                _call_with_timeout(
                    lambda: store.delete_password(SERVICE_NAME, profile.name), timeout_s
                )
                removed.append(SOURCE_KEYRING)
        except Exception:
            pass  # nothing there, or a keyring that will not answer: nothing more to do
    path = default_keys_path() if keys_file is None else keys_file
    if _drop_from_file(path, profile.name):
        removed.append(SOURCE_FILE)
    return removed


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1, ::ffff:127.x)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


@dataclass(frozen=True)
class TransportVerdict:
    """Whether a key may go to a base URL without asking, and a plain sentence saying why."""

    needs_confirmation: bool
    message: str

    @property
    def ok(self) -> bool:
        """True when the key may be sent without asking."""
        return not self.needs_confirmation


def check_key_transport(base_url: str) -> TransportVerdict:
    """Refuse (unless the user confirms) to send a key over plain http off this machine.

    https anywhere and http to a loopback host are fine. The message names the host only,
    never the whole URL (it could carry credentials).
    """
    try:
        parts = urlsplit(base_url.strip())
        host = parts.hostname or ""
        scheme = parts.scheme.lower()
    except ValueError:
        host, scheme = "", ""
    if scheme not in ("http", "https") or not host:
        return TransportVerdict(
            True, "The base URL is not an http(s) URL with a host; no key will be sent to it."
        )
    if scheme == "https":
        return TransportVerdict(False, f"The key is sent to {host} encrypted (https).")
    if is_loopback_host(host):
        return TransportVerdict(
            False, f"Plain http, but to this machine ({host}): the key does not leave it."
        )
    return TransportVerdict(
        True,
        f"The key would be sent unencrypted (plain http) to {host}; anyone on the network "
        "between could read it. Use an https:// base URL, or confirm to send it anyway.",
    )


def needs_key(profile: GatewayProfile) -> bool:
    """Whether to ask for a key when none is found.

    The demo gateway never needs one; an openai-compatible server on this machine (Ollama,
    LM Studio, llama.cpp) usually accepts any key or none, unless its profile says
    ``needs_key = true`` (a LiteLLM proxy with a master key).
    """
    if profile.kind == "demo":
        return False
    if profile.needs_key is not None:
        return profile.needs_key
    if profile.kind == "openai-compatible" and profile.base_url:
        try:
            host = urlsplit(profile.base_url).hostname or ""
        except ValueError:
            host = ""
        if host and is_loopback_host(host):
            return False
    return True


_PASTED_ASSIGNMENT = re.compile(r"^(export\s+|set\s+)|^[A-Z][A-Z0-9_]*_(KEY|TOKEN)\s*=")


def validate_key_format(kind: str, key: str) -> str | None:
    """A sentence about an obvious paste mistake in ``key``, or None when it looks usable.

    A leading ``Bearer `` (or ``Authorization: Bearer ``) and surrounding whitespace are not
    mistakes: ``clean_key`` strips them, so use ``clean_key(key)`` as the value to save.
    The sentence never contains the key.
    """
    cleaned = clean_key(key)
    if not cleaned:
        return "The key is empty; paste the API key itself."
    if _PASTED_ASSIGNMENT.search(cleaned):
        return "Paste only the key itself, not the NAME=... line around it."
    if cleaned[0] in "\"'`" or cleaned[-1] in "\"'`":
        return "Remove the quotes around the key."
    if any(char.isspace() for char in cleaned):
        return "The key contains a space or a line break; paste it again (the key only)."
    if not (cleaned.isascii() and cleaned.isprintable()):
        return "The key contains characters an API key never has; paste it again."
    if kind == "unify" and cleaned.startswith("sk-or-"):
        return "This looks like an OpenRouter key; use it with an openrouter gateway profile."
    if kind in ("unify", "openrouter") and len(cleaned) < 8:
        return "The key is too short to be an API key; paste the whole key."
    return None
