"""What the app runs after its first frame: the caller's jobs, the warm-up, then the caller's
after-warm-up jobs (the command line freezes the heap there), all off the event loop."""

from __future__ import annotations

import sys
import threading
from typing import Any

from tests.app.conftest import APP_SIZE, wait_until


async def test_first_frame_jobs_then_warm_up_then_after_warm_up_jobs(make_app: Any) -> None:
    seen: list[tuple[str, bool, bool]] = []

    def record(name: str) -> None:
        seen.append(
            (
                name,
                threading.current_thread() is threading.main_thread(),
                # what the warm-up loads: the HTTP client and the Markdown renderer
                "openai" in sys.modules and "tui_chat.widgets._markdown_render" in sys.modules,
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
