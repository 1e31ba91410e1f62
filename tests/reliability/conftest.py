"""Fixtures for the reliability tests: the app helpers and the byte-scripted server, reused."""

from __future__ import annotations

from tests.app.conftest import make_app
from tests.gateways.conftest import scripted

__all__ = ["make_app", "scripted"]
