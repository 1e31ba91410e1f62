"""Layer rules: core, gateways and store never import Textual; core touches no network."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tui_chat"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ["core", "gateways", "store"])
def test_layer_never_imports_textual(layer: str) -> None:
    offenders = [p.name for p in _modules(layer) if "textual" in _imports(p)]
    assert offenders == [], f"{layer} must not import textual: {offenders}"


def test_core_touches_no_network() -> None:
    network = {"openai", "requests", "httpx", "httpx2", "socket", "urllib3", "aiohttp"}
    offenders = {p.name: sorted(network & _imports(p)) for p in _modules("core")}
    assert {name: libs for name, libs in offenders.items() if libs} == {}


def test_agent_does_not_import_textual() -> None:
    assert "textual" not in _imports(PACKAGE / "agent.py")
