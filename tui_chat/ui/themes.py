"""The names of Textual's built-in themes, for checking ``theme`` in config.toml before the app
starts (the command line asks here so that it never imports Textual itself)."""

from __future__ import annotations


def theme_names() -> frozenset[str]:
    """Every theme the app can be started on."""
    from textual.theme import BUILTIN_THEMES  # only when config.toml names a theme

    return frozenset(BUILTIN_THEMES)
