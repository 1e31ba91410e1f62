"""A reply the server stops sending is a cut reply, whatever the transport (issue 14).

The embedded gateway's ``truncate`` fault ends the response cleanly after a few tokens, with no
finish reason and no usage, with or without ``data: [DONE]``, over chunked encoding or a
close-delimited body (the ``framing`` control). At the transport nothing went wrong, so only
the missing finish reason tells; each of our three gateway clients must end such a stream in
``StreamError(StreamInterrupted)`` after the text that arrived, never in ``Done``. A normal
close-delimited reply, which ends the same way at the transport, must still end in ``Done``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.faults import MID, SLOW_MACHINE_TIMEOUT_S
from tests.reliability.test_gateway_faults import assert_well_formed, collect, text_of
from tui_chat.core.events import Done, StreamError, StreamEvent, TextDelta
from tui_chat.gateway_sim import Fault
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import StreamInterrupted
from tui_chat.gateways.factory import build_gateway

KINDS = {
    # kind: (base URL of the sim's dialect, a model that dialect serves)
    "unify": ("base_url", "llama-3.1-8b-chat@groq"),
    "openrouter": ("openrouter_base_url", "meta-llama/llama-3.1-8b-instruct"),
    "openai-compatible": ("openai_base_url", "llama-3.1-8b-chat"),
}
FRAMINGS = ["chunked", "close", "http/1.0"]
PARTIAL = "Hello! How can I"  # the first MID tokens of the reply to "hello"
ANSWER = "Hello! How can I help you today?"


async def reply(sim: Any, kind: str) -> list[StreamEvent]:
    url_attribute, model = KINDS[kind]
    settings = GatewaySettings(
        base_url=getattr(sim, url_attribute), api_key="test-key", timeout=SLOW_MACHINE_TIMEOUT_S
    )
    gateway, account = build_gateway(kind, settings)
    try:
        return await collect(gateway, model)
    finally:
        account.close()


@pytest.mark.parametrize("done", [False, True], ids=["no-done", "done"])
@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_truncated_reply_ends_in_stream_interrupted(
    sim: Any, kind: str, framing: str, done: bool
) -> None:
    sim.controls.framing = framing
    sim.inject(Fault("truncate", after_tokens=MID, done=done))
    events = await reply(sim, kind)
    assert_well_formed(events)
    assert not any(isinstance(event, Done) for event in events)
    last = events[-1]
    assert isinstance(last, StreamError)
    assert type(last.error) is StreamInterrupted, repr(last.error)
    assert "without a finish reason" in last.error.detail
    assert f"after {len(PARTIAL)} characters" in last.error.detail
    # the partial text came first, whole, and the error after it
    assert text_of(events) == PARTIAL
    deltas = [i for i, event in enumerate(events) if isinstance(event, TextDelta)]
    assert deltas and deltas[-1] < len(events) - 1
    # asked once: a reply whose text has arrived is not retried (it would be charged twice)
    assert len(sim.requests) == 1


@pytest.mark.parametrize("framing", ["close", "http/1.0"])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_whole_close_delimited_reply_ends_in_done(
    sim: Any, kind: str, framing: str
) -> None:
    sim.controls.framing = framing
    events = await reply(sim, kind)
    assert_well_formed(events)
    assert text_of(events) == ANSWER
    done = events[-1]
    assert isinstance(done, Done) and done.finish_reason == "stop"


@pytest.mark.parametrize("framing", ["close", "http/1.0"])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_dropped_close_delimited_reply_ends_in_stream_interrupted(
    sim: Any, kind: str, framing: str
) -> None:
    # Without chunked encoding a dropped connection looks like the end of the body: again only
    # the missing finish reason tells.
    sim.controls.framing = framing
    sim.inject(Fault("drop", after_tokens=MID))
    events = await reply(sim, kind)
    assert_well_formed(events)
    last = events[-1]
    assert isinstance(last, StreamError)
    assert type(last.error) is StreamInterrupted, repr(last.error)
    assert text_of(events) == PARTIAL
