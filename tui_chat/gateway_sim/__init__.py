"""The embedded gateway: a real HTTP server on loopback that speaks the Unify API.

Used by ``--demo``, by the test suite and by the benchmarks. Stdlib only, no Textual.

    with GatewaySim(api_key="demo-key", credits=50.0, seed=0) as sim:
        client = openai.OpenAI(base_url=sim.base_url, api_key="demo-key")
        ...

What it serves (shapes and error texts as the real API's; more in docs/gateway_sim.md):

* ``POST /v0/chat/completions``: one request object or a JSON array of fallback request objects;
  streamed (``data: <json>`` events, ``usage: {}`` until the last chunk, which carries
  ``finish_reason`` and ``usage = {cost, prompt_tokens, completion_tokens, total_tokens}``, no
  ``[DONE]``, the stream ends at EOF) or not (with ``usage.cost`` and ``openai-processing-ms``).
  ``model`` on every response and chunk is the concrete endpoint that served it.
* ``GET /v0/credits``, ``/v0/models``, ``/v0/providers``, ``/v0/endpoints``,
  ``/v0/endpoint-details``, ``/v0/endpoint-metrics``; ``/v0/get_credits`` is gone (404).
* ``GET /_sim/state``, ``GET /_sim/requests``, ``POST /_sim/control``: the test controls on the
  wire (open on loopback; they need the Bearer key when serving beyond loopback).

Controls (``sim.controls``, a ``SimControls``): ``token_delay_s``, ``ttft_s``, ``reply_tokens``,
``tokens_per_chunk``, ``markdown``, ``framing``, ``close_delimited``, ``omit_stream_content_type``,
``metrics_interval_s``, ``drift``, ``time_offset_s``. Credits: ``sim.credits`` (get/set),
``sim.add_credits(x)``. Faults: ``sim.inject(Fault(kind, ...))``; the kinds are documented in
``tui_chat.gateway_sim.faults``. ``sim.requests`` records every chat request; ``sim.reset()``
clears faults and requests.
"""

from __future__ import annotations

from .catalog import PROVIDERS, Catalog, EndpointMetrics, EndpointSpec
from .faults import Fault, FaultKind
from .replies import compose_reply, tokenize
from .server import GatewaySim
from .state import CONTROL_NAMES, RecordedRequest, SimControls, is_loopback

__all__ = [
    "CONTROL_NAMES",
    "PROVIDERS",
    "Catalog",
    "EndpointMetrics",
    "EndpointSpec",
    "Fault",
    "FaultKind",
    "GatewaySim",
    "RecordedRequest",
    "SimControls",
    "compose_reply",
    "is_loopback",
    "tokenize",
]
