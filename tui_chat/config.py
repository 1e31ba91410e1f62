"""The configuration file: ``config.toml`` read into a frozen ``AppConfig``.

Where: ``platformdirs.user_config_dir("unify-tui")/config.toml`` (``--config PATH`` overrides).
Every setting has a default, so no file at all is a valid configuration.

``load_config()`` never raises for a bad file. Each thing that is wrong (a TOML syntax error, an
unknown key, a wrong type, a value out of range) becomes a ``ConfigProblem`` naming the file, the
line and the key, and the app starts on defaults for what was bad: a syntax error means all
defaults, a bad single key means that key's default with the rest kept. A gateway profile that
cannot work (an unknown ``kind``, an ``openai-compatible`` one without ``base_url``) is skipped
rather than guessed at, so a key is never sent somewhere the user did not mean.

API keys never live in this file; see ``tui_chat.keys``.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, cast, get_args

import platformdirs

from tui_chat.bindings import BINDING_IDS, DEFAULT_KEYS
from tui_chat.core.accounting import estimate_cost
from tui_chat.gateways.config import normalize_base_url
from tui_chat.gateways.errors import ConfigurationError

if TYPE_CHECKING:
    import tomllib

APP_NAME: Final = "unify-tui"
CONFIG_FILE_NAME: Final = "config.toml"

GatewayKind = Literal["unify", "openrouter", "openai-compatible", "demo"]
GATEWAY_KINDS: Final[tuple[GatewayKind, ...]] = get_args(GatewayKind)

DEFAULT_BASE_URLS: Final[Mapping[str, str]] = MappingProxyType(
    {"unify": "https://api.unify.ai/v0", "openrouter": "https://openrouter.ai/api/v1"}
)
DEFAULT_KEY_ENVS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "unify": "UNIFY_KEY",
        "openrouter": "OPENROUTER_API_KEY",
        "openai-compatible": "OPENAI_API_KEY",
    }
)
_KIND_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "unify": "Unify",
        "openrouter": "OpenRouter",
        "openai-compatible": "OpenAI-compatible",
        "demo": "Demo gateway",
    }
)
BUILTIN_PROFILE_NAMES: Final[tuple[str, ...]] = ("unify", "openrouter", "demo")

# The key bindings as shipped (binding id -> keys), from the one bindings table; they feed the
# commented template and let the app tell a known id from a typo.
DEFAULT_BINDING_KEYS: Final[Mapping[str, str]] = DEFAULT_KEYS
KNOWN_BINDING_IDS: Final[frozenset[str]] = BINDING_IDS

DEFAULT_MODEL: Final = "llama-3.1-8b-chat@highest-tks-per-sec"
"""The endpoint the full-screen app starts on when neither --model, the profile nor
config.toml names one."""

_PROFILE_NAME = re.compile(r"[A-Za-z0-9_-]+")
_BINDING_ID = re.compile(r"[a-z_]+")
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SECRET_LOOKING_KEYS = frozenset(
    {
        "key",
        "keys",
        "api_key",
        "apikey",
        "api-key",
        "token",
        "secret",
        "password",
        "unify_key",
        "openrouter_api_key",
        "openai_api_key",
    }
)
_KEYS_ADVICE = (
    "API keys don't belong in config.toml; set the environment variable named by key_env, "
    "or let unify-tui store the key (system keyring or keys.toml); this value was ignored"
)


def default_config_path() -> Path:
    """``<user config dir>/unify-tui/config.toml`` (the file need not exist)."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / CONFIG_FILE_NAME


# --- the records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelPrice:
    """Prices for one model on an OpenAI-compatible server, in $ (credits) per million tokens."""

    input: float
    output: float

    def estimate(self, prompt_tokens: int | None, completion_tokens: int | None) -> float:
        """Estimated cost in credits (USD) of a reply with these token counts."""
        return estimate_cost(prompt_tokens, completion_tokens, self.input, self.output)


@dataclass(frozen=True)
class GatewayProfile:
    """One gateway the user can talk to: what kind it is, where, and which env var has its key.

    ``base_url`` defaults per kind (None for ``demo``: the embedded gateway; required for
    ``openai-compatible``). ``key_env`` defaults per kind; ``""`` means "no environment variable"
    (``demo`` never has one). ``prices`` maps a model name to its ``ModelPrice`` and is used to
    estimate costs on servers that report none.
    """

    name: str
    kind: GatewayKind = "unify"
    base_url: str | None = None
    key_env: str | None = None
    default_model: str | None = None
    prices: Mapping[str, ModelPrice] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in GATEWAY_KINDS:
            raise ValueError(
                f"gateway kind must be one of {', '.join(GATEWAY_KINDS)}, got {self.kind!r}"
            )
        if self.base_url is None:
            if self.kind == "openai-compatible":
                raise ValueError(
                    f"gateway {self.name!r}: an openai-compatible gateway needs a base_url"
                )
            object.__setattr__(self, "base_url", DEFAULT_BASE_URLS.get(self.kind))
        if self.kind == "demo":
            object.__setattr__(self, "key_env", "")
        elif self.key_env is None:
            object.__setattr__(self, "key_env", DEFAULT_KEY_ENVS[self.kind])
        object.__setattr__(self, "prices", MappingProxyType(dict(self.prices)))

    @property
    def label(self) -> str:
        """A short name for the status bar: "Unify", "OpenRouter", "local (OpenAI-compatible)"."""
        kind_label = _KIND_LABELS[self.kind]
        if self.name == self.kind:
            return kind_label
        return f"{self.name} ({kind_label})"

    @property
    def reports_cost(self) -> bool:
        """True when the gateway itself reports what a reply cost (no estimate needed)."""
        return self.kind in ("unify", "openrouter", "demo")

    def price(self, model: str) -> ModelPrice | None:
        """The configured price of ``model``, or None when the table has no entry for it."""
        return self.prices.get(model)


def builtin_profiles() -> dict[str, GatewayProfile]:
    """The profiles that always exist: unify, openrouter and demo."""
    return {
        "unify": GatewayProfile("unify", "unify"),
        "openrouter": GatewayProfile("openrouter", "openrouter"),
        "demo": GatewayProfile("demo", "demo"),
    }


class UnknownGatewayError(LookupError):
    """``AppConfig.profile()`` was asked for a profile that is not configured."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(
            f"There is no gateway profile named {name!r}; configured: {', '.join(known)}. "
            f"Add a [gateways.{toml_key(name)}] table to config.toml to define it."
        )


@dataclass(frozen=True)
class AppConfig:
    """Every setting, with the defaults the app uses when there is no file.

    ``temperature`` 0..2; ``max_tokens`` > 0; ``spend_cap`` in credits per conversation; None
    means "not set" (the gateway's or the app's own default). ``export_dir`` is the folder
    exports are written to, absolute (``~`` expanded, a relative path taken from the home
    folder); None: ``tui_chat.ui.saving.default_export_dir()``. ``bindings`` maps a binding id to
    Textual key names, comma-separated (``"ctrl+s,f9"``), ready for ``App.set_keymap``.
    """

    default_gateway: str = "unify"
    default_model: str | None = None
    show_credits: bool = True
    show_provider: bool = True
    theme: str | None = None
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    spend_cap: float | None = None
    export_dir: Path | None = None
    bindings: Mapping[str, str] = field(default_factory=dict, hash=False)
    gateways: Mapping[str, GatewayProfile] = field(default_factory=builtin_profiles, hash=False)
    path: Path | None = field(default=None, compare=False)  # the file read, if there was one

    def __post_init__(self) -> None:
        object.__setattr__(self, "bindings", MappingProxyType(dict(self.bindings)))
        object.__setattr__(
            self, "gateways", MappingProxyType({**builtin_profiles(), **self.gateways})
        )

    def profile(self, name: str) -> GatewayProfile:
        """The profile called ``name``; ``UnknownGatewayError`` (a LookupError) if none."""
        try:
            return self.gateways[name]
        except KeyError:
            raise UnknownGatewayError(name, sorted(self.gateways)) from None

    @property
    def default_profile(self) -> GatewayProfile:
        """The profile named by ``default_gateway``."""
        return self.profile(self.default_gateway)

    def model_for(self, profile_name: str) -> str | None:
        """The model to start with on a profile: its own ``default_model``, else the global one."""
        return self.profile(profile_name).default_model or self.default_model

    def unknown_binding_ids(self, known: frozenset[str] = KNOWN_BINDING_IDS) -> list[str]:
        """Binding ids in the file that the app does not know (for a warning), sorted."""
        return sorted(set(self.bindings) - known)


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration file.

    ``line`` is 1-based, None when it could not be located; ``key`` is the dotted key
    (``gateways.local.kind``), None for whole-file problems.
    """

    path: Path
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        shown = display_path(self.path)
        where = shown if self.line is None else f"{shown}:{self.line}"
        if self.key:
            return f"{where}: {self.key}: {self.message}"
        return f"{where}: {self.message}"


def display_path(path: Path) -> str:
    """``path`` for a message: the home directory shown as ``~``."""
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except (ValueError, RuntimeError, OSError):
        return str(path)


# --- locating keys in the raw text -------------------------------------------------------------

KeyPath = tuple[str, ...]


def toml_key(part: str) -> str:
    """``part`` as a TOML key: bare when it can be, quoted otherwise."""
    return part if _BARE_KEY.fullmatch(part) else toml_string(part)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (quotes included)."""
    out = ['"']
    for char in text:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _dotted(path: KeyPath) -> str:
    return ".".join(toml_key(part) for part in path)


def _parse_key_path(text: str, pos: int) -> tuple[KeyPath, int] | None:
    """Read a (dotted, maybe quoted) TOML key at ``pos``; None if there is none."""
    parts: list[str] = []
    length = len(text)
    while True:
        while pos < length and text[pos] in " \t":
            pos += 1
        if pos >= length:
            return None
        char = text[pos]
        if char == '"':
            end = pos + 1
            while end < length and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= length:
                return None
            raw = text[pos : end + 1]
            import tomllib

            try:
                parts.append(str(tomllib.loads(f"k = {raw}")["k"]))
            except (tomllib.TOMLDecodeError, KeyError):
                parts.append(raw[1:-1])
            pos = end + 1
        elif char == "'":
            end = text.find("'", pos + 1)
            if end < 0:
                return None
            parts.append(text[pos + 1 : end])
            pos = end + 1
        else:
            match = _BARE_KEY.match(text, pos)
            if match is None:
                return None
            parts.append(match.group())
            pos = match.end()
        while pos < length and text[pos] in " \t":
            pos += 1
        if pos < length and text[pos] == ".":
            pos += 1
            continue
        return tuple(parts), pos


def _scan_keys(text: str) -> list[tuple[int, KeyPath]]:
    """(line, full key path) for every table header and key/value line, in file order.

    Best effort: tomllib keeps no positions, so this follows ``[table]`` headers and dotted keys
    and skips the inside of multi-line strings. Keys inside inline tables are not listed.
    """
    found: list[tuple[int, KeyPath]] = []
    table: KeyPath = ()
    open_string: str | None = None  # the closing delimiter while inside a multi-line string
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.rstrip("\r")
        if open_string is not None:
            if open_string in line:
                open_string = None
            continue
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            start = 2 if stripped.startswith("[[") else 1
            header = _parse_key_path(stripped, start)
            if header is not None:
                table = header[0]
                found.append((number, table))
            continue
        parsed = _parse_key_path(stripped, 0)
        if parsed is None:
            continue
        key, pos = parsed
        if pos >= len(stripped) or stripped[pos] != "=":
            continue
        found.append((number, table + key))
        value = stripped[pos + 1 :].lstrip(" \t")
        for delimiter in ('"""', "'''"):
            if value.startswith(delimiter) and delimiter not in value[3:]:
                open_string = delimiter
                break
    return found


def _safe_scan(text: str) -> list[tuple[int, KeyPath]]:
    try:
        return _scan_keys(text)
    except Exception:  # a locator bug must never stop the app from starting
        return []


# --- reading values ----------------------------------------------------------------------------


def _looks_like_secret(text: str) -> bool:
    """True for a string that may be a pasted API key, so a message must not echo it."""
    candidate = text.strip()
    if candidate.lower().startswith(("sk-", "bearer ")):
        return True
    return (
        len(candidate) >= 20
        and not any(char.isspace() for char in candidate)
        and "://" not in candidate
        and any(char.isdigit() for char in candidate)
        and any(char.isalpha() for char in candidate)
    )


def _is_pasted_key(text: str) -> bool:
    """True for a string that is almost surely an API key (``sk-...``, ``Bearer ...``)."""
    return text.strip().lower().startswith(("sk-", "bearer "))


def _describe(value: object) -> str:
    """A short, TOML-flavoured picture of a value for "got ..." in a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if _looks_like_secret(value):
            return "a string that looks like an API key (not shown)"
        shown = value if len(value) <= 40 else value[:37] + "..."
        return repr(shown)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Reader:
    """Turns the parsed document into settings, collecting problems as it goes."""

    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.lines: dict[KeyPath, int] = {}
        for number, path in _safe_scan(text):
            self.lines.setdefault(path, number)
        self.problems: list[ConfigProblem] = []

    def line_of(self, path: KeyPath) -> int | None:
        for length in range(len(path), 0, -1):
            line = self.lines.get(path[:length])
            if line is not None:
                return line
        return None

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(ConfigProblem(self.file, self.line_of(path), _dotted(path), message))

    def unknown(self, path: KeyPath, allowed: tuple[str, ...]) -> None:
        name = path[-1]
        if name.lower() in _SECRET_LOOKING_KEYS:
            self.problem(path, _KEYS_ADVICE)
            return
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = (
            f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(allowed)}"
        )
        self.problem(path, f"unknown setting{hint}")

    # Each reader returns the value, or None after recording why it is not usable.

    def boolean(self, path: KeyPath, value: object) -> bool | None:
        if isinstance(value, bool):
            return value
        self.problem(path, f"expected true or false, got {_describe(value)}")
        return None

    def text(self, path: KeyPath, value: object, *, allow_empty: bool = False) -> str | None:
        if isinstance(value, str) and _is_pasted_key(value):
            self.problem(path, _KEYS_ADVICE)
            return None
        if isinstance(value, str) and (allow_empty or value.strip()):
            return value
        wanted = "a string" if allow_empty else "a non-empty string"
        self.problem(path, f"expected {wanted}, got {_describe(value)}")
        return None

    def number(
        self,
        path: KeyPath,
        value: object,
        wanted: str,
        accept: Callable[[float], bool],
    ) -> float | None:
        if _is_number(value) and accept(float(cast(float, value))):
            return float(cast(float, value))
        self.problem(path, f"expected {wanted}, got {_describe(value)}")
        return None


_TOP_LEVEL_KEYS: Final = (
    "default_gateway",
    "default_model",
    "show_credits",
    "show_provider",
    "theme",
    "system_prompt",
    "temperature",
    "max_tokens",
    "spend_cap",
    "export_dir",
    "bindings",
    "gateways",
)
_PROFILE_KEYS: Final = ("kind", "base_url", "key_env", "default_model", "prices")
_PRICE_KEYS: Final = ("input", "output")


def _read_document(reader: _Reader, document: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``AppConfig`` from a parsed document (bad values left out)."""
    settings: dict[str, Any] = {}
    for name, value in document.items():
        path: KeyPath = (name,)
        if name in ("show_credits", "show_provider"):
            flag = reader.boolean(path, value)
            if flag is not None:
                settings[name] = flag
        elif name in ("default_model", "theme"):
            text = reader.text(path, value)
            if text is not None:
                settings[name] = text.strip()
        elif name == "system_prompt":
            prompt = reader.text(path, value, allow_empty=True)
            if prompt is not None and prompt.strip():
                settings[name] = prompt
        elif name == "temperature":
            temperature = reader.number(
                path, value, "a number from 0 to 2", lambda x: 0.0 <= x <= 2.0
            )
            if temperature is not None:
                settings[name] = temperature
        elif name == "max_tokens":
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                settings[name] = value
            else:
                reader.problem(path, f"expected a whole number above 0, got {_describe(value)}")
        elif name == "spend_cap":
            cap = reader.number(
                path, value, "a number of credits above 0", lambda x: math.isfinite(x) and x > 0
            )
            if cap is not None:
                settings[name] = cap
        elif name == "export_dir":
            folder = _read_export_dir(reader, path, value)
            if folder is not None:
                settings[name] = folder
        elif name == "bindings":
            settings["bindings"] = _read_bindings(reader, value)
        elif name == "gateways":
            pass  # read below, once, so default_gateway can be checked against the result
        elif name == "default_gateway":
            pass
        else:
            reader.unknown(path, _TOP_LEVEL_KEYS)

    skipped: set[str] = set()
    profiles = builtin_profiles()
    if "gateways" in document:
        read, skipped = _read_gateways(reader, document["gateways"])
        profiles.update(read)
    settings["gateways"] = profiles

    if "default_gateway" in document:
        path = ("default_gateway",)
        wanted = reader.text(path, document["default_gateway"])
        if wanted is not None:
            wanted = wanted.strip()
            if wanted in profiles:
                settings["default_gateway"] = wanted
            elif wanted in skipped:
                reader.problem(
                    path, f"the gateway profile {wanted!r} has errors (see above); using 'unify'"
                )
            else:
                reader.problem(
                    path,
                    f"no gateway profile named {wanted!r}; known: {', '.join(sorted(profiles))}; "
                    "using 'unify'",
                )
    return settings


def _read_export_dir(reader: _Reader, path: KeyPath, value: object) -> Path | None:
    """``export_dir``: an absolute folder. ``~`` is the home folder, and a relative path is
    taken from the home folder too (never from wherever the app happens to be started)."""
    example = '"~/Documents/chats"'
    if isinstance(value, str) and _is_pasted_key(value):
        reader.problem(path, _KEYS_ADVICE)
        return None
    if not isinstance(value, str) or not value.strip():
        reader.problem(
            path,
            f"expected a folder path such as {example}, got {_describe(value)}; "
            "exporting to the default folder",
        )
        return None
    text = value.strip()
    if "\0" in text:
        reader.problem(
            path, "a folder path cannot contain a NUL character; exporting to the default folder"
        )
        return None
    if text.startswith(("$", "%")):
        reader.problem(
            path,
            f"environment variables are not expanded here; write the folder itself, such as "
            f"{example} (got {_describe(value)}); exporting to the default folder",
        )
        return None
    try:
        folder = Path(text).expanduser()
        if not folder.is_absolute():
            folder = Path.home() / folder
    except RuntimeError:  # no home folder to expand ~ against (HOME unset, no passwd entry)
        reader.problem(
            path,
            f"cannot tell where {_describe(value)} is: the home folder is unknown; "
            "exporting to the default folder",
        )
        return None
    return folder


def _check_known(
    reader: _Reader,
    settings: dict[str, Any],
    binding_ids: Collection[str] | Callable[[], Collection[str]] | None,
    themes: Collection[str] | Callable[[], Collection[str]] | None,
) -> None:
    """Drop (with a problem) bindings and a theme the app does not know."""
    if binding_ids is not None and "bindings" in settings:
        if callable(binding_ids):
            binding_ids = binding_ids()
        kept: dict[str, str] = {}
        for binding_id, keys in settings["bindings"].items():
            if binding_id in binding_ids:
                kept[binding_id] = keys
                continue
            close = difflib.get_close_matches(binding_id, list(binding_ids), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see --print-config for the ids"
            reader.problem(("bindings", binding_id), f"no binding has this id; {hint}")
        settings["bindings"] = kept
    theme = settings.get("theme")
    if callable(themes) and theme is not None:
        themes = themes()
    if themes is not None and not callable(themes) and theme is not None and theme not in themes:
        close = difflib.get_close_matches(theme, list(themes), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(themes))}"
        reader.problem(("theme",), f"there is no theme {theme!r}; {hint}")
        del settings["theme"]


def _read_bindings(reader: _Reader, value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        reader.problem(("bindings",), f"expected a table ([bindings]), got {_describe(value)}")
        return {}
    bindings: dict[str, str] = {}
    for binding_id, keys in value.items():
        path: KeyPath = ("bindings", binding_id)
        if not _BINDING_ID.fullmatch(binding_id):
            reader.problem(path, "binding ids are lower-case letters and '_' (like toggle_panel)")
            continue
        parts: list[object] = keys if isinstance(keys, list) else [keys]
        names = [part.strip() for part in parts if isinstance(part, str)]
        split = [name.strip() for joined in names for name in joined.split(",")]
        if (
            len(names) != len(parts)
            or not split
            or any(not name or any(c.isspace() for c in name) for name in split)
        ):
            reader.problem(
                path, f'expected keys like "ctrl+s" or "f9,ctrl+p", got {_describe(keys)}'
            )
            continue
        bindings[binding_id] = ",".join(split)
    return bindings


def _read_gateways(reader: _Reader, value: object) -> tuple[dict[str, GatewayProfile], set[str]]:
    """The profiles the file defines (merged over built-ins) and the names it had to skip."""
    if not isinstance(value, dict):
        reader.problem(
            ("gateways",), f"expected tables like [gateways.local], got {_describe(value)}"
        )
        return {}, set()
    profiles: dict[str, GatewayProfile] = {}
    skipped: set[str] = set()
    builtins = builtin_profiles()
    for name, table in value.items():
        path: KeyPath = ("gateways", name)
        if not _PROFILE_NAME.fullmatch(name):
            reader.problem(path, "profile names use letters, digits, '-' and '_'")
            skipped.add(name)
            continue
        if not isinstance(table, dict):
            reader.problem(path, f"expected a table ([gateways.{name}]), got {_describe(table)}")
            skipped.add(name)
            continue
        profile = _read_profile(reader, name, table, builtins.get(name))
        if profile is None:
            skipped.add(name)
        else:
            profiles[name] = profile
    return profiles, skipped


def _read_profile(
    reader: _Reader, name: str, table: dict[str, Any], builtin: GatewayProfile | None
) -> GatewayProfile | None:
    base: KeyPath = ("gateways", name)
    kind: GatewayKind = builtin.kind if builtin else "unify"
    if "kind" in table:
        given = table["kind"]
        if given not in GATEWAY_KINDS:
            # No guessing: the wrong kind could send a key to the wrong server.
            reader.problem(
                (*base, "kind"),
                f"expected one of {', '.join(GATEWAY_KINDS)}, got {_describe(given)}",
            )
            return None
        kind = cast(GatewayKind, given)
    inherited = builtin if builtin is not None and builtin.kind == kind else None

    base_url: str | None = inherited.base_url if inherited else DEFAULT_BASE_URLS.get(kind)
    key_env: str | None = inherited.key_env if inherited else None
    default_model: str | None = None
    prices: dict[str, ModelPrice] = {}
    for key, value in table.items():
        path = (*base, key)
        if key == "kind":
            continue
        if key == "base_url":
            try:
                if not isinstance(value, str):
                    raise ConfigurationError("not a string")
                base_url = normalize_base_url(value)
            except ConfigurationError:
                reader.problem(
                    path,
                    "expected an http(s) URL like http://localhost:11434/v1, "
                    f"got {_describe(value)}",
                )
        elif key == "key_env":
            # Never echo the value: a pasted key is the likeliest mistake here.
            if isinstance(value, str) and (value == "" or _ENV_VAR_NAME.fullmatch(value)):
                key_env = value
            else:
                reader.problem(
                    path,
                    "expected the name of an environment variable such as "
                    f"{DEFAULT_KEY_ENVS.get(kind, 'OPENAI_API_KEY')} (not the key itself)",
                )
        elif key == "default_model":
            model = reader.text(path, value)
            if model is not None:
                default_model = model.strip()
        elif key == "prices":
            if kind != "openai-compatible":
                reader.problem(
                    path,
                    f"prices apply only to openai-compatible gateways ({kind} reports the real "
                    "cost); ignored",
                )
            else:
                prices = _read_prices(reader, path, value)
        else:
            reader.unknown(path, _PROFILE_KEYS)

    if base_url is None and kind == "openai-compatible":
        if "base_url" not in table:
            reader.problem(
                (*base, "base_url"),
                "required for an openai-compatible gateway (e.g. http://localhost:11434/v1 "
                "for Ollama); profile skipped",
            )
        return None
    return GatewayProfile(
        name=name,
        kind=kind,
        base_url=base_url,
        key_env=key_env,
        default_model=default_model,
        prices=prices,
    )


def _read_prices(reader: _Reader, path: KeyPath, value: object) -> dict[str, ModelPrice]:
    if not isinstance(value, dict):
        reader.problem(
            path, f'expected tables like [{_dotted(path)}."model"], got {_describe(value)}'
        )
        return {}
    prices: dict[str, ModelPrice] = {}
    for model, entry in value.items():
        entry_path = (*path, model)
        if not isinstance(entry, dict):
            reader.problem(
                entry_path,
                f"expected input = <$ per million tokens>, output = <$ per million tokens>, "
                f"got {_describe(entry)}",
            )
            continue
        amounts: dict[str, float] = {}
        for key, amount in entry.items():
            if key not in _PRICE_KEYS:
                reader.unknown((*entry_path, key), _PRICE_KEYS)
                continue
            number = reader.number(
                (*entry_path, key),
                amount,
                "$ per million tokens (a number, 0 or more)",
                lambda x: math.isfinite(x) and x >= 0,
            )
            if number is not None:
                amounts[key] = number
        missing = [key for key in _PRICE_KEYS if key not in entry]
        if missing:
            reader.problem(
                entry_path,
                f"missing {' and '.join(missing)} ($ per million tokens); price ignored",
            )
        elif len(amounts) == len(_PRICE_KEYS):
            prices[model] = ModelPrice(input=amounts["input"], output=amounts["output"])
    return prices


# --- loading -----------------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def _syntax_problem(file: Path, text: str, error: tomllib.TOMLDecodeError) -> ConfigProblem:
    message = str(error)
    line: int | None = None
    match = _TOML_POSITION.search(message)
    if match:
        line = int(match.group(1))
        message = f"{message[: match.start()]} (column {match.group(2)})"
    elif _TOML_AT_END.search(message):
        line = text.count("\n") + 1
        message = f"{_TOML_AT_END.sub('', message)} (at the end of the file)"
    key: str | None = None
    if line is not None:
        on_line = [path for number, path in _safe_scan(text) if number == line]
        key = _dotted(on_line[0]) if on_line else None
    return ConfigProblem(
        file, line, key, f"TOML syntax error: {message}; using all default settings"
    )


def load_config(
    path: Path | None = None,
    *,
    binding_ids: Collection[str] | Callable[[], Collection[str]] | None = None,
    themes: Collection[str] | Callable[[], Collection[str]] | None = None,
) -> tuple[AppConfig, list[ConfigProblem]]:
    """Read the configuration file (``default_config_path()`` when ``path`` is None).

    Never raises for a bad file: returns the settings that could be read, defaults for the rest,
    and one ``ConfigProblem`` per thing that was wrong. A missing file is not a problem.
    ``binding_ids`` / ``themes``: the ids and theme names the app knows; when given, a binding
    or theme not among them is a problem (with its line) and left out. Either may be a
    function giving them, called only when the file has bindings / a theme.
    """
    file = default_config_path() if path is None else Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return AppConfig(), []
    except IsADirectoryError:
        return AppConfig(), [
            ConfigProblem(file, None, None, "is a directory, not a file; using default settings")
        ]
    except PermissionError:
        return AppConfig(), [
            ConfigProblem(
                file, None, None, "cannot be read (permission denied); using default settings"
            )
        ]
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return AppConfig(), [
            ConfigProblem(file, None, None, f"cannot be read ({reason}); using default settings")
        ]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return AppConfig(), [
            ConfigProblem(
                file,
                line,
                None,
                f"is not valid UTF-8 (byte {error.start + 1}); using default settings",
            )
        ]
    text = text.removeprefix("\ufeff")  # an editor's byte-order mark is harmless
    import tomllib  # here, not at start-up: most runs have no config file to parse

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return AppConfig(path=file), [_syntax_problem(file, text, error)]
    except Exception as error:  # e.g. RecursionError on absurdly nested arrays
        return AppConfig(), [
            ConfigProblem(
                file,
                None,
                None,
                f"could not be parsed ({type(error).__name__}); using default settings",
            )
        ]
    reader = _Reader(file, text)
    try:
        settings = _read_document(reader, document)
        _check_known(reader, settings, binding_ids, themes)
    except Exception as error:  # defence in depth: never refuse to start over the config
        reader.problems.append(
            ConfigProblem(
                file,
                None,
                None,
                f"internal error while reading ({type(error).__name__}); using default settings",
            )
        )
        return AppConfig(path=file), reader.problems
    problems = sorted(reader.problems, key=lambda problem: problem.line or 0)
    return AppConfig(**settings, path=file), problems


# --- the template --------------------------------------------------------------------------------


def default_config_text() -> str:
    """The commented template: every setting, each at its default and commented out."""
    binding_lines = "\n".join(f'#{name} = "{keys}"' for name, keys in DEFAULT_BINDING_KEYS.items())
    return f"""\
# unify-tui configuration. Every setting is optional: remove the leading '#' to change one.
# API keys never go in this file: unify-tui reads them from the environment variable named by
# each gateway's key_env, the system keyring, or keys.toml (it asks on first run).

# The gateway profile to start on (a name under [gateways], or a built-in: unify, openrouter, demo).
#default_gateway = "unify"
# The model to start with, as an endpoint string (model@provider); a profile's own
# default_model wins over this.
#default_model = "{DEFAULT_MODEL}"
# Show the cost of each reply and the balance; show the provider that served each reply.
#show_credits = true
#show_provider = true
# A Textual theme name (e.g. textual-dark, textual-light, nord, gruvbox).
#theme = "textual-dark"
# Sent as the system message at the start of every conversation.
#system_prompt = "You are a helpful assistant."
# Sampling temperature, 0 to 2 (unset: the model's default).
#temperature = 0.7
# The most tokens a reply may have (a whole number above 0; unset: the model's default).
#max_tokens = 1024
# Stop sending once a conversation has cost this many credits (USD); unset: no cap.
#spend_cap = 1.0
# The folder "Export conversation as Markdown/JSON" writes to; created when first needed.
# ~ is your home folder, and a relative path is taken from your home folder too.
# Unset: unify-tui in your Documents folder (--export-dir PATH wins over this).
#export_dir = "~/Documents/unify-tui"

# Key bindings: binding id = "key" or "key,other_key" (Textual key names).
#[bindings]
{binding_lines}

# Gateway profiles. unify, openrouter and demo always exist; a table here adds a profile or
# overrides one. kind: unify (default) | openrouter | openai-compatible | demo.
# base_url defaults per kind (unify: {DEFAULT_BASE_URLS["unify"]},
# openrouter: {DEFAULT_BASE_URLS["openrouter"]}); openai-compatible needs one.
# key_env is the environment variable holding the key (UNIFY_KEY, OPENROUTER_API_KEY,
# OPENAI_API_KEY by kind; "" for none).
#[gateways.openrouter]
#kind = "openrouter"
#key_env = "OPENROUTER_API_KEY"
#default_model = "openai/gpt-4o-mini"

# A local Ollama server (any key works; none is needed on this machine).
#[gateways.local]
#kind = "openai-compatible"
#base_url = "http://localhost:11434/v1"
#key_env = "OPENAI_API_KEY"
#default_model = "llama3.1:8b"
# $ per million tokens, to estimate costs (always shown as an estimate).
#[gateways.local.prices."llama3.1:8b"]
#input = 0.0
#output = 0.0
"""


def write_default_config(path: Path | None = None, *, overwrite: bool = False) -> Path:
    """Write the commented template to ``path`` (default location when None), mode 0600.

    Raises ``FileExistsError`` rather than replace an existing file unless ``overwrite``.
    Returns the path written.
    """
    file = default_config_path() if path is None else Path(path)
    write_private_file(file, default_config_text(), overwrite=overwrite)
    return file


def write_private_file(path: Path, text: str, *, overwrite: bool = True) -> None:
    """Write ``text`` to ``path`` readable by the owner only (0600), replacing it atomically.

    The file is born 0600 (``os.open`` with that mode), never widened and narrowed afterwards;
    missing parent directories are created 0700. Without ``overwrite`` an existing file raises
    ``FileExistsError``.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = text.encode("utf-8")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    if not overwrite:
        descriptor = os.open(path, flags, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return
    import secrets  # only when replacing a file: kept out of start-up

    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            temporary.unlink()
        except OSError:
            pass
        raise
