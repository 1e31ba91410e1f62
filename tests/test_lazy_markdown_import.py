"""The Markdown and highlighting libraries load on first use, not at start-up.

markdown-it-py, Pygments and Rich's Markdown and Syntax take ~50 ms to import and the first screen
shows no Markdown, so importing the message widgets must not import them; the first reply (or the
warm-up after the first frame) does. Each check runs in a fresh interpreter, as sys.modules here
already holds whatever earlier tests imported.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

HEAVY_MODULES = ("markdown_it", "pygments", "rich.markdown", "rich.syntax")

LOADED = """
import sys
HEAVY = {heavy!r}
def loaded():
    return sorted(
        name for name in sys.modules if any(name == m or name.startswith(m + ".") for m in HEAVY)
    )
"""


def run_python(code: str) -> str:
    """Run `code` in a fresh interpreter (after the `loaded()` helper); return its stdout."""
    source = LOADED.format(heavy=HEAVY_MODULES) + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_the_message_widgets_loads_no_markdown_machinery() -> None:
    output = run_python(
        """
        import tui_chat.ui.widgets.markdown_stream
        import tui_chat.ui.widgets.messages
        import tui_chat.ui.widgets.chat_log
        print(loaded())
        """
    )
    assert output.strip() == "[]"


def test_the_first_code_block_loads_and_uses_the_parser() -> None:
    output = run_python(
        """
        from tui_chat.ui.widgets.markdown_stream import code_blocks
        assert loaded() == []
        reply = "```py\\nx = 1\\n```\\n\\ntext\\n\\n~~~\\ntwo\\n"
        assert code_blocks(reply) == ["x = 1\\n", "two\\n"]
        print(loaded())
        """
    )
    for module in HEAVY_MODULES:
        assert f"'{module}'" in output


def test_warm_up_loads_the_highlighting() -> None:
    output = run_python(
        """
        from tui_chat.ui.widgets import markdown_stream
        assert loaded() == []
        markdown_stream.warm_up_highlighting()
        names = loaded()
        for module in HEAVY:
            assert module in names, (module, names)
        lexer = markdown_stream.lexer_for("python")
        assert lexer is not None and lexer.name == "Python"
        rows = markdown_stream.code_lines("print(1)", "python", markdown_stream.DARK_CODE_THEME, 20)
        assert ["".join(segment.text for segment in row) for row in rows] == [
            " " * 20,
            "print(1)" + " " * 12,
            " " * 20,
        ]
        print("ok")
        """
    )
    assert output.strip() == "ok"
