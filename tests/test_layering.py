"""Layer rules of the package, read from the source (no module is imported).

- Only ``tui_chat.ui`` imports Textual: the core, the gateways, the store, the embedded gateway,
  the config, the agent and the command line are used without it (``cli.py`` imports the App
  lazily, from inside ``tui_chat.ui``'s own modules only).
- No import circle among ``tui_chat`` modules.
- The core touches no network library.

Every import statement counts, wherever it is: at module level, inside a function (a lazy
import), and under ``if TYPE_CHECKING:``. A lazy or type-only import still makes one module
depend on the other: a circle through one is a circle of responsibilities, only deferred to run
time or hidden from it. The App's old mixins are the example: each did
``if TYPE_CHECKING: from tui_chat.ui.app import UnifyTUI`` while app.py imported them.

Imports by string (``importlib.import_module``) are not seen; the package has none.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "tui_chat"
UI = "tui_chat.ui"


@dataclass(frozen=True)
class ImportEdge:
    """One import statement: ``source`` imports ``target`` at ``file:line``."""

    source: str
    target: str
    file: str
    line: int

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def package_modules(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` under ``root``, by dotted name (a package is its __init__)."""
    modules: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _base_of_relative(module: str, path: Path, level: int) -> str:
    """The package a ``from .x import y`` (``level`` dots) in ``module`` starts from."""
    package = module.split(".")
    if path.name != "__init__.py":
        package.pop()
    return ".".join(package[: len(package) - (level - 1)])


def imports_of(
    module: str, path: Path, modules: dict[str, Path], root: Path = ROOT
) -> Iterator[ImportEdge]:
    """Every module that ``module`` imports, from every import statement anywhere in the file.

    ``from a.b import c`` names ``a.b.c`` when that is a module of the package, else ``a.b``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    file = path.relative_to(root).as_posix()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield ImportEdge(module, alias.name, file, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = _base_of_relative(module, path, node.level)
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in modules else base
                yield ImportEdge(module, target, file, node.lineno)


def all_imports(root: Path = ROOT, package: str = PACKAGE) -> list[ImportEdge]:
    modules = package_modules(root, package)
    return [
        edge for name, path in modules.items() for edge in imports_of(name, path, modules, root)
    ]


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def textual_imports_outside(edges: list[ImportEdge], ui_package: str) -> list[str]:
    """``path:line: module imports textual...`` for each import of Textual outside the UI."""
    return [
        f"{edge.where()}: {edge.source} imports {edge.target}"
        for edge in edges
        if _inside(edge.target, "textual") and not _inside(edge.source, ui_package)
    ]


def import_circles(edges: list[ImportEdge], package: str) -> list[list[str]]:
    """Each import circle among ``package``'s modules, as its edges (``path:line: a -> b``).

    A circle is a strongly connected component of the import graph with more than one module,
    or one module that imports itself (Tarjan's algorithm, iterative).
    """
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if _inside(edge.target, package) and edge.target != edge.source:
            graph.setdefault(edge.source, set()).add(edge.target)
            graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component: set[str] = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)
    return [
        sorted(
            {
                f"{edge.where()}: {edge.source} -> {edge.target}"
                for edge in edges
                if edge.source in component and edge.target in component
            }
        )
        for component in components
    ]


# The rules, on the package itself.


def test_only_the_ui_package_imports_textual() -> None:
    offenders = textual_imports_outside(all_imports(), UI)
    assert offenders == [], "only tui_chat.ui may import textual:\n" + "\n".join(offenders)


def test_no_import_circle_among_package_modules() -> None:
    circles = import_circles(all_imports(), PACKAGE)
    report = "\n\n".join("\n".join(circle) for circle in circles)
    assert circles == [], f"import circles (TYPE_CHECKING and lazy imports count):\n{report}"


def test_core_touches_no_network() -> None:
    network = {"openai", "requests", "httpx", "socket", "urllib3", "aiohttp", "http", "urllib"}
    offenders = [
        f"{edge.where()}: {edge.source} imports {edge.target}"
        for edge in all_imports()
        if _inside(edge.source, "tui_chat.core") and edge.target.split(".")[0] in network
    ]
    assert offenders == []


def test_the_scan_sees_the_package() -> None:
    """Guards the rules above against passing because they read nothing."""
    modules = package_modules()
    assert {"tui_chat.core.endpoint", "tui_chat.ui.app", "tui_chat.cli"} <= set(modules)
    targets = {edge.target for edge in all_imports() if edge.source == "tui_chat.ui.app"}
    assert any(_inside(target, "textual") for target in targets)


# The checkers, on a small package written for the test: they must see every kind of import.


def _write_package(root: Path, files: dict[str, str]) -> None:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")


def test_textual_is_found_in_a_function_and_under_type_checking(tmp_path: Path) -> None:
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/ui/__init__.py": "from textual.app import App\n",
            "pkg/lazy.py": "def run():\n    from textual.theme import BUILTIN_THEMES\n",
            "pkg/typed.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import textual.widget\n"
            ),
            "pkg/clean.py": "import json\n",
        },
    )
    offenders = textual_imports_outside(all_imports(tmp_path, "pkg"), "pkg.ui")
    assert offenders == [
        "pkg/lazy.py:2: pkg.lazy imports textual.theme",
        "pkg/typed.py:3: pkg.typed imports textual.widget",
    ]


def test_a_circle_through_type_checking_and_relative_imports_is_found(tmp_path: Path) -> None:
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/ui/__init__.py": "",
            "pkg/ui/app.py": "from pkg.ui.saving import Saving\nfrom . import widgets\n",
            "pkg/ui/saving.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .app import App\n"
            ),
            "pkg/ui/widgets.py": "def later():\n    from pkg import core\n",
            "pkg/core.py": "",
        },
    )
    assert import_circles(all_imports(tmp_path, "pkg"), "pkg") == [
        [
            "pkg/ui/app.py:1: pkg.ui.app -> pkg.ui.saving",
            "pkg/ui/saving.py:3: pkg.ui.saving -> pkg.ui.app",
        ]
    ]


def test_a_circle_through_a_lazy_import_is_found(tmp_path: Path) -> None:
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import pkg.b\n",
            "pkg/b.py": "def later():\n    from pkg.a import thing\n",
        },
    )
    circles = import_circles(all_imports(tmp_path, "pkg"), "pkg")
    assert circles == [["pkg/a.py:1: pkg.a -> pkg.b", "pkg/b.py:2: pkg.b -> pkg.a"]]


@pytest.mark.parametrize("files", [{"pkg/__init__.py": "", "pkg/a.py": "import json\n"}])
def test_a_package_without_circles_passes(tmp_path: Path, files: dict[str, str]) -> None:
    _write_package(tmp_path, files)
    assert import_circles(all_imports(tmp_path, "pkg"), "pkg") == []
