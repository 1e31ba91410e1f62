"""Stream framing (the ``framing`` control) and the ``truncate`` fault, read byte by byte.

A close-delimited stream has neither ``Content-Length`` nor chunked encoding: its body ends
when the server closes the socket. A ``truncate`` fault ends the reply cleanly in whatever
framing is in use, with no finish reason and no usage, so only that absence tells it was cut.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.gateway_sim.conftest import AUTH, KEY, chat_body, post_chat
from tui_chat.gateway_sim import Fault, GatewaySim
from tui_chat.gateway_sim.__main__ import build_parser

# dialect: (path prefix, a model it serves)
DIALECTS = {
    "unify": ("/v0", "llama-3.1-8b-chat@groq"),
    "openrouter": ("/api/v1", "meta-llama/llama-3.1-8b-instruct"),
    "openai": ("/v1", "llama-3.1-8b-chat"),
}
FRAMINGS = ["chunked", "close", "http/1.0"]
ANSWER = "Hello! How can I help you today?"  # the reply to "hello"
CLOSE = "Connection: close\r\n"
FIRST_FIVE = ["Hello", "!", " How", " can", " I"]  # its first five tokens


@dataclass
class RawResponse:
    status_line: str
    headers: dict[str, str]  # lower-case names; a repeated header would fail the test
    wire_body: bytes  # as sent, framing included
    closed_cleanly: bool  # the server closed the socket (EOF), not reset it

    @property
    def body(self) -> bytes:
        """The body with chunked encoding undone; asserts the chunks are well formed and that
        the terminating 0-chunk is there."""
        if self.headers.get("transfer-encoding") != "chunked":
            return self.wire_body
        rest, body = self.wire_body, b""
        while True:
            size_line, sep, rest = rest.partition(b"\r\n")
            assert sep, f"chunk size line not terminated: {size_line[:40]!r}"
            size = int(size_line, 16)
            if size == 0:
                assert rest == b"\r\n", f"bytes after the 0-chunk: {rest[:80]!r}"
                return body
            body, rest = body + rest[:size], rest[size:]
            assert rest.startswith(b"\r\n"), "chunk data not followed by CRLF"
            rest = rest[2:]

    @property
    def events(self) -> list[str]:
        """The data of each SSE event (comments such as OpenRouter's preamble left out)."""
        text = self.body.decode()
        assert text.endswith("\n\n"), f"the body ends inside an event: {text[-80:]!r}"
        out = []
        for piece in text.split("\n\n")[:-1]:
            if piece.startswith(":"):
                continue
            assert piece.startswith("data: "), piece[:80]
            out.append(piece.removeprefix("data: "))
        return out


def raw_chat(
    sim: GatewaySim, dialect: str, body: dict[str, Any], *, keep_alive: bool = True
) -> RawResponse:
    """POST a chat request on a fresh socket and read until the server closes the connection.
    HTTP/1.1 keeps it open unless the response says otherwise: a test whose response does not
    end by closing asks for ``Connection: close`` (``keep_alive=False``)."""
    prefix, _ = DIALECTS[dialect]
    payload = json.dumps(body).encode()
    request = (
        f"POST {prefix}/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{sim.port}\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n{'' if keep_alive else CLOSE}\r\n"
    ).encode() + payload
    received = b""
    closed_cleanly = False
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as connection:
        connection.sendall(request)
        try:
            while piece := connection.recv(65536):
                received += piece
            closed_cleanly = True
        except ConnectionResetError:
            pass
    head, sep, wire_body = received.partition(b"\r\n\r\n")
    assert sep, f"no end of headers in {received[:200]!r}"
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"repeated header {name}"
        headers[name.lower()] = value.strip()
    return RawResponse(status_line, headers, wire_body, closed_cleanly)


def hello(dialect: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": DIALECTS[dialect][1],
        "messages": [{"role": "user", "content": "hello"}],
        "stream": True,
        **extra,
    }


def content(events: list[str]) -> list[str]:
    """The content of each chunk that has a choice ([DONE] and usage-only chunks left out)."""
    pieces = []
    for data in events:
        if data == "[DONE]":
            continue
        choices = json.loads(data)["choices"]
        if choices:
            pieces.append(choices[0]["delta"].get("content") or "")
    return pieces


@pytest.fixture
def quick(sim: GatewaySim) -> GatewaySim:
    sim.controls.token_delay_s = 0.0
    sim.controls.ttft_s = 0.0
    return sim


# -- framing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", list(DIALECTS))
@pytest.mark.parametrize("framing", ["close", "http/1.0"])
def test_a_close_delimited_stream_has_no_length_and_ends_at_close(
    quick: GatewaySim, framing: str, dialect: str
) -> None:
    quick.controls.framing = framing
    response = raw_chat(quick, dialect, hello(dialect))
    if framing == "close":
        assert response.status_line == "HTTP/1.1 200 OK"
        assert response.headers["connection"] == "close"
    else:
        assert response.status_line == "HTTP/1.0 200 OK"
        assert "connection" not in response.headers  # HTTP/1.0 closes anyway
    assert "transfer-encoding" not in response.headers
    assert "content-length" not in response.headers
    assert response.headers["content-type"] == "text/event-stream"
    assert response.closed_cleanly
    # the body is the events and nothing else, up to the close
    assert b"0\r\n\r\n" not in response.wire_body
    assert "".join(content(response.events)) == ANSWER
    finishes = [
        json.loads(data)["choices"][0]["finish_reason"]
        for data in response.events
        if data != "[DONE]" and json.loads(data)["choices"]
    ]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert (response.events[-1] == "[DONE]") is (dialect != "unify")


def test_chunked_is_the_default_framing(quick: GatewaySim) -> None:
    assert quick.controls.framing == "chunked"
    response = post_chat(quick, chat_body("hello", stream=True), stream=True)
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in response.headers
    assert response.raw.version == 11 and response.headers.get("Connection") != "close"
    response.close()


def test_close_delimited_is_the_older_name_for_close(quick: GatewaySim) -> None:
    quick.controls.close_delimited = True
    assert quick.controls.stream_framing == "close"
    response = raw_chat(quick, "unify", hello("unify"))
    assert response.headers["connection"] == "close"
    assert "transfer-encoding" not in response.headers
    assert "".join(content(response.events)) == ANSWER


def test_a_whole_reply_keeps_content_length_in_close_framing(quick: GatewaySim) -> None:
    quick.controls.framing = "close"
    response = raw_chat(quick, "unify", hello("unify", stream=False), keep_alive=False)
    assert int(response.headers["content-length"]) == len(response.wire_body)
    assert json.loads(response.wire_body)["choices"][0]["message"]["content"] == ANSWER


def test_framing_is_a_wire_control(quick: GatewaySim) -> None:
    url = f"{quick.url}/_sim/control"
    answer = requests.post(url, json={"framing": "http/1.0"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["controls"]["framing"] == "http/1.0"
    assert quick.controls.framing == "http/1.0"
    refused = requests.post(url, json={"framing": "gzip", "markdown": True}, timeout=10)
    assert refused.status_code == 400
    assert "framing must be one of" in refused.text
    assert quick.controls.framing == "http/1.0" and quick.controls.markdown is False


# -- the truncate fault ----------------------------------------------------------------------


@pytest.mark.parametrize("done", [False, True], ids=["no-done", "done"])
@pytest.mark.parametrize("dialect", list(DIALECTS))
@pytest.mark.parametrize("framing", FRAMINGS)
def test_truncate_ends_cleanly_without_finish_reason_or_usage(
    quick: GatewaySim, framing: str, dialect: str, done: bool
) -> None:
    quick.controls.framing = framing
    quick.inject(Fault("truncate", after_tokens=5, done=done))
    response = raw_chat(quick, dialect, hello(dialect, stream_options={"include_usage": True}))
    assert response.status_line.endswith(" 200 OK")
    assert response.closed_cleanly  # the server closed it; nothing was reset
    if framing == "chunked":
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.wire_body.endswith(b"\r\n0\r\n\r\n")  # the terminator is there
    else:
        assert "transfer-encoding" not in response.headers
        assert "content-length" not in response.headers
    events = response.events  # (through .body, which checks the chunking)
    assert content(events) == FIRST_FIVE
    chunks = [json.loads(data) for data in events if data != "[DONE]"]
    assert len(chunks) == 5
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in chunks)
    assert all(not chunk.get("usage") for chunk in chunks)  # Unify's {} or OpenAI's null
    if done:
        assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
    else:
        assert "[DONE]" not in events
        assert json.loads(events[-1])["choices"][0]["delta"]["content"] == " I"


@pytest.mark.parametrize("framing", FRAMINGS)
def test_truncate_at_zero_sends_no_message(quick: GatewaySim, framing: str) -> None:
    quick.controls.framing = framing
    quick.inject(Fault("truncate"))
    response = raw_chat(quick, "unify", hello("unify"))
    assert response.closed_cleanly
    assert response.body == b""


def test_truncate_past_the_end_withholds_only_the_final_chunk(quick: GatewaySim) -> None:
    quick.inject(Fault("truncate", after_tokens=10_000))
    response = raw_chat(quick, "unify", hello("unify"))
    pieces = content(response.events)
    assert "".join(pieces) == ANSWER.removesuffix("?")  # all but the last token
    assert all(json.loads(data)["choices"][0]["finish_reason"] is None for data in response.events)


def test_truncate_lasts_one_attempt_and_bills_what_was_sent(quick: GatewaySim) -> None:
    full = raw_chat(quick, "unify", hello("unify"), keep_alive=False)
    full_cost = json.loads(full.events[-1])["usage"]["cost"]
    spent = quick.spent
    quick.inject(Fault("truncate", after_tokens=3))
    raw_chat(quick, "unify", hello("unify"))
    truncated_cost = quick.spent - spent
    assert 0 < truncated_cost < full_cost
    again = raw_chat(quick, "unify", hello("unify"), keep_alive=False)
    assert "".join(content(again.events)) == ANSWER  # the fault was consumed


def test_truncate_not_streamed_has_no_finish_reason_and_no_usage(quick: GatewaySim) -> None:
    quick.inject(Fault("truncate", after_tokens=5))
    response = post_chat(quick, chat_body("hello"))
    assert response.status_code == 200
    reply = response.json()
    assert reply["choices"][0]["message"]["content"] == "Hello! How can I"
    assert reply["choices"][0]["finish_reason"] is None
    assert "usage" not in reply


def test_truncate_is_a_wire_fault_and_done_must_be_a_bool(quick: GatewaySim) -> None:
    url = f"{quick.url}/_sim/control"
    fault = {"kind": "truncate", "after_tokens": 2, "done": True}
    answer = requests.post(url, json={"fault": fault}, timeout=10, headers=AUTH)
    assert answer.status_code == 200
    assert answer.json()["pending_faults"][0] | fault == answer.json()["pending_faults"][0]
    bad = requests.post(url, json={"fault": {"kind": "truncate", "done": "yes"}}, timeout=10)
    assert bad.status_code == 400 and "done must be true or false" in bad.text
    with pytest.raises(ValueError, match="done must be true or false"):
        Fault("truncate", done=1)  # type: ignore[arg-type]


def test_standalone_server_takes_framing_and_faults() -> None:
    args = build_parser().parse_args(
        ["--framing", "close", "--fault", '{"kind": "truncate", "after_tokens": 5, "times": null}']
    )
    assert args.framing == "close"
    assert args.fault == [Fault("truncate", after_tokens=5, times=None)]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--fault", '{"kind": "truncate", "done": "yes"}'])
