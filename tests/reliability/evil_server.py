"""A loopback gateway whose every server-supplied string is hostile.

It speaks just enough of the Unify API (credits, models, providers, endpoint details, streamed
chat) for the app to run against it through the real clients, and every name, reply and error
detail it sends carries Rich markup, raw ANSI colour codes, an OSC 52 clipboard write and an OSC 0
window-title change. The tests then check that all of it shows as literal, inert text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from tests.loopback import LoopbackServer, running

# Each piece would do something in a terminal or to Rich/Textual markup if passed through.
MARKUP = "[bold red]PWNED[/]"
CLOSER = "[/]"
ANSI = "\x1b[31mRED\x1b[0m"
OSC52 = "\x1b]52;c;ZXZpbA==\x07"  # clipboard write of "evil"
OSC0 = "\x1b]0;HACKED TITLE\x07"  # window title change
C1_CSI = "\x9b31m"
EVIL = f"{MARKUP} {CLOSER} {ANSI} {OSC52} {OSC0} {C1_CSI} end"

EVIL_MODEL = f"evil{MARKUP}{ANSI}"
EVIL_PROVIDER = f"prov{CLOSER}{OSC52}"
EVIL_SERVED = f"served{MARKUP}{OSC0}@evil{ANSI}"
UNUSUAL_MODEL = "全角モデル-🙂👨‍👩‍👧-\u202eledom-שלום"  # wide, emoji, ZWJ, RTL override, Hebrew
# The bytes that must never reach the terminal: escape, bell, C1 CSI/OSC.
FORBIDDEN = ("\x1b]", "\x07", "\x9b", "\x9d", "\x1b[31mRED")


@dataclass
class EvilGateway(LoopbackServer):
    reply: str = EVIL
    fail_with: str | None = None  # an error detail: answer chat with HTTP 400 and this
    chats: list[Any] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.address[1]}/v0"

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, status: int, value: Any) -> None:
                body = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = urlparse(self.path).path.rsplit("/", 1)[-1]
                if path == "credits":
                    self._json(200, {"credits": 12.5})
                elif path == "models":
                    self._json(200, [EVIL_MODEL, "llama-3.1-8b-chat", UNUSUAL_MODEL])
                elif path == "providers":
                    self._json(200, [EVIL_PROVIDER, "groq"])
                elif path == "endpoint-details":
                    self._json(200, {"input_cost": 1.0, "output_cost": 2.0, "context_window": 8})
                else:
                    self._json(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                owner.chats.append(json.loads(self.rfile.read(length)))
                if owner.fail_with is not None:
                    self._json(400, {"detail": owner.fail_with})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = owner.reply.split(" ")
                for index, word in enumerate(words):
                    text = word if index == len(words) - 1 else word + " "
                    self._event({"model": EVIL_SERVED, "choices": [{"delta": {"content": text}}]})
                self._event(
                    {
                        "model": EVIL_SERVED,
                        "choices": [{"delta": {}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 9, "cost": 0.0001},
                    }
                )
                self.close_connection = True

            def _event(self, chunk: dict[str, Any]) -> None:
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

        return ThreadingHTTPServer(address, Handler)


def serve() -> Iterator[EvilGateway]:
    yield from running(EvilGateway())
