"""The raw ``openai`` client on the same stream as the app (bench_outside.py's baseline).

Run: python benchmarks/_raw_client.py BASE_URL MODEL. It imports the SDK, builds its async client
and prints ``ready``; then, for each line read from stdin (any text; end of input stops it), it
streams one chat completion, reads every chunk (the SDK parses each into its model classes, as a
program using it would) and prints one JSON line: ``started_at`` (just before ``create()``),
``first_text_at``, ``last_chunk_at`` (the stream has ended: ``[DONE]`` was read), ``chunks`` and
``characters``; times are ``time.monotonic()`` seconds, the clock the benchmark and the wire
relay share.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from openai import AsyncOpenAI


async def _stream(client: AsyncOpenAI, model: str) -> dict[str, object]:
    started_at = time.monotonic()
    stream = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    first_text_at: float | None = None
    chunks = characters = 0
    async for chunk in stream:
        chunks += 1
        for choice in chunk.choices:
            text = choice.delta.content
            if text and first_text_at is None:
                first_text_at = time.monotonic()
            characters += len(text or "")
    last_chunk_at = time.monotonic()  # the stream has ended: [DONE] was read
    return {
        "started_at": started_at,
        "first_text_at": first_text_at,
        "last_chunk_at": last_chunk_at,
        "chunks": chunks,
        "characters": characters,
    }


async def _main(base_url: str, model: str) -> None:
    client = AsyncOpenAI(api_key="no-key", base_url=base_url, max_retries=0)
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    while await loop.run_in_executor(None, sys.stdin.readline):
        print(json.dumps(await _stream(client, model)), flush=True)
    await client.close()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2]))
