"""The ``--demo`` gateway: its address is known at once, it starts serving when asked.

Importing and building the embedded gateway (``tui_chat.gateway_sim``) takes ~50-90 ms, which the
full-screen app's first frame should not wait for. ``DemoGateway`` binds a loopback socket and
listens straight away (about a millisecond), so the app can be built with the gateway's URL; the
sim itself is imported and started later (the app does it after its first frame). A request made
before then is not refused: the kernel holds the connection in the socket's backlog until the sim
accepts it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by start(), after the app's first frame
    from tui_chat.gateway_sim import GatewaySim

DEMO_KEY = "demo-key"
DEMO_CREDITS = 25.0
#: The sim's controls for --demo. Paced like a quick hosted model, so streaming, stop and pause
#: can be seen; speeds re-measured every 3 s in smooth load waves ("waves" drift), so the default
#: ``...@highest-tks-per-sec`` moves from provider to provider within a few replies as their
#: speeds cross (prices hold still, so ``@lowest-cost`` stays put).
DEMO_CONTROLS: Mapping[str, object] = {
    "token_delay_s": 0.012,
    "ttft_s": 0.25,
    "drift": "waves",
    "metrics_interval_s": 3.0,
    # Bill 5 % over each reply's reported cost, as Unify's markup over the providers' raw cost
    # it streams: the provenance line and the session's reconciliation show "billed" beside it.
    "markup": 0.05,
}
_HOST = "127.0.0.1"
_BACKLOG = 128


class DemoGateway:
    """The embedded gateway for ``--demo``: ``base_url`` now, ``start()`` when it suits."""

    def __init__(self) -> None:
        self._listener: socket.socket | None = socket.create_server((_HOST, 0), backlog=_BACKLOG)
        port = self._listener.getsockname()[1]
        self.url = f"http://{_HOST}:{port}"
        self.base_url = f"{self.url}/v0"
        self._sim: GatewaySim | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._sim is not None

    def start(self) -> None:
        """Import the sim and serve on the socket (once; safe to call from any thread)."""
        with self._lock:
            if self._sim is not None or self._listener is None:
                return
            from tui_chat.gateway_sim import GatewaySim

            sim = GatewaySim(api_key=DEMO_KEY, credits=DEMO_CREDITS, listener=self._listener)
            sim.controls.update(DEMO_CONTROLS)
            self._sim = sim.start()

    def stop(self) -> None:
        """Stop serving, or close the socket if the sim never started. Idempotent."""
        with self._lock:
            sim, listener = self._sim, self._listener
            self._listener = None
        if sim is not None:
            sim.stop()  # closes the listener too
        elif listener is not None:
            listener.close()
