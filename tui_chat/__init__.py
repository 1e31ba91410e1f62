"""unify-tui: a terminal chat client for unified LLM gateways.

The package root stays light: ``Agent`` is imported lazily so that ``import tui_chat``
(and the app's start-up) does not pay for the ``openai`` SDK until it is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tui_chat._version import __version__

__all__ = ["Agent", "__version__"]

if TYPE_CHECKING:
    from tui_chat.agent import Agent


def __getattr__(name: str) -> Any:
    if name == "Agent":
        from tui_chat.agent import Agent

        return Agent
    raise AttributeError(f"module 'tui_chat' has no attribute {name!r}")
