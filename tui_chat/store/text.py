"""Keeping text exactly as given, except what UTF-8 cannot hold."""

from __future__ import annotations

import re

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """``text`` unchanged, unless it holds lone surrogates (UTF-8 cannot encode them).

    JSON from a server may decode to a lone surrogate (``"\\ud800"``); each becomes U+FFFD rather
    than failing a write. Every other character, controls and NUL included, is kept as given.
    """
    if _LONE_SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
