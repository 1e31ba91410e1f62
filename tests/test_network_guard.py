"""The guard in conftest must stop any test from reaching beyond loopback."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import OutsideNetworkCall


def test_outside_address_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        with pytest.raises(OutsideNetworkCall):
            sock.connect(("93.184.216.34", 80))


def test_outside_name_lookup_is_refused() -> None:
    with pytest.raises(OutsideNetworkCall):
        socket.getaddrinfo("api.unify.ai", 443)


def test_loopback_is_allowed() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
    finally:
        server.close()
