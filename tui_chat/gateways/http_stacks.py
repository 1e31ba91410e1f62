"""When the HTTP stacks load: on first use, or in ``warm_up()`` after the app's first frame.

Neither the openai SDK (~0.5 s, with httpx) nor ``requests`` (with urllib3, charset_normalizer
and certifi, ~60-100 ms) is imported by any module of this package at import time; the app runs
``warm_up()`` in a thread after its first frame, so neither start-up nor the first message pays
for them.
"""

from __future__ import annotations


def warm_up() -> None:
    """Import the openai SDK and its HTTP stack now and build a throwaway client (the SDK
    imports more on first construction), and import ``requests`` for the account client.
    Importing them costs ~0.6 s, so the module does it on first use instead of at start-up; the
    app calls this from a thread after its first frame, so the first message does not wait for
    it either."""
    import httpx2
    import requests  # noqa: F401  (the account client's first call then finds it loaded)
    from openai import AsyncOpenAI

    client = AsyncOpenAI(
        api_key="warm-up", base_url="http://127.0.0.1:9/", timeout=httpx2.Timeout(1.0)
    )
    # The SDK imports its resource modules on first attribute access (~30 ms): do it here.
    _ = client.chat.completions.with_streaming_response
