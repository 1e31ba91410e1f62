"""Keys typed in a burst take effect in the order they were typed.

Textual hands a key to the focused widget's message queue. A printable key is handled there at
once (Input and TextArea insert it in their own key handler), but a key bound by the focused
widget itself (backspace, delete, the arrows, enter in an Input) is not: it bubbles up through
every ancestor's queue to the App, which only then runs the widget's binding. Keys that arrive
together (fast typing, a terminal's burst, a script) overtake it: "hello" + two backspaces +
"p!" came out as "hello" (the "p!" went in first, then the backspaces deleted it), and 13
backspaces + "sonnet" in the command palette left "switch model".

The App asks ``run_in_order`` first for each key from the terminal: a key bound by the focused
widget itself (not a priority binding) waits until the widget has handled every key before it,
then runs that binding at once, as Textual would have at the end of the bubbling. Anything else
(printable keys, keys the widget takes in its own key handler, bindings of the screen or the
App) goes the usual way.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from textual import events
    from textual.app import App
    from textual.widget import Widget

# How long a key waits for the widget to catch up before it runs anyway (a widget that is busy
# for longer is stuck, and a key must never be lost to it).
CATCH_UP_S = 1.0


@runtime_checkable
class TakesKeys(Protocol):
    """A widget whose own key handler takes some bound keys (they keep the usual road)."""

    def takes_key(self, key: str) -> bool: ...


def _taken_by_widget(widget: Widget, key: str) -> bool:
    if isinstance(widget, TakesKeys) and widget.takes_key(key):
        return True
    from textual.widgets import TextArea  # (not at start-up: the prompt is built after it)

    if isinstance(widget, TextArea):
        # TextArea inserts enter (and tab, escape when tab indents) in its own key handler.
        return key == "enter" or (widget.tab_behavior == "indent" and key in ("tab", "escape"))
    return False


async def caught_up(widget: Widget, timeout: float = CATCH_UP_S) -> None:
    """Return once ``widget`` has handled everything already in its message queue."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def arrived() -> None:
        if not done.done():
            done.set_result(None)

    if not widget.call_later(arrived):
        return  # its queue is closed: nothing is waiting in it
    try:
        await asyncio.wait_for(done, timeout)
    except TimeoutError:
        pass


async def run_in_order(app: App[Any], event: events.Key) -> bool:
    """Run the focused widget's own binding of ``event`` in turn; False: not such a key."""
    if event.is_printable or event.is_forwarded:
        return False
    focused = app.focused
    if focused is None or app.screen.maximized is not None or _taken_by_widget(focused, event.key):
        return False
    if not _bound_by(app, focused, event.key):
        return False
    await caught_up(focused)
    # The keys before it may have moved the focus or changed what is bound: ask again.
    if app.focused is not focused or not _bound_by(app, focused, event.key):
        return False
    binding = app.screen.active_bindings[event.key].binding
    return await app.run_action(binding.action, focused)


def _bound_by(app: App[Any], widget: Widget, key: str) -> bool:
    """``key`` runs an enabled, non-priority binding of ``widget`` itself."""
    active = app.screen.active_bindings.get(key)
    return (
        active is not None
        and active.node is widget
        and active.enabled
        and not active.binding.priority
    )
