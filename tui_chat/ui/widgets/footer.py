"""The key footer, without the memory it kept for every key it ever showed.

Textual's Footer builds its keys again whenever the bindings change (here: each reply, as Stop
and Pause come and go) and binds each new key's ``compact`` to its own with ``data_bind``. That
binding is a watcher kept on the Footer, and Textual drops a watcher of a removed widget only
when the watched value next changes, which ``compact`` never does. So every key the footer
ever showed stayed alive: about 16 widgets per reply, the largest part of the ~0.7 MB a long
session grew by with each reply (benchmarks/bench_session_memory.py). ``KeyFooter`` lets go of
the watchers of the keys it removed each time it builds its keys again.
"""

from __future__ import annotations

from textual.widgets import Footer

# Where Textual keeps the watchers of a reactable's reactive attributes (textual/reactive.py
# ``_watch``): {attribute name: [(watching node, callback), ...]}.
_WATCHERS = "__watchers"


def forget_removed_watchers(node: object) -> int:
    """Drop the watchers on ``node`` that belong to widgets no longer in the DOM; how many."""
    watchers = getattr(node, _WATCHERS, None)
    if not watchers:
        return 0
    dropped = 0
    for entries in watchers.values():
        kept = [(watcher, callback) for watcher, callback in entries if watcher.is_attached]
        dropped += len(entries) - len(kept)
        entries[:] = kept
    return dropped


class KeyFooter(Footer):
    """Footer that does not keep the keys it took down (see the module's docstring)."""

    async def recompose(self) -> None:
        await super().recompose()
        forget_removed_watchers(self)
