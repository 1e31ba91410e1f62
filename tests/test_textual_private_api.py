"""The private Textual names the project uses still exist in the installed Textual.

The list lives in one place, the table under "Private Textual APIs" in CONTRIBUTING.md; this test
reads it, so a Textual upgrade that renames or drops one of them fails here, by name, instead of
somewhere deep in a Pilot test (or, for a name only read in a subprocess, not at all). A second
test looks for private Textual names used in the code but missing from the table.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import textual

ROOT = Path(__file__).resolve().parents[1]
CONTRIBUTING = ROOT / "CONTRIBUTING.md"
HEADING = "## Private Textual APIs"
SCANNED = ("tui_chat", "tests", "benchmarks")

# Private names of other libraries that the code uses on purpose (not Textual's).
NOT_TEXTUAL = {"_exit"}  # os._exit in the benchmarks' forked children


def listed_private_names() -> list[tuple[str, str]]:
    """(owner, name) for each row of the table: owner a class or module path, name private."""
    text = CONTRIBUTING.read_text(encoding="utf-8")
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`textual") and cells[1].startswith("`_"):
            rows.append((cells[0].strip("`"), cells[1].strip("`")))
    return rows


def _resolve(owner: str) -> Any:
    """The module or class that ``owner`` (``textual.app.App``, ``textual.widgets``) names."""
    parts = owner.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ImportError(owner)


def _assigned_in_class(cls: type, name: str) -> bool:
    """True if a class of ``cls``'s MRO sets ``self.<name>`` or declares ``name``."""
    pattern = re.compile(
        rf"\bself\.{re.escape(name)}\s*(:[^=\n]*)?=|^\s+{re.escape(name)}\s*[:=]|"
        rf"\bdef {re.escape(name)}\(",
        re.MULTILINE,
    )
    for klass in cls.__mro__:
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if pattern.search(source):
            return True
    return False


def exists(owner: str, name: str) -> bool:
    target = _resolve(owner)
    if inspect.ismodule(target):
        return hasattr(target, name) or (
            importlib.util.find_spec(f"{target.__name__}.{name}") is not None
        )
    return hasattr(target, name) or _assigned_in_class(target, name)


def test_the_table_is_there() -> None:
    rows = listed_private_names()
    assert len(rows) >= 10, rows
    assert ("textual.app.App", "_exit_renderables") in rows


@pytest.mark.parametrize(("owner", "name"), listed_private_names())
def test_listed_private_name_exists_in_installed_textual(owner: str, name: str) -> None:
    assert exists(owner, name), (
        f"{owner}.{name} is gone from Textual {textual.__version__}: "
        "see CONTRIBUTING.md, Private Textual APIs, for where it is used"
    )


def test_the_check_tells_a_missing_name() -> None:
    assert not exists("textual.app.App", "_no_such_private_name")
    assert not exists("textual.widgets", "_no_such_module")


def _names_in_code() -> tuple[dict[str, list[str]], set[str]]:
    """Private attribute names read in the code (with where), and every name the code defines."""
    used: dict[str, list[str]] = {}
    defined: set[str] = set()
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and re.fullmatch(r"_[a-z]\w*", node.attr):
                    if isinstance(node.ctx, ast.Store):
                        defined.add(node.attr)
                    else:
                        used.setdefault(node.attr, []).append(f"{where}:{node.lineno}")
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    defined.add(node.name)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    defined.add(node.id)
                elif isinstance(node, ast.arg):
                    defined.add(node.arg)
                elif isinstance(node, ast.ImportFrom | ast.Import):
                    modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                    modules += [alias.name for alias in node.names]
                    for module in modules:
                        if module.split(".")[0] != "textual":
                            continue
                        for part in module.split(".")[1:]:
                            if part.startswith("_"):
                                used.setdefault(part, []).append(f"{where}:{node.lineno}")
                    if isinstance(node, ast.ImportFrom) and modules[0].startswith("textual"):
                        for alias in node.names:
                            if alias.name.startswith("_"):
                                used.setdefault(alias.name, []).append(f"{where}:{node.lineno}")
    return used, defined


def test_every_private_textual_name_in_the_code_is_listed() -> None:
    """A private name the code reads, defines nowhere, and Textual defines: it must be listed."""
    textual_names = {
        name
        for path in Path(textual.__file__).parent.rglob("*.py")
        for name in re.findall(
            r"(?:self\.|def |^\s*)(_[a-z]\w*)", path.read_text(encoding="utf-8"), re.MULTILINE
        )
    }
    listed = {
        part
        for owner, name in listed_private_names()
        for part in [name, *owner.split(".")]
        if part.startswith("_")
    }
    used, defined = _names_in_code()
    missing = {
        name: places[:3]
        for name, places in sorted(used.items())
        if name not in defined
        and name not in listed
        and name not in NOT_TEXTUAL
        and name in textual_names
    }
    assert missing == {}, "add these to CONTRIBUTING.md, Private Textual APIs"
