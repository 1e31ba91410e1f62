"""``load_config``: config.toml read into an ``AppConfig`` and a list of what was wrong.

Where: ``platformdirs.user_config_dir("unify-tui")/config.toml`` (``--config PATH`` overrides).
It never raises for a bad file. Each thing that is wrong (a TOML syntax error, an unknown key,
a wrong type, a value out of range) becomes a ``ConfigProblem`` naming the file, the line where
it is known and the key, and the app starts on defaults for what was bad: a syntax error means
all defaults, a bad single key means that key's default with the rest kept. A gateway profile
that cannot work (an unknown ``kind``, an ``openai-compatible`` one without ``base_url``) is
skipped rather than guessed at, so a key is never sent somewhere the user did not mean.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from tui_chat.config.records import AppConfig, ConfigProblem, default_config_path
from tui_chat.config.toml_text import dotted_key

if TYPE_CHECKING:
    import tomllib

Known = Collection[str] | Callable[[], Collection[str]]

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def load_config(
    path: Path | None = None,
    *,
    binding_ids: Known | None = None,
    themes: Known | None = None,
    key_problem: Callable[[str], str | None] | None = None,
) -> tuple[AppConfig, list[ConfigProblem]]:
    """Read the configuration file (``default_config_path()`` when ``path`` is None).

    Never raises for a bad file: returns the settings that could be read, defaults for the rest,
    and one ``ConfigProblem`` per thing that was wrong, in line order. A missing file is not a
    problem. ``binding_ids`` / ``themes``: the ids and theme names the app knows (or functions
    giving them, called only when needed); when given, a binding or theme not among them is a
    problem and left out. ``key_problem``: what is wrong with one key name (None: nothing);
    when given, a binding with a key it faults is a problem and left out (its default stays).
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
    try:
        from tui_chat.config.checking import read_config
        from tui_chat.config.lines import KeyLines

        config, problems = read_config(
            file,
            document,
            KeyLines(text, document),
            binding_ids=binding_ids,
            themes=themes,
            key_problem=key_problem,
        )
    except Exception as error:  # defence in depth: never refuse to start over the config
        return AppConfig(path=file), [
            ConfigProblem(
                file,
                None,
                None,
                f"internal error while reading ({type(error).__name__}); using default settings",
            )
        ]
    return config, sorted(problems, key=lambda problem: problem.line or 0)


def _syntax_problem(file: Path, text: str, error: tomllib.TOMLDecodeError) -> ConfigProblem:
    """The parser's own line and column; the key is the one written on that line, if any."""
    from tui_chat.config.lines import keys_on_line

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
        on_line = keys_on_line(text, line)
        key = dotted_key(on_line[0]) if on_line else None
    return ConfigProblem(
        file, line, key, f"TOML syntax error: {message}; using all default settings"
    )
