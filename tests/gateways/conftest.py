from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateways.scripted_server import ScriptedServer, serve


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """A loopback HTTP server that answers with the bytes each test scripts."""
    yield from serve()
