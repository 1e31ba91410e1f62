"""The LiteLLM proxy as a real third-party gateway in front of the embedded one (the peer stage).

LiteLLM runs in a virtual environment of its own, never the app's: made on the first run under
``${XDG_CACHE_HOME:-~/.cache}/unify-tui/peers/litellm-<version>`` (outside the repository, so a
clean CI checkout reuses it), checked on every run and made again when it is missing or broken.
It is built once the peer tests are collected (``pytest_collection_finish``), so the install
does not count against a test's timeout; a failed install or start fails every peer test with
the reason, it never skips them.

Its one upstream is the embedded gateway (``tui_chat.gateway_sim``) on 127.0.0.1, as
``openai/...`` models with ``api_base`` there. LiteLLM's own phoning home is switched off by its
environment, and the proxy process runs under a socket guard (a ``sitecustomize`` module) that
refuses, and writes down, every connection or name lookup beyond loopback: the suite's guard in
tests/conftest.py covers the pytest process only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import start_sim

LITELLM_VERSION = "1.106.12"
# prisma belongs to LiteLLM's own "extra-proxy" extra; without it LiteLLM's auth error handler
# fails on `import prisma` and answers a request without a key with a bare 500.
REQUIREMENTS = (f"litellm[proxy]=={LITELLM_VERSION}", "prisma>=0.11.0,<1.0")
MASTER_KEY = "sk-unify-peer-master"
UPSTREAM_KEY = "test-key"
# LiteLLM's model_name -> the embedded gateway's plain (/v1) model it relays to.
MODELS = {"gpt-4o-mini": "gpt-4o-mini", "gpt-4o@openai": "gpt-4o"}
INSTALL_TIMEOUT_S = 1200.0
START_TIMEOUT_S = 180.0

HERE = Path(__file__).parent
# Read now, before any test's own HOME and XDG folders are put in place.
_CACHE_HOME = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
PEERS_DIR = _CACHE_HOME / "unify-tui" / "peers"
VENV = PEERS_DIR / f"litellm-{LITELLM_VERSION}"
_COMPLETE = VENV / "unify-tui-complete"  # written last: the requirements it was built with

_prepared: dict[str, Any] = {}  # "problem": why there is no LiteLLM, or "seconds": install time

# The guard run inside the proxy process: nothing but loopback, every attempt written down.
GUARD = textwrap.dedent(
    '''
    """unify-tui peer tests: refuse and record any connection beyond loopback."""
    import ipaddress
    import os
    import socket

    _LOG = os.environ.get("UNIFY_PEER_GUARD_LOG", "")
    _NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


    def _loopback(host):
        if host is None:
            return True
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        host = str(host).strip("[]")
        if host.lower() in _NAMES:
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False


    def _note(what):
        if _LOG:
            with open(_LOG, "a", encoding="utf-8") as log:
                log.write(what + "\\n")


    _connect, _connect_ex, _getaddrinfo = (
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
    )


    def _check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            _note(f"connect {address[0]!r}")
            raise OSError(f"unify-tui peer guard: {address[0]!r} is not loopback")


    def connect(self, address):
        _check(self, address)
        return _connect(self, address)


    def connect_ex(self, address):
        _check(self, address)
        return _connect_ex(self, address)


    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host):
            _note(f"resolve {host!r}")
            raise socket.gaierror(f"unify-tui peer guard: {host!r} is not loopback")
        return _getaddrinfo(host, *args, **kwargs)


    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
    if _LOG:
        open(_LOG + ".active", "w").close()  # the proof that this process is guarded
    '''
)


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _venv_is_sound() -> bool:
    """Built completely with today's requirements, and its Python and packages still load."""
    try:
        if _COMPLETE.read_text(encoding="utf-8") != "\n".join(REQUIREMENTS):
            return False
    except OSError:
        return False
    if not (VENV / "bin" / "litellm").exists():
        return False
    probe = (
        "import importlib.metadata as m, fastapi, uvicorn, yaml, prisma; "
        f"assert m.version('litellm') == {LITELLM_VERSION!r}"
    )
    try:
        result = subprocess.run(
            [str(_venv_python()), "-c", probe], capture_output=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _build_venv() -> None:
    """Make the LiteLLM environment from nothing; raises RuntimeError with pip's own words."""
    shutil.rmtree(VENV, ignore_errors=True)
    log = PEERS_DIR / f"litellm-{LITELLM_VERSION}.install.log"
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [
            str(_venv_python()),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *REQUIREMENTS,
        ],
    ]
    with log.open("w", encoding="utf-8") as out:
        for command in steps:
            out.write("$ " + " ".join(command) + "\n")
            out.flush()
            try:
                result = subprocess.run(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=INSTALL_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                shutil.rmtree(VENV, ignore_errors=True)
                raise RuntimeError(f"{command[2:4]} failed: {error}") from None
            if result.returncode != 0:
                shutil.rmtree(VENV, ignore_errors=True)
                raise RuntimeError(
                    f"`{' '.join(command[2:4])}` exited with {result.returncode}; the last "
                    f"lines of {log}:\n{_tail(log.read_text(encoding='utf-8'))}"
                )
    _COMPLETE.write_text("\n".join(REQUIREMENTS), encoding="utf-8")


def prepare_litellm(say: Any = print) -> None:
    """Make sure the LiteLLM environment is there (one process at a time builds it)."""
    if _prepared:
        return
    try:
        PEERS_DIR.mkdir(parents=True, exist_ok=True)
        with (PEERS_DIR / f"litellm-{LITELLM_VERSION}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if _venv_is_sound():
                _prepared["seconds"] = 0.0
                return
            say(f"peer: installing {' '.join(REQUIREMENTS)} into {VENV} (first run: minutes)")
            started = time.monotonic()
            _build_venv()
            _prepared["seconds"] = time.monotonic() - started
            say(f"peer: LiteLLM installed in {_prepared['seconds']:.0f} s")
    except Exception as error:
        _prepared["problem"] = (
            f"LiteLLM {LITELLM_VERSION} could not be installed into {VENV}: {error}"
        )


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    if not any(
        item.get_closest_marker("peer") and HERE in item.path.parents for item in session.items
    ):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    prepare_litellm(say=reporter.write_line if reporter is not None else print)


@dataclass
class LiteLLMProxy:
    """A running LiteLLM proxy: ``url`` (no path), its master ``key``, its upstream ``sim``."""

    url: str
    key: str
    sim: Any
    log: Path
    guard_log: Path
    version: str = LITELLM_VERSION

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL our gateways are pointed at."""
        return self.url + "/v1"

    @property
    def guarded(self) -> bool:
        """True once the guard was loaded in the proxy process."""
        return Path(str(self.guard_log) + ".active").exists()

    def outside_calls(self) -> list[str]:
        """What the proxy tried to reach beyond loopback (the guard refused each)."""
        if not self.guard_log.exists():
            return []
        return self.guard_log.read_text(encoding="utf-8").splitlines()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(upstream: str) -> str:
    lines = ["model_list:"]
    for name, upstream_model in MODELS.items():
        lines += [
            f'  - model_name: "{name}"',
            "    litellm_params:",
            f'      model: "openai/{upstream_model}"',
            f'      api_base: "{upstream}"',
            f'      api_key: "{UPSTREAM_KEY}"',
        ]
    lines += [
        "litellm_settings:",
        "  telemetry: false",
        "  num_retries: 0",  # a fault upstream reaches the client as it is
        "  request_timeout: 30",
        "router_settings:",
        "  num_retries: 0",
        "  disable_cooldowns: true",  # one upstream 429 must not bench the model for later tests
        "general_settings:",
        f'  master_key: "{MASTER_KEY}"',
    ]
    return "\n".join(lines) + "\n"


def _environment(home: Path, guard_dir: Path, guard_log: Path) -> dict[str, str]:
    """A clean environment: no keys or proxies of the developer's, nothing phoned home."""
    env = {
        "PATH": f"{VENV / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONPATH": str(guard_dir),
        "UNIFY_PEER_GUARD_LOG": str(guard_log),
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "DISABLE_ADMIN_UI": "True",
        "NO_PROXY": "*",
    }
    if "TMPDIR" in os.environ:
        env["TMPDIR"] = os.environ["TMPDIR"]
    return env


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the LiteLLM proxy exited with {process.returncode} before it was ready; the "
                f"last lines of {log}:\n{_tail(log.read_text(encoding='utf-8', errors='replace'))}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(url + "/health/liveliness", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    pytest.fail(
        f"the LiteLLM proxy did not answer /health/liveliness within {START_TIMEOUT_S:.0f} s; "
        f"the last lines of {log}:\n{_tail(log.read_text(encoding='utf-8', errors='replace'))}",
        pytrace=False,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@pytest.fixture(scope="session")
def litellm_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteLLMProxy]:
    """The LiteLLM proxy on a free loopback port, relaying to a fresh embedded gateway."""
    prepare_litellm()  # done at collection already, unless the hook did not run
    if "problem" in _prepared:
        pytest.fail(_prepared["problem"], pytrace=False)
    work = tmp_path_factory.mktemp("litellm")
    guard_dir = work / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    guard_log = work / "outside-calls.log"
    log = work / "proxy.log"
    with start_sim(api_key=UPSTREAM_KEY) as sim:
        config = work / "config.yaml"
        config.write_text(_config(sim.openai_base_url), encoding="utf-8")
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        command = [
            str(VENV / "bin" / "litellm"),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=work,
                env=_environment(work, guard_dir, guard_log),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_ready(process, url, log)
            yield LiteLLMProxy(url=url, key=MASTER_KEY, sim=sim, log=log, guard_log=guard_log)
        finally:
            _stop(process)


@pytest.fixture
def proxy(litellm_proxy: LiteLLMProxy) -> Iterator[LiteLLMProxy]:
    """The session's proxy, its upstream with no faults queued before or after the test."""
    litellm_proxy.sim.clear_faults()
    yield litellm_proxy
    litellm_proxy.sim.clear_faults()
