"""Command line: parse arguments, then run the full-screen app or the plain Agent loop.

Heavy modules (Textual, the openai SDK, the embedded gateway) are imported only once it is known
which of them this run needs, so `unify-tui --help` is instant and start-up stays quick.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_chat._version import __version__
from tui_chat.demo import DEMO_KEY, DemoGateway

if TYPE_CHECKING:
    from tui_chat.config import AppConfig, GatewayProfile
    from tui_chat.connection import ConnectionPlan
    from tui_chat.core.conversation import ConversationSettings
    from tui_chat.store import Store


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unify-tui",
        description=(
            "A terminal chat client for unified LLM gateways: one key, many models and "
            "providers, the real cost of every reply in view."
        ),
        epilog=(
            "Keys: UNIFY_KEY, OPENROUTER_API_KEY, OPENAI_API_KEY (or the variable a profile's "
            "key_env names), the system keyring, or keys.toml (asked for on first run). "
            "Settings: config.toml (see --print-config). Try it with no key: unify-tui --demo"
        ),
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run against the embedded gateway (simulated models, no key, no network)",
    )
    parser.add_argument(
        "--model", metavar="ENDPOINT", help="endpoint string, e.g. gpt-4o-mini@openai"
    )
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="gateway base URL (default: the profile's; UNIFY_BASE_URL for unify)",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="line-by-line chat in a plain terminal (no full screen)",
    )
    parser.add_argument(
        "--show-credits",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the cost of each reply and the balance (default: on, or config.toml)",
    )
    parser.add_argument(
        "--show-provider",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the provider that served each reply (default: on, or config.toml)",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: config.toml in the user config folder)",
    )
    parser.add_argument(
        "--gateway",
        metavar="NAME",
        help="gateway profile to use: unify, openrouter, demo, or one from config.toml",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the commented default configuration and exit",
    )
    parser.add_argument(
        "--write-config",
        action="store_true",
        help="write the commented default configuration (to --config PATH or the default "
        "place, readable only by you) and exit; never replaces an existing file",
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="conversation database file (default: conversations.db in the user data folder; "
        "demo.db there with --demo)",
    )
    parser.add_argument(
        "--no-save", action="store_true", help="do not save conversations in this session"
    )
    parser.add_argument(
        "--export-dir",
        metavar="PATH",
        type=_export_dir_argument,
        help="folder for exported conversations, created when first needed (default: "
        "export_dir in config.toml, else unify-tui in your Documents folder)",
    )
    parser.add_argument("--version", action="version", version=f"unify-tui {__version__}")
    return parser


def _export_dir_argument(text: str) -> Path:
    """``--export-dir``: ``~`` expanded, a relative path taken from the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder path, got an empty string")
    try:
        return Path(text).expanduser().absolute()
    except RuntimeError as error:  # ~ with no home folder to expand it against
        raise argparse.ArgumentTypeError(f"cannot expand {text!r}: {error}") from None


def open_conversation_store(path: Path | None) -> tuple[Store | None, str | None]:
    """Open the conversation database: ``(store or None, a notice for the user or None)``.

    A damaged file is moved aside and what can still be read of it recovered into a fresh one
    (the notice says how much, and where the damaged file went); a folder or file that cannot be
    written gives no store and a "Not saving: ..." notice. Raises ``StoreRetryable`` when the
    database is locked by another process: the app tries again.
    """
    from tui_chat.store import Store, StoreError, StoreRetryable

    try:
        store, recovery = Store.open_or_recover(path)
    except StoreRetryable:
        raise
    except StoreError as error:
        return None, f"Not saving: {error}"
    if recovery is None:
        return store, None
    if recovery.conversations:
        count = recovery.conversations
        recovered = (
            f"{count} conversation{'s' if count != 1 else ''} ({recovery.messages} messages) "
            f"were recovered from it into a fresh one at {store.path}"
        )
    else:
        recovered = f"Nothing could be read back out of it; a fresh one was started at {store.path}"
    # "The conversation database (path) is damaged: <SQLite's words>." -> SQLite's words.
    reason = recovery.reason.partition(" is damaged: ")[2].rstrip(".") or recovery.reason
    return store, (
        f"The conversation database was damaged ({reason}). {recovered}. The damaged file was "
        f"moved aside to {recovery.moved_to}."
    )


def _database_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db).expanduser()
    from tui_chat.store import default_database_path

    default = default_database_path()
    # Demo chats are simulated: kept in their own file so they never mix with real ones.
    return default.with_name("demo.db") if args.demo else default


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.print_config or args.write_config:
        return _config_template(args)
    # Start-up builds ~100k objects that live as long as the process; collecting meanwhile only
    # walks them again and again (about a tenth of the import time, measured). The collector is
    # back on for the plain chat before its first prompt, for the app after its first frame.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _main(args)
    finally:
        if collecting:
            gc.enable()


def _main(args: argparse.Namespace) -> int:
    from tui_chat.config import DEFAULT_MODEL, UnknownGatewayError
    from tui_chat.connection import first_endpoint
    from tui_chat.core.endpoint import endpoint_problem

    config, problems = _load_config(args)
    try:
        profile = config.profile("demo" if args.demo else args.gateway or config.default_gateway)
    except UnknownGatewayError as error:
        print(f"unify-tui: --gateway: {error}", file=sys.stderr)
        return 2
    args.demo = profile.kind == "demo"  # a demo profile chosen in config.toml is the demo too
    if args.model:
        problem = endpoint_problem(profile.kind, args.model)
        if problem is not None:
            print(f"unify-tui: --model: {problem}", file=sys.stderr)
            return 2
    fallback_model = "llama-2-70b-chat@anyscale" if args.plain else DEFAULT_MODEL
    # --model, else the profile's default_model, else config.toml's, else one that suits the kind.
    model = (
        args.model
        or config.model_for(profile.name)
        or first_endpoint(profile, None, fallback_model)
    )
    if args.show_credits is None:
        args.show_credits = config.show_credits
    if args.show_provider is None:
        args.show_provider = config.show_provider

    # The demo gateway's address is known at once; the full-screen app starts it after its first
    # frame (tui_chat/demo.py), the plain chat before its first prompt.
    demo = DemoGateway() if args.demo else None
    try:
        plan = _plan_connection(profile, args, demo)
        defaults = _conversation_defaults(config)
        if args.plain:
            gc.enable()
            if demo is not None:
                demo.start()
            return _run_plain(plan, problems, model, defaults, args)
        return _run_app(plan, problems, model, defaults, config, args, demo)
    finally:
        if demo is not None:
            demo.stop()


def _config_template(args: argparse.Namespace) -> int:
    """--print-config: the commented template on stdout; --write-config: to the file, 0600."""
    from tui_chat.config import default_config_text, write_default_config

    if args.print_config:
        sys.stdout.write(default_config_text())
        return 0
    path = Path(args.config).expanduser() if args.config else None
    try:
        written = write_default_config(path)
    except FileExistsError as error:
        print(
            f"unify-tui: {error.filename} already exists; not replacing it "
            "(see --print-config for the template)",
            file=sys.stderr,
        )
        return 1
    except OSError as error:
        print(f"unify-tui: could not write the config file: {error}", file=sys.stderr)
        return 1
    print(f"Wrote the default configuration to {written} (readable only by you).")
    return 0


def _load_config(args: argparse.Namespace) -> tuple[AppConfig, list[str]]:
    """The configuration and its problems as ``file:line: key: message`` lines."""
    from tui_chat.config import ConfigProblem, load_config

    path = Path(args.config).expanduser() if args.config else None
    if args.plain:  # the plain chat has no bindings or themes to check
        config, problems = load_config(path)
    else:
        from tui_chat.bindings import BINDING_IDS
        from tui_chat.ui.key_names import key_problem  # imports Textual only if a key is set
        from tui_chat.ui.themes import theme_names  # imports Textual only if a theme is set

        config, problems = load_config(
            path, binding_ids=BINDING_IDS, themes=theme_names, key_problem=key_problem
        )
    found = list(problems)
    if path is not None and not path.exists() and not path.is_symlink():
        found.append(ConfigProblem(path, None, None, "does not exist; using default settings"))
    return config, [str(problem) for problem in found]


def _conversation_defaults(config: AppConfig) -> ConversationSettings:
    """config.toml's settings for a new conversation, the same for the app and ``--plain``."""
    from tui_chat.core.conversation import ConversationSettings

    return ConversationSettings(
        system_prompt=config.system_prompt,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        spend_cap=config.spend_cap,
    )


def _plan_connection(
    profile: GatewayProfile, args: argparse.Namespace, demo: DemoGateway | None
) -> ConnectionPlan:
    """What ``tui_chat.connection`` finds out about the chosen gateway (a ``ConnectionPlan``)."""
    from tui_chat.connection import demo_plan, plan_connection

    if demo is not None:  # its own key: no key lookup (tui_chat.keys is not even imported)
        return demo_plan(profile, demo.base_url, DEMO_KEY)
    return plan_connection(profile, base_url=args.base_url)


def _run_plain(
    plan: ConnectionPlan,
    problems: list[str],
    model: str,
    defaults: ConversationSettings,
    args: argparse.Namespace,
) -> int:
    from tui_chat.connection import (
        PLAIN_NOT_SENT,
        PLAIN_SEND_ANYWAY_PROMPT,
        how_to_set_key,
        transport_verdict,
    )
    from tui_chat.core.text import inert

    for line in [*problems, *plan.warnings]:
        print(f"unify-tui: {inert(line)}", file=sys.stderr)
    if plan.missing_key:
        print(f"unify-tui: {how_to_set_key(plan.profile)}", file=sys.stderr)
        return 2
    if not plan.transport_ok:
        print(f"unify-tui: {transport_verdict(plan.base_url).message}", file=sys.stderr)
        try:
            answer = input(PLAIN_SEND_ANYWAY_PROMPT)
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print(f"unify-tui: {PLAIN_NOT_SENT}", file=sys.stderr)
            return 2
    from tui_chat.agent import Agent

    # The Agent checks model strings for the profile's gateway kind. (It has no spend cap.)
    connection = plan.plain_connection()
    agent = Agent(
        model,
        gateway=connection.gateway,
        gateway_kind=plan.profile.kind,
        system_prompt=defaults.system_prompt,
        temperature=defaults.temperature,
        max_tokens=defaults.max_tokens,
    )
    # `pause` asks for the model to switch to, then the chat goes on (the seed's reason to pause).
    agent.run_until_quit(show_credits=args.show_credits, show_provider=args.show_provider)
    return 0


def _theme_memory(config_theme: str | None) -> dict[str, Any]:
    """The theme to start with (one picked in the app is remembered, unless config.toml names
    another since) and how to remember the next pick; see tui_chat/config/state.py."""
    from tui_chat.config.state import default_state_path, load_state, remember_theme, theme_to_use

    path = default_state_path()
    return {
        "theme": theme_to_use(config_theme, load_state(path)),
        "remember_theme": lambda theme: remember_theme(path, theme, config_theme),
    }


def _switchable_profiles(
    plan: ConnectionPlan, config: AppConfig, args: argparse.Namespace
) -> dict[str, Any]:
    """The profiles the selector's gateway dropdown offers, and how to connect to one.

    With --demo: the embedded gateway in each of its dialects (Unify, OpenRouter, plain
    OpenAI-compatible), so switching can be tried with no key. Otherwise the configured profiles
    (the demo only when it runs).
    """
    from tui_chat.config import GatewayProfile
    from tui_chat.connection import profile_connector

    if args.demo:
        root = plan.base_url.rsplit("/", 1)[0]  # the sim's root: .../v0 -> ...
        profiles = {
            plan.profile.name: replace(plan.profile, base_url=plan.base_url),
            "demo-openrouter": GatewayProfile(
                "demo-openrouter", "openrouter", base_url=f"{root}/api/v1", key_env=""
            ),
            "demo-local": GatewayProfile(
                "demo-local", "openai-compatible", base_url=f"{root}/v1", key_env=""
            ),
        }
        connector = profile_connector(demo_base_url=plan.base_url, demo_key=DEMO_KEY)
    else:
        profiles = {
            name: profile
            for name, profile in config.gateways.items()
            if profile.kind != "demo" or name == plan.profile.name
        }
        profiles[plan.profile.name] = replace(plan.profile, base_url=plan.base_url)
        connector = profile_connector(keyring=plan.keyring)
    return {
        "profiles": profiles,
        "profile_name": plan.profile.name,
        "connect_profile": connector,
        "keyring": None if args.demo else plan.keyring,
    }


def _run_app(
    plan: ConnectionPlan,
    problems: list[str],
    model: str,
    defaults: ConversationSettings,
    config: AppConfig,
    args: argparse.Namespace,
    demo: DemoGateway | None = None,
) -> int:
    from tui_chat.connection import startup_notice
    from tui_chat.ui.app import UnifyTUI

    gateway = account = pending = None
    if plan.ready:
        gateway, account = plan.connector()(plan.key)
    else:
        pending = plan.pending()
    # The database (and sqlite3) is opened when the first frame is up, by the app.
    store_notice = "Not saving: --no-save was given." if args.no_save else None
    open_store = None if args.no_save else partial(_open_store_at, args)
    app = UnifyTUI(
        gateway=gateway,
        account=account,
        model=model,
        gateway_label=plan.label,
        show_credits=args.show_credits,
        show_provider=args.show_provider,
        temperature=defaults.temperature,
        max_tokens=defaults.max_tokens,
        store_notice=store_notice,
        open_store=open_store,
        export_dir=args.export_dir or config.export_dir,  # --export-dir wins over config.toml
        config=config,
        system_prompt=defaults.system_prompt,
        spend_cap=defaults.spend_cap,
        **_theme_memory(config.theme),
        keymap=config.bindings,
        startup_notice=startup_notice(problems, plan.warnings),
        pending_connection=pending,
        # an explicit --model or --gateway wins over the model of the conversation reopened
        # at start; config.toml's default_model does not
        pin_model=bool(args.model or args.gateway),
        after_first_frame=[gc.enable] + ([demo.start] if demo is not None else []),
        # What the warm-up imported (the HTTP client, Markdown and highlighting: ~90k objects)
        # lives as long as the process too: frozen, a full pass no longer walks it (a full pass
        # cost 60-70 ms more with it, measured), and the chat log runs one after folding.
        after_warm_up=[gc.freeze],
        **_switchable_profiles(plan, config, args),
    )
    # Everything imported so far lives as long as the process: keep it out of the collector's
    # full passes, which otherwise walk ~100k objects (~130 ms, measured) mid-stream. Fewer,
    # smaller young collections too: the defaults ran one every ~1 s of streaming at 60-250 ms.
    # The collector stays off (main) until the first frame is on screen (after_first_frame).
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
    try:
        app.run()
    finally:
        if app.store is not None:
            app.store.close()
        # What the user must hear of after the screen has gone: changes kept for the next start,
        # a write-ahead log another program changed.
        notes = [app.saved.exit_note, app.store.close_note if app.store is not None else None]
        for note in notes:
            if note:
                print(f"unify-tui: {note}", file=sys.stderr)
    # 0 after a quit, 128 + n after signal n, 1 after a crash (UnifyTUI.panic, _fatal_error).
    return app.return_code or 0


def _open_store_at(args: argparse.Namespace) -> tuple[Store | None, str | None]:
    return open_conversation_store(_database_path(args))


if __name__ == "__main__":
    raise SystemExit(main())
