"""``python -m tui_chat.gateway_sim``: serve the embedded gateway standalone until Ctrl+C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .catalog import DRIFTS
from .faults import Fault
from .server import GatewaySim
from .state import FRAMINGS, is_loopback

DEFAULT_PORT = 8765


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tui_chat.gateway_sim",
        description="Serve the simulated Unify API (the embedded gateway) on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)"
    )
    parser.add_argument("--key", default="demo-key", help="the API key clients must send")
    parser.add_argument("--credits", type=float, default=50.0, help="starting balance (credits)")
    parser.add_argument("--seed", type=int, default=0, help="seed for replies and drift")
    parser.add_argument(
        "--markup",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="bill this share on top of each reply's reported cost (0.05: 5 %%; default 0)",
    )
    parser.add_argument(
        "--token-delay",
        type=float,
        default=None,
        metavar="S",
        help="seconds between tokens (default: each endpoint's simulated speed)",
    )
    parser.add_argument(
        "--ttft",
        type=float,
        default=None,
        metavar="S",
        help="seconds before the first token (default: each endpoint's simulated ttft)",
    )
    parser.add_argument(
        "--drift",
        choices=DRIFTS,
        default="jitter",
        help="how speeds drift: jitter (default: a new random factor each interval) or waves "
        "(smooth load waves; a model's fastest providers overtake each other, as in --demo)",
    )
    parser.add_argument(
        "--metrics-interval",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds between speed measurements (default 10; prices move every 6)",
    )
    parser.add_argument(
        "--framing",
        choices=FRAMINGS,
        default="chunked",
        help="how streams are delimited: chunked (default), close or http/1.0 (no length, no "
        "chunking: the body ends when the connection closes)",
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="JSON",
        help='a fault to queue, as POST /_sim/control takes one, e.g. \'{"kind": "truncate", '
        '"after_tokens": 5, "times": null}\' (repeatable)',
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback address (anyone who can reach it can use the key)",
    )
    return parser


def _fault(text: str) -> Fault:
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        return Fault.from_dict(data)
    except (ValueError, TypeError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not is_loopback(args.host) and not args.allow_remote:
        print(
            f"error: refusing to serve on {args.host!r}, which is not loopback; "
            "pass --allow-remote if you really mean it",
            file=sys.stderr,
        )
        return 2
    if not args.metrics_interval > 0:
        print("error: --metrics-interval must be > 0", file=sys.stderr)
        return 2
    sim = GatewaySim(
        api_key=args.key,
        credits=args.credits,
        seed=args.seed,
        host=args.host,
        port=args.port,
        allow_remote=args.allow_remote,
    )
    sim.controls.token_delay_s = args.token_delay
    sim.controls.ttft_s = args.ttft
    sim.controls.framing = args.framing
    sim.controls.drift = args.drift
    sim.controls.metrics_interval_s = args.metrics_interval
    if args.markup < 0:
        print("error: --markup must be 0 or more", file=sys.stderr)
        return 2
    sim.controls.markup = args.markup
    for fault in args.fault:
        sim.inject(fault)
    try:
        sim.start()
    except OSError as error:
        print(f"error: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    print(f"Simulated Unify API at {sim.base_url}", flush=True)
    print(f"API key: {args.key}", flush=True)
    print(f"  export UNIFY_BASE_URL={sim.base_url} UNIFY_KEY={args.key}", flush=True)
    print(f"OpenRouter dialect at {sim.openrouter_base_url}", flush=True)
    print(f"OpenAI-compatible dialect at {sim.openai_base_url}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
