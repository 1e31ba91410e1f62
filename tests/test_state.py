"""What the app remembers between runs (tui_chat/config/state.py)."""

from __future__ import annotations

from pathlib import Path

from tui_chat.config.state import load_state, remember_theme, theme_to_use


def test_a_picked_theme_is_used_until_config_toml_names_another(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.json"
    assert theme_to_use("nord", load_state(path)) == "nord"  # nothing remembered
    assert remember_theme(path, "gruvbox", "nord")
    assert theme_to_use("nord", load_state(path)) == "gruvbox"
    assert theme_to_use("dracula", load_state(path)) == "dracula"  # config.toml changed since
    assert remember_theme(path, "monokai", None)
    assert theme_to_use(None, load_state(path)) == "monokai"


def test_a_damaged_or_unwritable_state_file_loses_only_the_memory(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    for text in ("{not json", "[1, 2]", '{"theme": 7, "config_theme": null}'):
        path.write_text(text, encoding="utf-8")
        assert theme_to_use("nord", load_state(path)) == "nord"
    blocked = tmp_path / "a-file"
    blocked.write_text("x", encoding="utf-8")
    assert remember_theme(blocked / "state.json", "gruvbox", None) is False  # no crash
