"""Where the .tcss files are, for the app and for the screens that bring their own."""

from __future__ import annotations

from pathlib import Path


def styles_dir() -> Path:
    """Inside the installed package, or the checkout's styles/."""
    packaged = Path(__file__).parent / "styles"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "styles"


def stylesheets(*names: str) -> list[str | Path]:
    """The paths of the named .tcss files, for a ``CSS_PATH``."""
    folder = styles_dir()
    return [folder / name for name in names]


# The modal screens' rules: read when the first of them opens (Textual loads a screen's
# CSS_PATH then), not parsed at start-up.
SCREEN_STYLES = stylesheets("screens.tcss")
