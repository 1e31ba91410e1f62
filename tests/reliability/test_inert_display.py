"""Server text is data: markup, ANSI and OSC sequences show literally, never reach the terminal.

The screen is rendered exactly as the terminal driver would write it (the compositor's full update
through a truecolor console), then searched: no escape sequence from the server survives (ESC ],
BEL, C1 CSI, the server's own colour code), and the literal text is visible instead, in the reply,
the provenance line, the status bar, the selector lists, the error card, the command palette and
notifications.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.app.conftest import APP_SIZE, send, terminal_output, wait_for_reply, wait_until
from tests.reliability import evil_server
from tests.reliability.evil_server import (
    ANSI,
    EVIL,
    EVIL_MODEL,
    EVIL_PROVIDER,
    EVIL_SERVED,
    FORBIDDEN,
    MARKUP,
    UNUSUAL_MODEL,
    EvilGateway,
)
from tui_chat.core.conversation import Outcome
from tui_chat.core.text import inert
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.unify import UnifyAccount, UnifyGateway
from tui_chat.ui.widgets.messages import ErrorCard

WIDE = (160, 50)
_CSI = re.compile(r"\x1b\[[0-9;:?<=>]*[ -/]*[@-~]")


@pytest.fixture
def evil() -> Iterator[EvilGateway]:
    yield from evil_server.serve()


def visible(output: str) -> str:
    """The characters a user sees, one screen row per line."""
    return _CSI.sub("", output)


def assert_nothing_escapes(app: Any) -> str:
    output = terminal_output(app)
    for forbidden in FORBIDDEN:
        assert forbidden not in output, f"{forbidden!r} reached the terminal"
    # Textual itself only writes CSI sequences; nothing else may start with ESC.
    assert "\x1b" not in visible(output)
    return visible(output)


def build(make_app: Any, evil: EvilGateway, **options: Any) -> Any:
    settings = GatewaySettings(base_url=evil.base_url, api_key="test-key", timeout=5.0)
    return make_app(gateway=UnifyGateway(settings), account=UnifyAccount(settings), **options)


async def test_reply_provenance_status_and_lists_are_inert(
    make_app: Any, evil: EvilGateway
) -> None:
    app = build(make_app, evil)
    served = inert(EVIL_SERVED)  # "served[bold red]PWNED[/]␛]0;HACKED TITLE␇@evil␛[31mRED␛[0m"
    provenance_line = f"{served} · 9 tok"  # under the reply (no "via"): only there
    status_bar = f"via {served}"  # only in the status bar
    # The status bar shows the whole served endpoint only while everything fits; short of room
    # it keeps just the provider ("via evil…"). Here it needs ~155 cells plus the reply's tok/s,
    # and that figure is noise: the server writes all 9 tokens at once, so it only measures how
    # busy the app's background threads (warm-up imports, account calls) keep the event loop,
    # 100 to 1,500+ tok/s. At 160 columns a 4-digit figure squeezed the bar now and then;
    # 240 leaves ~80 cells to spare, more than any speed figure can take.
    async with app.run_test(size=(240, 50)) as pilot:
        await wait_until(pilot, lambda: EVIL_MODEL in app.known_models, what="model list")
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        reply = next(m for m in app.conversation.messages if m.role == "assistant")
        assert reply.content == EVIL  # kept verbatim in the conversation (it is data)
        # both are painted after the reply ends: wait for them, not a fixed pause
        await wait_until(
            pilot,
            lambda: all(t in visible(terminal_output(app)) for t in (provenance_line, status_bar)),
            what="the served endpoint in the provenance line and the status bar",
        )
        seen = assert_nothing_escapes(app)
        # The reply: markup shown literally, escapes as visible stand-ins.
        assert MARKUP in seen
        assert "␛[31mRED␛[0m" in seen
        assert "␛]52;c;ZXZpbA==␇" in seen
        assert "␛]0;HACKED TITLE␇" in seen
        # Provenance line and status bar: the served endpoint, literally.
        assert provenance_line in seen
        assert status_bar in seen
        assert app.title == "unify-tui"  # OSC 0 changed nothing


@pytest.mark.parametrize(
    ("select", "fragment"),
    [
        ("#model-select", "red]PWNED[/]␛[31mRED␛[0m"),
        ("#model-select", "全角モデル-🙂"),
        ("#provider-select", inert(EVIL_PROVIDER)),
    ],
)
async def test_selector_lists_are_inert(
    make_app: Any, evil: EvilGateway, select: str, fragment: str
) -> None:
    app = build(make_app, evil)
    async with app.run_test(size=WIDE) as pilot:
        await wait_until(pilot, lambda: EVIL_MODEL in app.known_models, what="model list")
        await pilot.pause(0.2)
        await pilot.click(select)
        await wait_until(
            pilot, lambda: fragment in visible(terminal_output(app)), what=f"{select} open"
        )
        assert_nothing_escapes(app)


async def test_error_card_detail_is_inert(make_app: Any, evil: EvilGateway) -> None:
    evil.fail_with = EVIL
    app = build(make_app, evil)
    async with app.run_test(size=WIDE) as pilot:
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        card = app.chat_log.query_one(ErrorCard)
        assert "HTTP 400" in card.title
        await pilot.pause()
        seen = assert_nothing_escapes(app)
        assert "[bold red]PWNED[/] [/] ␛[31mRED" in seen
        assert app.prompt.text == "hello"


async def search_palette(pilot: Any, model: str, typed: str, hit: str) -> None:
    """Once ``model`` is listed, type ``typed`` in the command palette and wait for ``hit``."""
    app = pilot.app
    await wait_until(pilot, lambda: model in app.known_models, what="model list")
    await pilot.press("ctrl+p")
    await pilot.press(*typed)
    await wait_until(pilot, lambda: hit in visible(terminal_output(app)), what="palette hit")


async def test_command_palette_shows_hostile_model_names_literally(
    make_app: Any, evil: EvilGateway
) -> None:
    app = build(make_app, evil)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await search_palette(pilot, EVIL_MODEL, "evil", "PWNED")
        seen = assert_nothing_escapes(app)
        assert "Switch model: evil[bold red]PWNED[/]␛[31mRED" in seen
        await pilot.press("enter")  # choose it: the name is refused, and said so, inertly
        await wait_until(pilot, lambda: "Not a valid endpoint" in visible(terminal_output(app)))
        assert app.is_running
        assert_nothing_escapes(app)


@pytest.mark.parametrize(
    "typed",
    ["gpt-4o@[/]", "[bold]x[/]@openai", f"m@p{ANSI}", "m@p\x1b]52;c;ZXZpbA==\x07", "[/]"],
)
async def test_bad_typed_endpoint_is_refused_without_markup(
    make_app: Any, evil: EvilGateway, typed: str
) -> None:
    app = build(make_app, evil)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        assert app.switch_endpoint(typed) is False
        await wait_until(pilot, lambda: "Not a valid endpoint" in visible(terminal_output(app)))
        assert app.is_running
        assert_nothing_escapes(app)


# -- prompts: huge, control characters, right-to-left, wide, emoji ----------------------------


UNUSUAL_PROMPTS = {
    "controls": "before\x1b[2J\x1b]52;c;ZXZpbA==\x07\x00\x08\r after",
    "rtl": "שלום עולם \u202eevil\u202c مرحبا",
    "wide": "全角文字テキスト 한국어 텍스트",
    "emoji": "🙂👍🏽 👨‍👩‍👧 🇵🇹 ❤️",
    "markup": "[bold]not bold[/] [/]",
}


@pytest.mark.parametrize("name", list(UNUSUAL_PROMPTS))
async def test_unusual_prompt_is_sent_intact_and_shown_inert(
    make_app: Any, sim: Any, name: str
) -> None:
    prompt = UNUSUAL_PROMPTS[name]
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, prompt)
        await wait_for_reply(pilot)
        sent = [r for r in sim.requests if r.path.endswith("/chat/completions")][-1]
        assert sent.messages[-1] == {"role": "user", "content": prompt}
        reply = next(m for m in app.conversation.messages if m.role == "assistant")
        assert reply.outcome is Outcome.COMPLETE
        await pilot.pause()
        seen = assert_nothing_escapes(app)
        if name == "markup":
            assert "[bold]not bold[/] [/]" in seen
        if name == "controls":
            assert "␛[2J␛]52;c;ZXZpbA==␇" in seen


async def test_one_megabyte_paste_is_sent_intact_and_the_app_stays_responsive(
    make_app: Any, sim: Any
) -> None:
    line = "The quick brown fox [b]jumps[/b] over the lazy dog; 0123456789 éß 全角 🙂\n"
    big = (line * (1_000_000 // len(line.encode()) + 1))[:1_000_000]
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        app.prompt.focus()
        app.prompt.load_text(big)  # a paste lands in the prompt as a whole
        await pilot.press("enter")
        await wait_for_reply(pilot, timeout=60)
        sent = [r for r in sim.requests if r.path.endswith("/chat/completions")][-1]
        assert sent.messages[-1]["content"] == big
        reply = next(m for m in app.conversation.messages if m.role == "assistant")
        if reply.outcome is Outcome.ERROR:
            # ~250k tokens is past this model's context window: the gateway says so, and the
            # megabyte comes back to the prompt untouched, ready to be cut down.
            assert "context" in app.chat_log.query_one(ErrorCard).detail.lower()
            assert app.prompt.text == big
        app.prompt.clear()
        # Still answers keys at once.
        await pilot.press("h", "i")
        assert app.prompt.text == "hi"
        await send(pilot, "what is the capital of Portugal?")
        await wait_for_reply(pilot, count=2, timeout=30)
        assert (
            "Lisbon" in [m for m in app.conversation.messages if m.role == "assistant"][1].content
        )


async def test_unusual_model_name_in_the_palette_is_shown_and_refused_cleanly(
    make_app: Any, evil: EvilGateway
) -> None:
    app = build(make_app, evil)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await search_palette(pilot, UNUSUAL_MODEL, "ledom", "全角モデル")
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.is_running
        assert_nothing_escapes(app)


@pytest.mark.parametrize("name", ["controls", "markup", "rtl", "emoji"])
async def test_conversation_titles_from_unusual_prompts_are_inert(
    make_app: Any, sim: Any, tmp_path: Any, name: str
) -> None:
    from tui_chat.store import Store

    prompt = UNUSUAL_PROMPTS[name]
    store = Store.open(tmp_path / "chats.db")
    app = make_app(store=store)
    try:
        async with app.run_test(size=APP_SIZE) as pilot:
            await send(pilot, prompt)
            await wait_for_reply(pilot)
            await pilot.press("ctrl+o")
            await wait_until(
                pilot, lambda: app.screen is not app.screen_stack[0], what="conversation list"
            )
            await pilot.pause(0.2)
            seen = assert_nothing_escapes(app)
            title = app.conversation_title or ""
            assert title
            assert inert(title)[:12] in seen  # the title, literally (its start)
    finally:
        store.close()
