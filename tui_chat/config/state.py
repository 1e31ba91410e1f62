"""What the app remembers between runs that is not a setting: the theme picked in the palette.

config.toml is the user's file (comments and all), so the app never writes to it; a choice made
in the app goes to ``state.json`` in the state folder (``platformdirs.user_state_dir``):
``{"theme": "nord", "config_theme": null}``. ``config_theme`` is config.toml's theme when the
choice was made: once config.toml names another theme, the file wins again (the user changed
it there since). A missing, unreadable or damaged state file is as if nothing was remembered;
failing to write it loses only the memory, never the session.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import platformdirs

from tui_chat.config.files import write_private_file
from tui_chat.config.records import APP_NAME

log = logging.getLogger(__name__)

STATE_FILE_NAME = "state.json"


def default_state_path() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME)) / STATE_FILE_NAME


def load_state(path: Path) -> dict[str, object]:
    """The remembered values; {} when there is no usable file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def theme_to_use(config_theme: str | None, state: dict[str, object]) -> str | None:
    """The theme to start with: the one picked in the app, unless config.toml has named another
    theme since it was picked; else config.toml's (None: Textual's default)."""
    picked = state.get("theme")
    if isinstance(picked, str) and picked and state.get("config_theme") == config_theme:
        return picked
    return config_theme


def remember_theme(path: Path, theme: str, config_theme: str | None) -> bool:
    """Keep ``theme`` as the one picked (with config.toml's at the time); False if it could not
    be written (said in the log, nothing else)."""
    state = load_state(path)
    state.update(theme=theme, config_theme=config_theme)
    try:
        write_private_file(path, json.dumps(state, indent=2) + "\n")
    except OSError as error:
        log.warning("could not remember the theme in %s: %s", path, error)
        return False
    return True
