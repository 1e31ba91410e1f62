"""Command line: parse arguments, then run the full-screen app or the plain Agent loop.

Heavy modules (Textual, the openai SDK, the embedded gateway) are imported only once it is known
which of them this run needs, so `unify-tui --help` is instant and start-up stays quick.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from tui_chat import __version__

DEMO_KEY = "demo-key"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unify-tui",
        description=(
            "A terminal chat client for unified LLM gateways: one key, many models and "
            "providers, the real cost of every reply in view."
        ),
        epilog="Keys: UNIFY_KEY (and UNIFY_BASE_URL). Try it with no key: unify-tui --demo",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run against the embedded gateway (simulated models, no key, no network)",
    )
    parser.add_argument("--model", metavar="ENDPOINT", help="endpoint string, e.g. gpt-4o-mini@openai")
    parser.add_argument("--base-url", metavar="URL", help="gateway base URL (default: UNIFY_BASE_URL)")
    parser.add_argument(
        "--plain", action="store_true", help="line-by-line chat in a plain terminal (no full screen)"
    )
    parser.add_argument("--show-credits", action=argparse.BooleanOptionalAction, default=True,
                        help="show the cost of each reply and the balance (default: on)")
    parser.add_argument("--show-provider", action=argparse.BooleanOptionalAction, default=True,
                        help="show the provider that served each reply (default: on)")
    parser.add_argument("--version", action="version", version=f"unify-tui {__version__}")
    return parser


def _start_demo_gateway() -> Any:
    from tui_chat.gateway_sim import GatewaySim

    sim = GatewaySim(api_key=DEMO_KEY, credits=25.0)
    # Paced like a quick hosted model so streaming, stop and pause can be seen.
    sim.controls.token_delay_s = 0.012
    sim.controls.ttft_s = 0.25
    sim.start()
    return sim


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tui_chat.core.endpoint import EndpointError, parse_endpoint
    from tui_chat.gateways.config import GatewaySettings, MissingAPIKeyError

    model = args.model or (
        "llama-2-70b-chat@anyscale" if args.plain else "llama-3.1-8b-chat@highest-tks-per-sec"
    )
    try:
        parse_endpoint(model)
    except EndpointError as error:
        print(f"unify-tui: --model: {error}", file=sys.stderr)
        return 2

    sim = _start_demo_gateway() if args.demo else None
    try:
        settings: GatewaySettings | None
        problem: str | None = None
        if sim is not None:
            settings = GatewaySettings(base_url=sim.base_url, api_key=DEMO_KEY)
            label = "Demo gateway"
        else:
            base_url = args.base_url or os.environ.get("UNIFY_BASE_URL") or None
            try:
                settings = GatewaySettings.from_env(base_url=base_url)
            except MissingAPIKeyError as error:
                settings, problem = None, str(error)
            label = "Unify"
        if args.plain:
            return _run_plain(settings, problem, model, args)
        return _run_app(settings, problem, model, label, args)
    finally:
        if sim is not None:
            sim.stop()


def _run_plain(settings: Any, problem: str | None, model: str, args: argparse.Namespace) -> int:
    if settings is None:
        print(f"unify-tui: {problem}", file=sys.stderr)
        return 2
    from tui_chat.agent import Agent

    agent = Agent(model, api_key=settings.api_key.get_secret_value(), base_url=settings.base_url)
    agent.run(show_credits=args.show_credits, show_provider=args.show_provider)
    return 0


def _run_app(
    settings: Any, problem: str | None, model: str, label: str, args: argparse.Namespace
) -> int:
    from tui_chat.app import UnifyTUI
    from tui_chat.gateways.unify import UnifyAccount, UnifyGateway

    gateway = UnifyGateway(settings) if settings is not None else None
    account = UnifyAccount(settings) if settings is not None else None
    app = UnifyTUI(
        gateway=gateway,
        account=account,
        model=model,
        gateway_label=label,
        startup_problem=problem,
        show_credits=args.show_credits,
        show_provider=args.show_provider,
    )
    app.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
