"""The commented config.toml template (``--print-config``, ``--write-config``), written from the
schema's descriptions and examples and from the bindings table, so it cannot fall behind them.

Every setting is commented out at its default (or, where the default is "not set", at its
example), so the template loads as the defaults and, uncommented, as a valid file.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, get_args, get_origin

import msgspec

from tui_chat.bindings import SCOPE_TITLES, KeyBinding, bindings_in
from tui_chat.config.records import AppConfig
from tui_chat.config.schema import ConfigFile, ProfileTable
from tui_chat.config.toml_text import dotted_key, toml_string, toml_value

_WIDTH = 100

_HEADER = """\
# unify-tui configuration. Every setting is optional: remove the leading '#' to change one.
# API keys never go in this file: unify-tui reads them from the environment variable named by
# each gateway's key_env, the system keyring, or keys.toml (it asks on first run).
"""


def default_config_text() -> str:
    """The commented template: every setting, each at its default and commented out."""
    fields = {info.name: info for info in msgspec.structs.fields(ConfigFile)}
    defaults = AppConfig()
    lines = [_HEADER]
    for name, info in fields.items():
        if name in ("bindings", "gateways"):
            continue
        description, examples = _docs(info.type)
        value = examples[0] if examples else getattr(defaults, name)
        lines.extend(_comment(description))
        lines.append(f"#{name} = {toml_value(value)}")
    lines.append("")
    lines.extend(_bindings_section(_docs(fields["bindings"].type)[0]))
    lines.append("")
    lines.extend(_gateways_section(*_docs(fields["gateways"].type)))
    return "\n".join(lines) + "\n"


def _bindings_section(description: str) -> Iterator[str]:
    yield from _comment(description)
    yield "#[bindings]"
    for scope, title in SCOPE_TITLES.items():
        yield f"# {title}:"
        for binding in bindings_in(scope):
            yield _binding_line(binding)


def _binding_line(binding: KeyBinding) -> str:
    return f"#{binding.id} = {toml_string(binding.key)}  # {binding.help}"


def _gateways_section(description: str, examples: list[Any]) -> Iterator[str]:
    yield from _comment(description)
    for info in msgspec.structs.fields(ProfileTable):
        yield from _comment(f"{info.name}: {_docs(info.type)[0]}", indent="  ")
    for profiles in examples:
        for name, table in profiles.items():
            yield ""
            yield from _tables(("gateways", name), table)


def _tables(path: tuple[str, ...], table: Mapping[str, Any]) -> Iterator[str]:
    """``table`` as commented TOML: its own keys under ``[path]``, then its sub-tables."""
    yield f"#[{dotted_key(path)}]"
    for key, value in table.items():
        if not isinstance(value, Mapping):
            yield f"#{key} = {toml_value(value)}"
    for key, value in table.items():
        if isinstance(value, Mapping):
            for sub, sub_table in value.items():
                yield from _tables((*path, key, sub), sub_table)


def _comment(text: str, *, indent: str = "") -> list[str]:
    first = f"# {indent}"
    rest = f"# {indent}  " if indent else "# "
    return textwrap.wrap(text, width=_WIDTH - 2, initial_indent=first, subsequent_indent=rest)


def _docs(declared: Any) -> tuple[str, list[Any]]:
    """The description and examples a field's ``Meta`` gives (the outermost one wins)."""
    description: str = ""
    examples: list[Any] = []
    for meta in _metas(declared):
        description = meta.description or description
        examples = list(meta.examples or examples)
    return description, examples


def _metas(declared: Any) -> list[msgspec.Meta]:
    if get_origin(declared) is Annotated:
        return [meta for meta in declared.__metadata__ if isinstance(meta, msgspec.Meta)]
    found: list[msgspec.Meta] = []
    for arg in get_args(declared):  # "X | UnsetType": the Meta is on X
        found.extend(_metas(arg))
    return found
