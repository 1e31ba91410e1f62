"""A known key is used for a whole session, then searched for everywhere it must never be.

The screen (SVG screenshot and what the terminal would receive), every log record at DEBUG
(ours, openai's, httpx's), the Markdown and JSON exports, the database file and its WAL, and
tracebacks (plain and Rich's with local variables, as Textual prints them on a crash), and the
repr of every object that holds the key.
"""

from __future__ import annotations

import asyncio
import io
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.traceback import Traceback

from tests.app.conftest import APP_SIZE, send, terminal_output, wait_for_reply, wait_until
from tests.conftest import start_sim
from tui_chat.gateway_sim import Fault, GatewaySim
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.retry import RetryingGateway
from tui_chat.gateways.unify import UnifyAccount, UnifyGateway

SECRET = "sk-test-SECRET-1234567890"
NEEDLES = (SECRET, "SECRET-1234567890", "1234567890")  # whole, and the tell-tale tail


def assert_clean(where: str, text: str | bytes) -> None:
    haystack = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    for needle in NEEDLES:
        assert needle.encode() not in haystack, f"the key leaked into {where}"


@pytest.fixture
def secret_sim() -> Iterator[GatewaySim]:
    with start_sim(api_key=SECRET) as sim:
        yield sim


async def test_key_appears_nowhere_after_a_session(
    make_app: Any,
    secret_sim: GatewaySim,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tui_chat.store import Store

    caplog.set_level(logging.DEBUG)
    settings = GatewaySettings(base_url=secret_sim.base_url, api_key=SECRET, timeout=5.0)
    store = Store.open(tmp_path / "chats.db")
    exports = tmp_path / "exports"
    app = make_app(
        gateway=RetryingGateway(UnifyGateway(settings)),
        account=UnifyAccount(settings),
        store=store,
        export_dir=exports,
    )
    screens: list[str] = []
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "What is the capital of Portugal?")
        await wait_for_reply(pilot)
        secret_sim.inject(Fault("status", status=401))  # an auth error card as well
        await send(pilot, "And of Spain?")
        await wait_for_reply(pilot, count=2)
        secret_sim.inject(Fault("drop", after_tokens=3))
        app.prompt.clear()
        await send(pilot, "And of France?")
        await wait_for_reply(pilot, count=3)
        await pilot.pause()
        screens += [app.export_screenshot(), terminal_output(app)]
        app.action_export_markdown()
        app.action_export_json()
        await wait_until(pilot, lambda: len(list(exports.glob("*"))) >= 2, what="two exports")
        await pilot.press("ctrl+b")  # the model panel, in case it was hidden
        await pilot.pause()
        screens += [app.export_screenshot(), terminal_output(app)]
    store.close()

    for index, screen in enumerate(screens):
        assert_clean(f"screen {index}", screen)
    for record in caplog.records:
        assert_clean(f"log record {record.name}", record.getMessage())
        assert_clean(f"log args {record.name}", repr(record.args))
    assert_clean("caplog text", caplog.text)
    exported = sorted(exports.glob("*"))
    assert {path.suffix for path in exported} >= {".md", ".json"}
    for path in exported:
        assert_clean(path.name, path.read_bytes())
        assert b"Lisbon" in path.read_bytes()  # the export really holds the chat
    # The database, its -wal/-shm, and everything beside it (the lock files of the
    # conversations held, a journal of writes that waited): every file, folders walked into.
    database_files = sorted(
        path
        for found in tmp_path.glob("chats.db*")
        for path in ([found] if found.is_file() else found.rglob("*"))
        if path.is_file()
    )
    assert database_files
    for path in database_files:
        assert_clean(path.name, path.read_bytes())
    assert b"Portugal" in (tmp_path / "chats.db").read_bytes() + b"".join(
        p.read_bytes() for p in database_files
    )
    # The sim never records the Authorization header either.
    assert_clean("recorded requests", repr(secret_sim.requests))


def test_reprs_and_strs_of_key_holders_are_masked(secret_sim: GatewaySim) -> None:
    settings = GatewaySettings(base_url=secret_sim.base_url, api_key=SECRET)
    gateway = UnifyGateway(settings)
    wrapped = RetryingGateway(gateway)
    account = UnifyAccount(settings)
    try:
        account.credits()  # a session with live connections and clients inside
        assert settings.api_key.get_secret_value() == SECRET
        for holder in (settings, settings.api_key, gateway, wrapped, account):
            assert_clean(f"repr of {type(holder).__name__}", repr(holder))
            assert_clean(f"str of {type(holder).__name__}", str(holder))
        assert_clean(
            "vars of settings", repr(vars(settings)) if hasattr(settings, "__dict__") else ""
        )
    finally:
        account.close()


def _fail_with_the_key_in_scope(settings: GatewaySettings, gateway: Any, account: Any) -> None:
    api_key = settings.api_key  # a SecretStr local, as the code holds it
    raise RuntimeError(f"boom with {settings!r} and {api_key!r}")


def test_tracebacks_do_not_show_the_key(secret_sim: GatewaySim) -> None:
    settings = GatewaySettings(base_url=secret_sim.base_url, api_key=SECRET)
    gateway = UnifyGateway(settings)
    account = UnifyAccount(settings)

    async def used() -> None:  # give the gateway its live openai client
        async for _ in gateway.stream_chat(
            "llama-3.1-8b-chat@groq", [{"role": "user", "content": "hi"}]
        ):
            pass

    asyncio.run(used())
    try:
        _fail_with_the_key_in_scope(settings, gateway, account)
    except RuntimeError as error:
        assert_clean("plain traceback", "".join(traceback.format_exception(error)))
        console = Console(file=io.StringIO(), width=200, record=True)
        console.print(
            Traceback.from_exception(type(error), error, error.__traceback__, show_locals=True)
        )
        rich_text = console.export_text()
        assert "settings" in rich_text  # locals really were shown
        assert_clean("rich traceback with locals", rich_text)
    finally:
        account.close()


def test_error_raised_by_the_gateway_does_not_carry_the_key(secret_sim: GatewaySim) -> None:
    bad = GatewaySettings(base_url=secret_sim.base_url, api_key=SECRET + "-wrong")

    async def failing() -> list[Any]:
        events = []
        gateway = UnifyGateway(bad)
        async for event in gateway.stream_chat(
            "llama-3.1-8b-chat@groq", [{"role": "user", "content": "hi"}]
        ):
            events.append(event)
        await gateway.aclose()
        return events

    events = asyncio.run(failing())
    error = events[-1].error
    for text in (str(error), repr(error), error.detail):
        assert_clean("gateway error", text)
