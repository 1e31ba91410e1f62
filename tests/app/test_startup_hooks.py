"""What the app does after its first frame: it builds the prompt in the place of the first
frame's stand-in (keeping what was typed), and runs the caller's jobs, the warm-up, then the
caller's after-warm-up jobs (the command line freezes the heap there), all off the event loop."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

from tests.app.conftest import APP_SIZE, wait_until
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.widgets.prompt_stand_in import PromptStandIn


async def test_first_frame_jobs_then_warm_up_then_after_warm_up_jobs(make_app: Any) -> None:
    seen: list[tuple[str, bool, bool]] = []

    def record(name: str) -> None:
        seen.append(
            (
                name,
                threading.current_thread() is threading.main_thread(),
                # what the warm-up loads: the HTTP client and the Markdown renderer
                "openai" in sys.modules and "tui_chat.ui.widgets._markdown_render" in sys.modules,
            )
        )

    app = make_app(
        after_first_frame=[lambda: record("first frame")],
        after_warm_up=[lambda: record("warm 1"), lambda: record("warm 2")],
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: len(seen) == 3, what="the three jobs")
    assert [name for name, _, _ in seen] == ["first frame", "warm 1", "warm 2"]
    assert not any(on_main for _, on_main, _ in seen), "a job ran on the event loop's thread"
    assert all(loaded for name, _, loaded in seen if name.startswith("warm"))


async def test_keys_typed_before_the_prompt_is_built_are_handed_over(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first frame shows a stand-in; here the prompt is not built at the first frame, so the
    # keys land on the stand-in, as they would in the moment between the frame and on_ready.
    monkeypatch.setattr(UnifyTUI, "on_ready", lambda self, event: None)
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press(*"hi", "ctrl+j", *"theree", "backspace", "enter")
        stand_in = app.query_one(PromptStandIn)
        assert (stand_in.typed, stand_in.submit) == ("hi\nthere", True)
        assert "hi" in str(stand_in.render())
        assert app.focused is stand_in
        prompt = app.prompt  # first use builds it, in the stand-in's place
        await wait_until(pilot, lambda: len(app.conversation.messages) >= 2, what="the send")
        assert app.conversation.messages[0].content == "hi\nthere"
        assert not app.query(PromptStandIn)
        assert app.focused is prompt
        await pilot.press(*"next")
        assert prompt.text == "next"


async def test_the_prompt_replaces_the_stand_in_once_the_first_frame_is_up(
    make_app: Any,
) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: not app.query(PromptStandIn), what="the prompt")
        assert app.query_one("#prompt") is app.prompt
        assert app.focused is app.prompt
        # Same place and size as the stand-in had: nothing on screen moves.
        assert app.prompt.region.height == 3
