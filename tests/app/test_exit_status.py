"""The app's return code, which the command line exits with: 0 after a quit, 1 after a crash."""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.conftest import APP_SIZE, wait_until
from tui_chat.ui.app import UnifyTUI


async def test_quit_returns_0(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: app.return_code is not None, what="the exit")
    assert app.return_code == 0


async def test_an_unhandled_exception_returns_1(
    make_app: Any, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self: UnifyTUI) -> None:
        raise RuntimeError("forced crash")

    monkeypatch.setattr(UnifyTUI, "action_toggle_panel", boom)
    app = make_app()
    with pytest.raises(RuntimeError, match="forced crash"):  # run_test re-raises it
        async with app.run_test(size=APP_SIZE) as pilot:
            await pilot.press("ctrl+b")
            await pilot.pause()
    assert app.return_code == 1


async def test_a_panic_returns_1(make_app: Any, sim: Any) -> None:
    """Textual's panic (the input thread failing, for one) sets no return code of its own."""
    app = make_app()
    async with app.run_test(size=APP_SIZE):
        app.panic("the input thread failed")  # the app closes: nothing more to wait for
    assert app.return_code == 1


async def test_the_panel_is_left_unbuilt_when_the_app_exits_meanwhile(
    make_app: Any, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a quit just after the first frame, as the panel's widgets were mounted, made
    them fail to find their parts (NoMatches) and the quit a crash. The race itself is in
    tests/test_terminal_pty.py; here the app only looks as if it were exiting."""
    monkeypatch.setattr(UnifyTUI, "on_ready", lambda self, event: None)  # no build at start
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        with monkeypatch.context() as exiting:
            exiting.setattr(UnifyTUI, "return_code", property(lambda self: 0))  # as exit() sets
            await app.selector.build()
            await pilot.pause()
        assert not app.selector.built  # what it was told waits, and never runs
        assert app.is_running and app.return_code is None
