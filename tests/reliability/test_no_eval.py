"""Nothing from a server or a file is ever run as code: no eval, exec or compile in tui_chat/."""

from __future__ import annotations

import ast
from pathlib import Path

import tui_chat

PACKAGE = Path(tui_chat.__file__).parent
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_ATTRIBUTES = {
    ("pickle", "loads"),
    ("pickle", "load"),
    ("marshal", "loads"),
    ("yaml", "load"),  # yaml.safe_load is fine
    ("os", "system"),
    ("subprocess", "getoutput"),
}


def sources() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20  # the walk really found the package
    return files


def offending_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        where = f"{path.name}:{node.lineno}"
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
            found.append(f"{where}: {func.id}()")
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = func.value.id
            if func.attr in FORBIDDEN_CALLS and owner in {"builtins", "__builtins__"}:
                found.append(f"{where}: builtins.{func.attr}()")
            if (owner, func.attr) in FORBIDDEN_ATTRIBUTES:
                found.append(f"{where}: {owner}.{func.attr}()")
    return found


def test_no_module_calls_eval_or_exec() -> None:
    found = [hit for path in sources() for hit in offending_calls(path)]
    assert found == [], "code execution from data:\n" + "\n".join(found)


def test_the_check_would_catch_it(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import pickle, builtins\neval('1')\nexec('x')\nbuiltins.exec('y')\npickle.loads(b'')\n"
    )
    assert offending_calls(probe) == [
        "probe.py:2: eval()",
        "probe.py:3: exec()",
        "probe.py:4: builtins.exec()",
        "probe.py:5: pickle.loads()",
    ]
