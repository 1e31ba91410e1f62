"""The configuration: config.toml read into a frozen ``AppConfig``, never fatally.

- ``records``: what the app uses (``AppConfig``, ``GatewayProfile``, ``ModelPrice``) with the
  defaults, and ``ConfigProblem``;
- ``schema``: what the file may say, declared once (msgspec Structs with a description per
  setting);
- ``loading`` / ``checking``: the file read and checked key by key against the schema;
  ``lines``: where each key is, for ``file:line: key: message``;
- ``template``: the commented template, written from the schema and the bindings table.

Importing this package does not import msgspec: the schema is loaded only when there is a file
to check or a template to write.
"""

from __future__ import annotations

from tui_chat.config.files import write_default_config, write_private_file
from tui_chat.config.loading import load_config
from tui_chat.config.records import (
    APP_NAME,
    BUILTIN_PROFILE_NAMES,
    CONFIG_FILE_NAME,
    DEFAULT_BASE_URLS,
    DEFAULT_KEY_ENVS,
    DEFAULT_MODEL,
    GATEWAY_KINDS,
    AppConfig,
    ConfigProblem,
    GatewayKind,
    GatewayProfile,
    ModelPrice,
    UnknownGatewayError,
    builtin_profiles,
    default_config_path,
    display_path,
)
from tui_chat.config.toml_text import toml_key, toml_string

__all__ = [
    "APP_NAME",
    "BUILTIN_PROFILE_NAMES",
    "CONFIG_FILE_NAME",
    "DEFAULT_BASE_URLS",
    "DEFAULT_KEY_ENVS",
    "DEFAULT_MODEL",
    "GATEWAY_KINDS",
    "AppConfig",
    "ConfigProblem",
    "GatewayKind",
    "GatewayProfile",
    "ModelPrice",
    "UnknownGatewayError",
    "builtin_profiles",
    "default_config_path",
    "default_config_text",
    "display_path",
    "load_config",
    "toml_key",
    "toml_string",
    "write_default_config",
    "write_private_file",
]


def default_config_text() -> str:
    """The commented template: every setting, each at its default and commented out."""
    from tui_chat.config.template import default_config_text as template

    return template()
