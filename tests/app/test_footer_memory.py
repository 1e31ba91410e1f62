"""The footer does not keep the keys it took down (tui_chat/ui/widgets/footer.py).

Found by benchmarks/bench_session_memory.py: memory grew with every reply of a long session,
and the largest part was the footer's old keys, about 16 widgets per reply, kept alive by the
``data_bind`` watchers Textual leaves on the Footer until its ``compact`` changes (never).
"""

from __future__ import annotations

import gc
from typing import Any

from tests.app.conftest import APP_SIZE, send, wait_for_reply
from tui_chat.ui.widgets.footer import KeyFooter


def footer_keys_alive() -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if type(thing).__name__ == "FooterKey")


async def test_replies_leave_no_footer_keys_behind(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        await pilot.pause(0.2)
        shown = len(app.query("FooterKey"))
        assert shown > 0
        before = footer_keys_alive()
        for number in range(6):  # each reply shows Stop and Pause, then takes them down
            await send(pilot, f"question {number}")
            await wait_for_reply(pilot, count=number + 2)
        await pilot.pause(0.2)
        after = footer_keys_alive()
        assert len(app.query("FooterKey")) == shown
        assert after <= before + shown, f"{after - before} more footer keys alive"
        assert app.query(KeyFooter)  # (the app's footer is this one)
