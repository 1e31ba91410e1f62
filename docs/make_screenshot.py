"""Make docs/screenshot.svg: the app in demo mode after a short real conversation, and
docs/compare.svg: the same question compared on three endpoints (ctrl+t), and
docs/spend.svg: the spend screen (f9) over a generated year of replies
(benchmarks/spend_history.py).

Run: python3 docs/make_screenshot.py  (headless; uses the embedded gateway, no key, no network)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from tui_chat.gateway_sim import GatewaySim
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.unify import UnifyAccount, UnifyGateway
from tui_chat.store import Store
from tui_chat.ui.app import UnifyTUI

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshot.svg"
COMPARE_OUT = OUT.with_name("compare.svg")
COMPARE_PROMPT = "Show me a short markdown table and some python code"
COMPARE_ENDPOINTS = (
    "llama-3.1-8b-chat@lowest-input-cost",
    "llama-3.1-8b-chat@highest-tks-per-sec",
    "llama-3.1-8b-chat@together-ai",
)
PROMPTS = [
    "Hi, nice to meet you. My name is Foo Barrymore, and I am 25 years old.",
    "How old am I?",
    "Show me a short markdown table and some python code",
]


async def main() -> None:
    with GatewaySim(api_key="demo-key", credits=25.0) as sim, tempfile.TemporaryDirectory() as tmp:
        sim.controls.token_delay_s = 0.004  # a fast hosted model, so the speed is a real one
        sim.controls.ttft_s = 0.2
        settings = GatewaySettings(base_url=sim.base_url, api_key="demo-key")
        app = UnifyTUI(
            gateway=UnifyGateway(settings),
            account=UnifyAccount(settings),
            model="llama-3.1-8b-chat@highest-tks-per-sec",
            gateway_label="Demo gateway",
            store=Store.open(Path(tmp) / "screenshot.db"),
        )
        async with app.run_test(size=(130, 44)) as pilot:
            app.prompt.cursor_blink = False
            for prompt in PROMPTS:
                app.prompt.load_text(prompt)
                await pilot.press("enter")
                for _ in range(500):
                    await pilot.pause(0.02)
                    last = app.conversation.messages[-1]
                    if last.role == "assistant" and last.outcome is not None and not app.streaming:
                        break
            await pilot.pause(1.0)  # balance refresh and listings
            app.chat_log.scroll_home(animate=False)  # the whole exchange, then the Markdown
            await pilot.pause(0.2)
            OUT.write_text(app.export_screenshot(title="unify-tui --demo"))
    print(f"wrote {OUT}", file=sys.stderr)


async def compare() -> None:
    from tui_chat.ui.screens.compare import CompareRequest, CompareScreen, _start_compare

    with GatewaySim(api_key="demo-key", credits=25.0) as sim:
        sim.controls.token_delay_s = 0.004
        sim.controls.ttft_s = 0.2
        settings = GatewaySettings(base_url=sim.base_url, api_key="demo-key")
        app = UnifyTUI(
            gateway=UnifyGateway(settings),
            account=UnifyAccount(settings),
            model=COMPARE_ENDPOINTS[1],
            gateway_label="Demo gateway",
        )
        async with app.run_test(size=(130, 44)) as pilot:
            await pilot.pause(0.5)
            _start_compare(app, CompareRequest(COMPARE_PROMPT, COMPARE_ENDPOINTS))
            for _ in range(1000):
                await pilot.pause(0.02)
                screen = app.screen
                if isinstance(screen, CompareScreen) and screen.comparison.finished:
                    break
            await pilot.pause(0.5)  # the served endpoints' prices
            screen = app.screen
            assert isinstance(screen, CompareScreen)
            for column in screen.columns:
                column.body.scroll_home(animate=False)
            await pilot.pause(0.2)
            COMPARE_OUT.write_text(app.export_screenshot(title="unify-tui --demo: compare"))
    print(f"wrote {COMPARE_OUT}", file=sys.stderr)


SPEND_OUT = OUT.with_name("spend.svg")


async def spend() -> None:
    sys.path.insert(0, str(OUT.parent.parent / "benchmarks"))
    from spend_history import fill_history

    from tui_chat.ui.screens.spend import SpendScreen

    with GatewaySim(api_key="demo-key", credits=25.0) as sim, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "spend.db"
        fill_history(db, replies=20_000, years=1.0)
        settings = GatewaySettings(base_url=sim.base_url, api_key="demo-key")
        app = UnifyTUI(
            gateway=UnifyGateway(settings),
            account=UnifyAccount(settings),
            model="llama-3.1-8b-chat@highest-tks-per-sec",
            gateway_label="Demo gateway",
            store=Store.open(db),
        )
        async with app.run_test(size=(130, 44)) as pilot:
            await pilot.pause(1.0)
            app.prompt.cursor_blink = False
            await pilot.press("f9")
            for _ in range(500):
                await pilot.pause(0.02)
                if isinstance(app.screen, SpendScreen) and app.screen.report is not None:
                    break
            await pilot.pause(0.5)
            SPEND_OUT.write_text(app.export_screenshot(title="unify-tui --demo: spend (f9)"))
    print(f"wrote {SPEND_OUT}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
    asyncio.run(compare())
    asyncio.run(spend())
