"""The settings as the app uses them: ``AppConfig``, its gateway profiles, and what was wrong.

These records are what every other module imports; they hold the defaults (no file at all is a
valid configuration). What config.toml may say, and how each key is checked, is declared in
``tui_chat.config.schema``; ``tui_chat.config.loading`` turns a file into these records.

API keys never live in config.toml; see ``tui_chat.keys``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, get_args

import platformdirs

from tui_chat.bindings import BINDING_IDS
from tui_chat.config.toml_text import toml_key
from tui_chat.core.accounting import estimate_cost

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

DEFAULT_MODEL: Final = "llama-3.1-8b-chat@highest-tks-per-sec"
"""The endpoint the full-screen app starts on when neither --model, the profile nor
config.toml names one."""


def default_config_path() -> Path:
    """``<user config dir>/unify-tui/config.toml`` (the file need not exist)."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / CONFIG_FILE_NAME


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
    needs_key: bool | None = None  # None: by kind and host (keys.needs_key)
    read_timeout: float | None = None  # seconds; None: DEFAULT_READ_TIMEOUT_S
    daily_budget: float | None = None  # credits per local day through this profile; None: none
    monthly_budget: float | None = None  # credits per calendar month through this profile
    low_balance: float | None = None  # credits: warn below; None: the global setting
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
    folder); None: ``tui_chat.store.export.default_export_dir()``. ``bindings`` maps a binding id to
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
    daily_budget: float | None = None  # credits per local day, every gateway; None: no limit
    monthly_budget: float | None = None  # credits per calendar month, every gateway
    budget_warning: float = 80.0  # percent of a budget from which the status bar warns
    low_balance: float | None = None  # credits: warn once when a balance falls below
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

    def unknown_binding_ids(self, known: frozenset[str] = BINDING_IDS) -> list[str]:
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
