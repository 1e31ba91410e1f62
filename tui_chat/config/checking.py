"""A parsed config.toml checked against the schema, key by key, into an ``AppConfig``.

Two passes. ``Checker.table`` walks the document along ``schema.ConfigFile``: each value is
converted with ``msgspec.convert`` to the type its field declares (limits included), and one
that does not fit becomes a ``ConfigProblem`` and is left out, so the rest still applies.
Converting everything at once would stop at the first bad key; key by key, every problem is
reported and no good key is lost. Then ``_settings`` reads what the types cannot hold (a base
URL that must be http(s), a folder path, which profile to start on) into the records.

Imported only when there is a file to read: msgspec and the schema cost about 8 ms of start-up
(measured after the app's own imports), which a run without config.toml does not pay.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Collection, Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final, Union, get_args, get_origin

import msgspec
from msgspec import UNSET, UnsetType

from tui_chat.bindings import DEFAULT_KEYS
from tui_chat.config.lines import KeyLines, KeyPath
from tui_chat.config.records import (
    DEFAULT_BASE_URLS,
    DEFAULT_KEY_ENVS,
    AppConfig,
    ConfigProblem,
    GatewayKind,
    GatewayProfile,
    ModelPrice,
    builtin_profiles,
)
from tui_chat.config.schema import ConfigFile, ProfileTable
from tui_chat.config.toml_text import dotted_key
from tui_chat.gateways.config import normalize_base_url
from tui_chat.gateways.errors import ConfigurationError

_SECRET_LOOKING_KEYS: Final = frozenset(
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
KEYS_ADVICE: Final = (
    "API keys don't belong in config.toml; set the environment variable named by key_env, "
    "or let unify-tui store the key (system keyring or keys.toml); this value was ignored"
)


def read_config(
    file: Path,
    document: dict[str, Any],
    lines: KeyLines,
    *,
    binding_ids: Collection[str] | Callable[[], Collection[str]] | None,
    themes: Collection[str] | Callable[[], Collection[str]] | None,
    key_problem: Callable[[str], str | None] | None = None,
) -> tuple[AppConfig, list[ConfigProblem]]:
    """The settings a parsed document gives, and one problem per thing wrong with it."""
    checker = Checker(file, lines)
    clean = checker.table(ConfigFile, document, (), skip=("gateways",))
    if "gateways" in document:
        clean["gateways"] = checker.profiles(document["gateways"])
    checked = msgspec.convert(clean, ConfigFile)  # cannot fail: every value was checked
    raw_gateways = document.get("gateways")
    named = set(raw_gateways) if isinstance(raw_gateways, dict) else set()
    settings = _settings(checker, checked, named)
    _check_known(checker, settings, binding_ids, themes)
    if key_problem is not None:
        _check_keys(checker, settings, key_problem)
    return AppConfig(**settings, path=file), checker.problems


# --- what the schema says about one value --------------------------------------------------------


class Rule(msgspec.Struct, frozen=True):
    """One declared type with the extras its ``Meta`` carries (see ``schema``)."""

    type: Any
    base: Any  # the type without Annotated and without "| UnsetType"
    expected: str | None = None
    problem: str | None = None
    missing: str | None = None
    refuse_keys: bool = False


@cache
def rule_of(declared: Any) -> Rule:
    """The rule for a declared type: the type msgspec checks, and the messages to use.

    Extras are gathered from the outside in (a field's own ``Meta`` wins over its type's), and
    ``Maybe[...]``'s UNSET is dropped: a value in the file is never UNSET.
    """
    extra: dict[str, Any] = {}
    checked = base = declared
    while True:
        if get_origin(base) is Annotated:
            for meta in reversed(base.__metadata__):  # the last one is the outermost
                if isinstance(meta, msgspec.Meta) and meta.extra:
                    for key, value in meta.extra.items():
                        extra.setdefault(key, value)
            base = base.__origin__
        elif _is_union(base) and UnsetType in get_args(base):
            kept = [arg for arg in get_args(base) if arg is not UnsetType]
            checked = base = kept[0] if len(kept) == 1 else Union[tuple(kept)]  # noqa: UP007
        else:
            break
    return Rule(
        type=checked,
        base=base,
        expected=extra.get("expected"),
        problem=extra.get("problem"),
        missing=extra.get("missing"),
        refuse_keys=bool(extra.get("refuse_keys")),
    )


class _Field(msgspec.Struct, frozen=True):
    rule: Rule
    required: bool


@cache
def fields_of(struct: type[msgspec.Struct]) -> dict[str, _Field]:
    """A Struct's fields in declaration order: the rule of each, and whether it is required."""
    return {
        info.name: _Field(rule_of(info.type), info.required)
        for info in msgspec.structs.fields(struct)
    }


def _is_union(declared: Any) -> bool:
    return get_origin(declared) in (Union, types.UnionType)


def _is_struct(base: Any) -> bool:
    return isinstance(base, type) and issubclass(base, msgspec.Struct)


# --- the walk --------------------------------------------------------------------------------


class Checker:
    """Checks values against their rules, collecting a problem for each one that fails."""

    def __init__(self, file: Path, lines: KeyLines) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[ConfigProblem] = []
        self._flagged: set[KeyPath] = set()

    def problem(self, path: KeyPath, message: str) -> None:
        self._flagged.add(path)
        self.problems.append(
            ConfigProblem(self.file, self.lines.line_of(path), dotted_key(path), message)
        )

    def flagged(self, path: KeyPath) -> bool:
        """True when a problem was already reported for ``path``."""
        return path in self._flagged

    def wrong(self, path: KeyPath, rule: Rule, value: object, **context: str) -> None:
        """Report ``value`` as not what ``rule`` wants, in the rule's own words."""
        names = {"got": describe(value), "path": dotted_key(path), **context}
        if rule.problem is not None:
            self.problem(path, rule.problem.format(**names))
        else:
            wanted = (rule.expected or "something else").format(**names)
            self.problem(path, f"expected {wanted}, got {names['got']}")

    def unknown(self, path: KeyPath, allowed: Collection[str]) -> None:
        name = path[-1]
        if name.lower() in _SECRET_LOOKING_KEYS:
            self.problem(path, KEYS_ADVICE)
            return
        close = difflib.get_close_matches(name, list(allowed), n=1)
        hint = (
            f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(allowed)}"
        )
        self.problem(path, f"unknown setting{hint}")

    def table(
        self,
        struct: type[msgspec.Struct],
        table: Mapping[str, Any],
        path: KeyPath,
        *,
        skip: Collection[str] = (),
        missing: str | None = None,
        context: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The keys of ``table`` that fit ``struct``'s fields; a problem for each other key.

        ``skip``: keys the caller reads itself. A required field missing or unusable is
        reported once (``missing``) and the whole table is then unusable: the result lacks it.
        """
        fields = fields_of(struct)
        clean: dict[str, Any] = {}
        for key, value in table.items():
            if key in skip:
                continue
            declared = fields.get(key)
            if declared is None:
                self.unknown((*path, key), tuple(fields))
                continue
            ok, converted = self.value(declared.rule, value, (*path, key), context or {})
            if ok:
                clean[key] = converted
        absent = [name for name, info in fields.items() if info.required and name not in table]
        if absent:
            message = (missing or "missing {names}").format(names=" and ".join(absent))
            self.problem(path, message)
        return clean

    def value(
        self, rule: Rule, value: Any, path: KeyPath, context: Mapping[str, str]
    ) -> tuple[bool, Any]:
        """(True, the value as declared) or (False, None) after reporting why not."""
        base = rule.base
        if _is_struct(base):
            if not isinstance(value, dict):
                self.wrong(path, rule, value, **context)
                return False, None
            clean = self.table(base, value, path, missing=rule.missing, context=context)
            required = [name for name, info in fields_of(base).items() if info.required]
            return all(name in clean for name in required), clean
        if get_origin(base) is dict:
            if not isinstance(value, dict):
                self.wrong(path, rule, value, **context)
                return False, None
            key_rule, item_rule = (rule_of(arg) for arg in get_args(base))
            entries: dict[str, Any] = {}
            for key, item in value.items():
                if not self._fits(key_rule, key):
                    self.wrong((*path, key), key_rule, key, **context)
                    continue
                ok, converted = self.value(item_rule, item, (*path, key), context)
                if ok:
                    entries[key] = converted
            return True, entries
        if rule.refuse_keys and isinstance(value, str) and is_pasted_key(value):
            self.problem(path, KEYS_ADVICE)
            return False, None
        try:
            return True, msgspec.convert(value, rule.type)
        except msgspec.ValidationError:
            self.wrong(path, rule, value, **context)
            return False, None

    @staticmethod
    def _fits(rule: Rule, value: object) -> bool:
        try:
            msgspec.convert(value, rule.type)
        except msgspec.ValidationError:
            return False
        return True

    def profiles(self, value: object) -> dict[str, Any]:
        """``[gateways]``: each profile checked once its kind is known.

        The kind comes first: a profile whose kind is not known is skipped without reading the
        rest (no guessing: the wrong kind could send a key to the wrong server), and prices
        are read only for the one kind that needs them.
        """
        rule = fields_of(ConfigFile)["gateways"].rule
        path: KeyPath = ("gateways",)
        if not isinstance(value, dict):
            self.wrong(path, rule, value)
            return {}
        name_rule, table_rule = (rule_of(arg) for arg in get_args(rule.base))
        kind_rule = fields_of(ProfileTable)["kind"].rule
        profiles: dict[str, Any] = {}
        for name, table in value.items():
            profile_path: KeyPath = (*path, name)
            if not self._fits(name_rule, name):
                self.wrong(profile_path, name_rule, name)
                continue
            if not isinstance(table, dict):
                self.wrong(profile_path, table_rule, table)
                continue
            if "kind" in table:
                ok, _ = self.value(kind_rule, table["kind"], (*profile_path, "kind"), {})
                if not ok:
                    continue
            kind = profile_kind(name, table.get("kind", UNSET))
            skip = ["kind"]
            if "prices" in table and kind != "openai-compatible":
                skip.append("prices")
                self.problem(
                    (*profile_path, "prices"),
                    f"prices apply only to openai-compatible gateways ({kind} reports the real "
                    "cost); ignored",
                )
            context = {"key_env": DEFAULT_KEY_ENVS.get(kind, "OPENAI_API_KEY")}
            clean = self.table(ProfileTable, table, profile_path, skip=skip, context=context)
            if "kind" in table:
                clean["kind"] = table["kind"]
            profiles[name] = clean
        return profiles


def profile_kind(name: str, given: GatewayKind | UnsetType) -> GatewayKind:
    """A profile's kind: as given, else the built-in profile's of that name, else unify."""
    if not isinstance(given, UnsetType):
        return given
    builtin = builtin_profiles().get(name)
    return builtin.kind if builtin is not None else "unify"


# --- what the values mean ----------------------------------------------------------------------


def _settings(checker: Checker, checked: ConfigFile, named: set[str]) -> dict[str, Any]:
    """Keyword arguments for ``AppConfig`` from the checked file (``named``: every profile
    name the file used, usable or not)."""
    settings: dict[str, Any] = {}
    if not isinstance(checked.default_model, UnsetType):
        settings["default_model"] = checked.default_model.strip()
    if not isinstance(checked.show_credits, UnsetType):
        settings["show_credits"] = checked.show_credits
    if not isinstance(checked.show_provider, UnsetType):
        settings["show_provider"] = checked.show_provider
    if not isinstance(checked.theme, UnsetType):
        settings["theme"] = checked.theme.strip()
    if not isinstance(checked.system_prompt, UnsetType) and checked.system_prompt.strip():
        settings["system_prompt"] = checked.system_prompt
    if not isinstance(checked.temperature, UnsetType):
        settings["temperature"] = checked.temperature
    if not isinstance(checked.max_tokens, UnsetType):
        settings["max_tokens"] = checked.max_tokens
    if not isinstance(checked.spend_cap, UnsetType):
        settings["spend_cap"] = checked.spend_cap
    for name in ("daily_budget", "monthly_budget", "budget_warning", "low_balance"):
        value = getattr(checked, name)
        if not isinstance(value, UnsetType):
            settings[name] = value
    if not isinstance(checked.export_dir, UnsetType):
        folder = _export_folder(checker, checked.export_dir)
        if folder is not None:
            settings["export_dir"] = folder
    settings["bindings"] = {
        binding_id: ",".join(_split_keys(keys)) for binding_id, keys in checked.bindings.items()
    }
    profiles = builtin_profiles()
    for name, table in checked.gateways.items():
        profile = _profile(checker, name, table)
        if profile is not None:
            profiles[name] = profile
    settings["gateways"] = profiles
    if not isinstance(checked.default_gateway, UnsetType):
        path: KeyPath = ("default_gateway",)
        wanted = checked.default_gateway.strip()
        if wanted in profiles:
            settings["default_gateway"] = wanted
        elif wanted in named:
            checker.problem(
                path, f"the gateway profile {wanted!r} has errors (see above); using 'unify'"
            )
        else:
            checker.problem(
                path,
                f"no gateway profile named {wanted!r}; known: {', '.join(sorted(profiles))}; "
                "using 'unify'",
            )
    return settings


def _set_or_none(value: float | UnsetType) -> float | None:
    return None if isinstance(value, UnsetType) else value


def _split_keys(keys: str | list[str]) -> list[str]:
    joined = [keys] if isinstance(keys, str) else keys
    return [name.strip() for part in joined for name in part.split(",")]


def _profile(checker: Checker, name: str, table: ProfileTable) -> GatewayProfile | None:
    """The profile a checked table describes, over the built-in of that name when the kind
    matches; None (reported) when it cannot work."""
    path: KeyPath = ("gateways", name)
    kind = profile_kind(name, table.kind)
    builtin = builtin_profiles().get(name)
    inherited = builtin if builtin is not None and builtin.kind == kind else None
    base_url = inherited.base_url if inherited else DEFAULT_BASE_URLS.get(kind)
    if not isinstance(table.base_url, UnsetType):
        try:
            base_url = normalize_base_url(table.base_url)
        except ConfigurationError:
            rule = fields_of(ProfileTable)["base_url"].rule
            checker.wrong((*path, "base_url"), rule, table.base_url)
    key_env = inherited.key_env if inherited else None
    if not isinstance(table.key_env, UnsetType):
        key_env = table.key_env
    if base_url is None and kind == "openai-compatible":
        if not checker.flagged((*path, "base_url")):
            checker.problem(
                (*path, "base_url"),
                "required for an openai-compatible gateway (e.g. http://localhost:11434/v1 "
                "for Ollama); profile skipped",
            )
        return None
    return GatewayProfile(
        name=name,
        kind=kind,
        base_url=base_url,
        key_env=key_env,
        default_model=(
            None if isinstance(table.default_model, UnsetType) else table.default_model.strip()
        ),
        needs_key=None if isinstance(table.needs_key, UnsetType) else table.needs_key,
        read_timeout=None if isinstance(table.read_timeout, UnsetType) else table.read_timeout,
        daily_budget=_set_or_none(table.daily_budget),
        monthly_budget=_set_or_none(table.monthly_budget),
        low_balance=_set_or_none(table.low_balance),
        prices={
            model: ModelPrice(input=price.input, output=price.output)
            for model, price in table.prices.items()
        },
    )


def _export_folder(checker: Checker, text: str) -> Path | None:
    """``export_dir`` as an absolute folder: ``~`` is the home folder, and a relative path is
    taken from the home folder too (never from wherever the app happens to be started)."""
    path: KeyPath = ("export_dir",)
    example = '"~/Documents/chats"'
    stripped = text.strip()
    if "\0" in stripped:
        checker.problem(
            path, "a folder path cannot contain a NUL character; exporting to the default folder"
        )
        return None
    if stripped.startswith(("$", "%")):
        checker.problem(
            path,
            f"environment variables are not expanded here; write the folder itself, such as "
            f"{example} (got {describe(text)}); exporting to the default folder",
        )
        return None
    try:
        folder = Path(stripped).expanduser()
        if not folder.is_absolute():
            folder = Path.home() / folder
    except RuntimeError:  # no home folder to expand ~ against (HOME unset, no passwd entry)
        checker.problem(
            path,
            f"cannot tell where {describe(text)} is: the home folder is unknown; "
            "exporting to the default folder",
        )
        return None
    return folder


def _check_keys(
    checker: Checker, settings: dict[str, Any], key_problem: Callable[[str], str | None]
) -> None:
    """Drop (with a problem) a binding with a key that cannot work; its default key stays."""
    kept: dict[str, str] = {}
    for binding_id, keys in settings["bindings"].items():
        problem = next(filter(None, map(key_problem, keys.split(","))), None)
        if problem is None:
            kept[binding_id] = keys
            continue
        default = DEFAULT_KEYS.get(binding_id)
        stays = f"; {default} stays" if default else ""
        checker.problem(("bindings", binding_id), f"{problem}{stays}")
    settings["bindings"] = kept


def _check_known(
    checker: Checker,
    settings: dict[str, Any],
    binding_ids: Collection[str] | Callable[[], Collection[str]] | None,
    themes: Collection[str] | Callable[[], Collection[str]] | None,
) -> None:
    """Drop (with a problem) bindings and a theme the app does not know."""
    if binding_ids is not None and settings["bindings"]:
        known_ids = binding_ids() if callable(binding_ids) else binding_ids
        kept: dict[str, str] = {}
        for binding_id, keys in settings["bindings"].items():
            if binding_id in known_ids:
                kept[binding_id] = keys
                continue
            close = difflib.get_close_matches(binding_id, list(known_ids), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see --print-config for the ids"
            checker.problem(("bindings", binding_id), f"no binding has this id; {hint}")
        settings["bindings"] = kept
    theme = settings.get("theme")
    if themes is not None and theme is not None:
        known_themes = themes() if callable(themes) else themes
        if theme not in known_themes:
            close = difflib.get_close_matches(theme, list(known_themes), n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"known: {', '.join(sorted(known_themes))}"
            )
            checker.problem(("theme",), f"there is no theme {theme!r}; {hint}")
            del settings["theme"]


# --- describing values without echoing secrets ------------------------------------------------


def looks_like_secret(text: str) -> bool:
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


def is_pasted_key(text: str) -> bool:
    """True for a string that is almost surely an API key (``sk-...``, ``Bearer ...``)."""
    return text.strip().lower().startswith(("sk-", "bearer "))


def describe(value: object) -> str:
    """A short, TOML-flavoured picture of a value for "got ..." in a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if looks_like_secret(value):
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
