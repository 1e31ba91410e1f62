"""Handing a thread worker's result to the event loop, safely while the app closes.

Every thread worker in the app (balance, listings, details, saving, the conversation list, key
saving, gateway switching) ends by running a callback on the event loop. ``App.call_from_thread``
alone raises when the result arrives late: during shutdown the screens are being removed
(``NoMatches`` for ``#status-gateway`` from ``_balance_loaded``), a dialog that asked for a list
may have been closed, or the loop may be gone ("App is not running"). ``deliver`` is the one place
that decides: the callback runs only if its owner (the app, or the screen that started the
worker) is still running when the callback's turn comes on the loop; otherwise the result is
dropped, because nobody is left to show it. Errors raised by a callback on a live owner still
surface: a bug stays a bug.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.message_pump import MessagePump


def is_live(owner: MessagePump) -> bool:
    """True while ``owner`` (the app, a screen or a widget) can still take a result."""
    app = owner if isinstance(owner, App) else owner.app
    if not app.is_running:
        return False
    return owner is app or (owner.is_running and owner.is_attached)


def deliver(owner: MessagePump, callback: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """From a thread worker: run ``callback(*args, **kwargs)`` on the event loop (and wait for
    it), unless ``owner`` is closing or gone, then do nothing.

    Pass a callback that looks widgets up itself (``self._providers_loaded``), never a bound
    method of a widget found in the thread (``self.selector.set_providers``): that lookup would
    run in the thread and fail there.
    """
    if not is_live(owner):
        return
    app = owner if isinstance(owner, App) else owner.app

    def on_loop() -> Any:
        # Checked again on the loop: the app may have started closing after the thread asked.
        if not is_live(owner):
            return None
        return callback(*args, **kwargs)

    try:
        app.call_from_thread(on_loop)
    except RuntimeError:
        # "App is not running": the loop went away between the check and the call.
        if is_live(owner):
            raise
