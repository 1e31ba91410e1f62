"""``unify-tui --plain`` in a real pseudo-terminal: line editing and this session's history.

The plain chat reads lines with ``input()`` and the ``readline`` module when stdin is a terminal,
so the keys a terminal sends edit the line and up recalls an earlier one. The child process talks
to an embedded gateway in this process, so the test sees what was sent.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_terminal_pty import PtyApp, start

# A child process on a pty, waited for with wall-clock limits.
pytestmark = [
    pytest.mark.serial,
    pytest.mark.skipif(sys.platform == "win32", reason="no pty (and no readline) on Windows"),
]

UP = b"\x1b[A"
LEFT = b"\x1b[D"
# cli.main with the embedded gateway's key (start() keeps UNIFY_* out of the child's environment).
PLAIN = (
    "import os, sys\n"
    "os.environ['UNIFY_KEY'] = 'test-key'\n"
    "from tui_chat import cli\n"
    "sys.exit(cli.main(sys.argv[1:]))\n"
)


def plain_chat(home: Path, sim: Any) -> PtyApp:
    app = start(home, [sys.executable, "-c", PLAIN, "--plain", "--base-url", sim.base_url])
    app.wait_for_text("pause` to pause and `quit` to exit)")
    return app


def wait_for_prompts(app: PtyApp, count: int) -> None:
    """Until the chat's prompt has been shown ``count`` times (a reply ends with the next)."""
    app.read_until(lambda: app.output.count(b"\n> ") >= count, 60.0, f"prompt {count}")


def test_up_arrow_recalls_the_previous_line_and_sends_it_again(tmp_path: Path, sim: Any) -> None:
    app = plain_chat(tmp_path, sim)
    try:
        wait_for_prompts(app, 1)
        app.write(b"Hello there\r")
        wait_for_prompts(app, 2)
        app.write(UP + b"\r")
        wait_for_prompts(app, 3)
        app.write(b"quit\r")
        assert app.read_to_end() == 0
    finally:
        app.kill()
    first, second = (request.body["messages"] for request in sim.requests)
    assert first == [{"role": "user", "content": "Hello there"}]
    assert second[0] == second[2] == {"role": "user", "content": "Hello there"}


def test_arrow_keys_edit_the_line(tmp_path: Path, sim: Any) -> None:
    app = plain_chat(tmp_path, sim)
    try:
        wait_for_prompts(app, 1)
        app.write(b"Hllo" + LEFT * 3 + b"e\r")  # back to after the H, then the missing e
        wait_for_prompts(app, 2)
        app.write(b"quit\r")
        assert app.read_to_end() == 0
    finally:
        app.kill()
    assert sim.requests[0].body["messages"] == [{"role": "user", "content": "Hello"}]


def test_the_pause_answer_is_not_recalled_at_the_chat_prompt(tmp_path: Path, sim: Any) -> None:
    app = plain_chat(tmp_path, sim)
    try:
        wait_for_prompts(app, 1)
        app.write(b"Hi\r")
        wait_for_prompts(app, 2)
        app.write(b"pause\r")
        app.wait_for_text("Enter keeps it")
        app.write(b"gpt-4o@openai\r")
        app.wait_for_text("Welcome back!")
        wait_for_prompts(app, 3)
        app.write(UP + UP + b"\r")  # up: "pause", up again: "Hi" (not the model typed)
        wait_for_prompts(app, 4)
        app.write(b"quit\r")
        assert app.read_to_end() == 0
    finally:
        app.kill()
    second = sim.requests[1].body
    assert second["model"] == "gpt-4o@openai"
    assert [message["content"] for message in second["messages"]][::2] == ["Hi", "Hi"]
