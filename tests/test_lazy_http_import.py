"""No HTTP stack is imported at start-up: ``requests`` and the openai SDK load on first use.

Importing the gateways (what ``tui_chat.connection`` pulls in before the app's first frame) and
building every kind's gateway and account client must not import ``requests``, ``urllib3``,
``openai`` or ``httpx``: together they cost ~0.6 s. ``warm_up()``, which the app runs in a
thread after its first frame, imports them; an account client's first call imports ``requests``
itself, and its failures still become ``ConnectionFailed``.

Each check runs in a fresh interpreter (this one has long imported everything). Nothing leaves
loopback: the addresses are a closed port and a listening socket that never answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HTTP_MODULES = ("requests", "urllib3", "openai", "httpx", "httpx2", "charset_normalizer")


def run_fresh(code: str) -> None:
    """Run ``code`` in a new interpreter at the repository root; fail with its output."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("UNIFY_")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


CHECK_NONE_LOADED = (
    f"loaded = sorted(m for m in {HTTP_MODULES!r} if m in sys.modules)\n"
    "assert not loaded, f'imported at start-up: {loaded}'\n"
)


def test_importing_and_building_the_gateways_loads_no_http_stack() -> None:
    run_fresh(
        "import importlib, pkgutil, sys\n"
        "import tui_chat.connection\n"
        "import tui_chat.gateways\n"
        "from tui_chat.gateways.config import GatewaySettings\n"
        "from tui_chat.gateways.factory import KINDS, build_gateway\n"
        "for info in pkgutil.iter_modules(tui_chat.gateways.__path__):\n"
        "    importlib.import_module(f'tui_chat.gateways.{info.name}')\n"
        "settings = GatewaySettings(base_url='http://127.0.0.1:9/v0', api_key='k')\n"
        "for kind in KINDS:\n"
        "    gateway, account = build_gateway(kind, settings)\n"
        "    account.close()\n" + CHECK_NONE_LOADED
    )


def test_warm_up_imports_requests_and_the_openai_sdk() -> None:
    run_fresh(
        "import sys\n"
        "from tui_chat.gateways.http_stacks import warm_up\n"
        "assert 'requests' not in sys.modules\n"
        "warm_up()\n"
        "for name in ('requests', 'urllib3', 'openai'):\n"
        "    assert name in sys.modules, f'{name} was not imported by warm_up()'\n"
    )


def test_first_account_call_imports_requests_and_maps_its_failures() -> None:
    # Both of _get()'s `except requests...` clauses, on the call that imports requests.
    run_fresh(
        "import socket, sys\n"
        "from tui_chat.gateways.config import GatewaySettings\n"
        "from tui_chat.gateways.errors import ConnectionFailed\n"
        "from tui_chat.gateways.unify import UnifyAccount\n"
        "closed = socket.socket()\n"
        "closed.bind(('127.0.0.1', 0))\n"
        "refused_port = closed.getsockname()[1]\n"
        "closed.close()\n"
        "silent = socket.socket()\n"
        "silent.bind(('127.0.0.1', 0))\n"
        "silent.listen(1)  # accepts the connection, never answers\n"
        "silent_port = silent.getsockname()[1]\n"
        "def failure(port):\n"
        "    settings = GatewaySettings(\n"
        "        base_url=f'http://127.0.0.1:{port}/v0', api_key='k', timeout=0.3\n"
        "    )\n"
        "    account = UnifyAccount(settings)\n"
        "    try:\n"
        "        account.credits()\n"
        "    except ConnectionFailed as error:\n"
        "        return str(error)\n"
        "    finally:\n"
        "        account.close()\n"
        "    raise AssertionError('no ConnectionFailed')\n"
        "assert 'requests' not in sys.modules\n"
        "refused = failure(refused_port)\n"
        "assert 'requests' in sys.modules\n"
        "assert 'did not answer' in refused, refused\n"
        "silence = failure(silent_port)\n"
        "assert 'no answer from' in silence, silence\n"
        "silent.close()\n"
    )
