"""Suite-wide fixtures and the network guard.

No test may reach anything but loopback: every socket connect and name lookup is checked, and a
test that tries to leave the machine fails with a clear message instead of silently passing or
hanging on a firewall.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class OutsideNetworkCall(AssertionError):
    """Raised when a test tries to reach a host that is not loopback."""


# A shell that starts a job in the background (nohup, `&` without job control) hands it SIGINT
# ignored, and Python then never raises KeyboardInterrupt, in this process or in the child
# processes the Ctrl+C tests start. Ctrl+C at a terminal always arrives; so must it here.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _is_loopback(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _check_address(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise OutsideNetworkCall(
            f"test tried to connect to {address[0]!r}: only loopback is allowed"
        )


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_loopback(host):
        raise OutsideNetworkCall(f"test tried to resolve {host!r}: only loopback is allowed")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Keep tests away from the developer's real keys, config and data."""
    for name in ("UNIFY_KEY", "UNIFY_BASE_URL", "OPENROUTER_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))


@contextmanager
def start_sim(
    *, api_key: str = "test-key", credits: float = 50.0, seed: int = 0, **options: Any
) -> Iterator[Any]:
    """A fresh embedded gateway on an ephemeral loopback port, fast enough for tests.

    Replies come at once (no time to first token, no delay between tokens); ``options`` go to
    ``GatewaySim`` as they are (``clock=...``). The gateway stops when the block ends.
    """
    from tui_chat.gateway_sim import GatewaySim

    with GatewaySim(api_key=api_key, credits=credits, seed=seed, **options) as gateway:
        gateway.controls.token_delay_s = 0.0
        gateway.controls.ttft_s = 0.0
        yield gateway


@pytest.fixture
def sim() -> Iterator[Any]:
    """A fresh embedded gateway that accepts ``test-key`` (see ``start_sim``)."""
    with start_sim() as gateway:
        yield gateway
