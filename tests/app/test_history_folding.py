"""What scrolling a long, partly folded history costs: where the log's children are comes from
the log's own arrangement (not from the compositor, which re-arranges the whole screen to say
where a widget out of view is), and folded widgets give up their painted lines at once."""

from __future__ import annotations

import gc
import sys
from typing import Any

import pytest
from textual._compositor import Compositor

from tests.app.conftest import wait_until
from tests.app.test_history_lazy import LogApp, _conversation, _scroll_to_top
from tui_chat.ui.widgets import chat_log
from tui_chat.ui.widgets.chat_log import ChatLog, FoldedTurns


async def _folded_log(pilot: Any, app: LogApp, turns: int = 200) -> ChatLog:
    """A log scrolled to the top of `turns` turns, the pages far below folded."""
    log = app.query_one(ChatLog)
    log.load_history(_conversation(turns))
    await pilot.pause()
    await _scroll_to_top(pilot, log)
    await wait_until(
        pilot,
        lambda: log._pages[-2].placeholder is not None and log.folded_count > 150,
        what="far pages folded",
    )
    await pilot.pause(0.2)
    return log


async def test_child_regions_are_where_the_compositor_puts_the_children() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = await _folded_log(pilot, app)
        for y in (0, 150, log.max_scroll_y // 2, log.max_scroll_y):
            log.scroll_to(y=y, animate=False)
            await pilot.pause(0.1)
            await pilot.pause()
            # (on a loaded machine a page coming near may still be mounting: once it is laid
            # out, the arrangement has it; CI once met a child not in it yet)
            await wait_until(
                pilot, lambda: not log._settling and not log._swaps, what="pages settled"
            )
            await pilot.pause()
            regions = log._child_regions()
            placeholders = [child for child in log.children if isinstance(child, FoldedTurns)]
            assert placeholders, "some pages stay folded wherever the view is"
            for child in log.children:
                assert regions[child] == child.virtual_region, (y, child)


async def test_scrolling_past_folded_pages_does_not_arrange_the_whole_screen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = await _folded_log(pilot, app)
        await pilot.pause(chat_log.RELEASE_AFTER_S + 0.2)  # the last fold/release pass ran
        # No folding, unfolding or cache release during the steps: only what each scroll step
        # costs to check the placeholders counts (a page coming near is a layout of its own).
        monkeypatch.setattr(chat_log, "RELEASE_AFTER_S", 60.0)
        monkeypatch.setattr(ChatLog, "_unfold", lambda log, pages, **_: None)
        checked = 0
        folded_spans = ChatLog._folded_spans

        def counting_checks(log: ChatLog) -> Any:
            nonlocal checked
            checked += 1
            return folded_spans(log)

        monkeypatch.setattr(ChatLog, "_folded_spans", counting_checks)
        full_arrangements = 0
        arrange_root = Compositor._arrange_root

        def counting(self: Compositor, root: Any, size: Any, visible_only: bool = True) -> Any:
            nonlocal full_arrangements
            full_arrangements += not visible_only
            return arrange_root(self, root, size, visible_only)

        monkeypatch.setattr(Compositor, "_arrange_root", counting)
        steps = 20
        for step in range(steps):  # a row at a time, as an animation's frames do
            log.scroll_to(y=step + 1, animate=False)
            await pilot.pause()
        assert log._folded, "folded pages stay (the log checks them at every step)"
        assert checked >= steps // 2, "the log looked for folded pages near the view"
        # Each step used to re-arrange the whole screen to find the placeholders (20 here);
        # a layout or two may still happen (e.g. the scrollbar), not one a step.
        assert full_arrangements <= 3, full_arrangements


async def test_folded_widgets_give_up_their_painted_lines_at_once() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 100)) as pilot:  # the two newest pages in view
        log = app.query_one(ChatLog)
        messages = _conversation(200)
        log.load_history(messages)
        await wait_until(
            pilot,
            lambda: any(widget._styles_cache._cache for widget in log._pages[-2].widgets),
            what="the page above the newest painted",
        )
        newest = list(log._pages[-2].widgets)  # on screen at the end: lines painted
        # One jump far up: the next fold pass finds the newest page far away, lines and all.
        assert log.reveal(messages[4])
        # (the newest page itself stays mounted: End and the next reply land there)
        await wait_until(pilot, lambda: log._pages[-2].placeholder is not None, what="folded")
        for widget in newest:
            for node in widget.walk_children(with_self=True):
                assert not node._styles_cache._cache, node


async def test_after_folding_a_collection_runs_and_the_memory_is_handed_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[str] = []
    collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *args: events.append("collect") or collect(*args))
    monkeypatch.setattr(chat_log, "return_freed_memory", lambda: events.append("trim"))
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        log.load_history(_conversation(200))
        await pilot.pause()
        await wait_until(pilot, lambda: not log._settling, what="the newest pages shown")
        assert not events
        await _scroll_to_top(pilot, log)  # folds the pages at the end, then collects
        await wait_until(pilot, lambda: log._pages[-2].placeholder is not None, what="folded")
        await wait_until(pilot, lambda: "trim" in events, what="a collection after folding")
        assert events[events.index("trim") - 1] == "collect"  # the trim follows the collection


def test_handing_memory_back_is_skipped_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    def no_libc(name: str) -> Any:
        raise OSError(f"{name}: cannot open shared object file")

    chat_log._malloc_trim.cache_clear()
    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    try:
        assert chat_log._malloc_trim() is None
        chat_log.return_freed_memory()  # nothing to call, nothing raised
    finally:
        chat_log._malloc_trim.cache_clear()
    monkeypatch.undo()
    if sys.platform.startswith("linux"):  # this machine: glibc's malloc_trim is found and runs
        assert chat_log._malloc_trim() is not None
        chat_log.return_freed_memory()
