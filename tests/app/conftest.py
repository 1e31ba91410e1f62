"""Helpers for Pilot tests of the full-screen app against the embedded gateway."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from textual.pilot import Pilot

from tui_chat.config import GatewayProfile
from tui_chat.connection import connect
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.unify import UnifyAccount, UnifyGateway
from tui_chat.ui.app import UnifyTUI

APP_SIZE = (120, 40)


# Waits end as soon as their condition holds; the limit only decides how long a failure takes.
# It is generous because CI is a 2-core machine that may be busy (10 s was exceeded once).
WAIT_S = 20.0


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], bool], *, timeout: float = WAIT_S, what: str = ""
) -> None:
    """Let the app run until ``predicate()`` holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)


@pytest.fixture
def make_app(sim: Any) -> Callable[..., UnifyTUI]:
    """Build the app wired to the sim through the real Unify client and real HTTP."""

    def build(**overrides: Any) -> UnifyTUI:
        settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
        options: dict[str, Any] = {
            "gateway": UnifyGateway(settings),
            "account": UnifyAccount(settings),
            "model": "llama-3.1-8b-chat@groq",
            "gateway_label": "Test gateway",
            "balance_poll_s": 3600.0,
        }
        options.update(overrides)
        return UnifyTUI(**options)

    return build


def profiles_app(
    profiles: dict[str, GatewayProfile], first: str = "demo", **overrides: Any
) -> UnifyTUI:
    """Build the app on profile ``first`` of ``profiles`` (key ``test-key``), others to switch to.

    ``overrides`` go to ``UnifyTUI`` as they are (``connect_profile=...``, ``keys_file=...``).
    """
    connection = connect(profiles[first], "test-key", retrying=False)
    options: dict[str, Any] = {
        "gateway": connection.gateway,
        "account": connection.account,
        "model": "llama-3.1-8b-chat@groq",
        "gateway_label": connection.label,
        "balance_poll_s": 3600.0,
        "profiles": profiles,
        "profile_name": first,
    }
    options.update(overrides)
    return UnifyTUI(**options)


def terminal_output(app: UnifyTUI) -> str:
    """What the driver would write for the whole screen: text and Textual's own CSI codes."""
    console = Console(
        width=app.size.width,
        height=app.size.height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
        safe_box=False,
    )
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    output = console.file.getvalue()
    assert isinstance(output, str)
    return output


async def send(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` into the prompt and press Enter, as a user would."""
    app = pilot.app
    assert isinstance(app, UnifyTUI)
    app.prompt.focus()
    app.prompt.load_text(text)
    await pilot.press("enter")


async def wait_for_reply(pilot: Pilot[Any], count: int = 1, timeout: float = WAIT_S) -> None:
    """Wait until ``count`` replies have ended (in any way) and the worker is idle."""
    app = pilot.app
    assert isinstance(app, UnifyTUI)

    def ended() -> bool:
        replies = [m for m in app.conversation.messages if m.role == "assistant"]
        return len(replies) >= count and replies[-1].outcome is not None and not app.streaming

    await wait_until(pilot, ended, timeout=timeout, what=f"{count} finished replies")
