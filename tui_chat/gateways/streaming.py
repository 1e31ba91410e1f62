"""The streaming half every gateway kind shares: one chat request in, typed events out.

``StreamingGateway.stream_chat()`` turns one chat request into typed events (core.events). It
copes with what gateways actually send. Unify sends no ``data: [DONE]`` (the stream just ends),
``usage: {}`` on every chunk but the last, and ``model`` rewritten on every chunk to the endpoint
that is serving; plain OpenAI-compatible servers send a final chunk with ``choices: []`` carrying
usage, then ``[DONE]``. The request goes through the SDK's async client
(``with_streaming_response``); the event stream is read here as raw JSON objects, so a half-filled
``usage`` never trips a model class, and a stream cut in the middle of a message is noticed.
Every failure becomes one ``StreamError`` event; the generator never raises for a gateway
failure. Cancellation is not a failure: ``asyncio.CancelledError`` propagates and the HTTP
response is closed on the way out.

Subclasses (one per gateway kind) say what to send for an endpoint string. The openai SDK is not
imported with this module (see ``tui_chat.gateways.http_stacks``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # imported on first use, never at start-up
    import httpx2
    import openai
    from openai import AsyncOpenAI

from tui_chat.core.events import Done, ServedEndpoint, StreamError, StreamEvent, TextDelta, Usage
from tui_chat.core.text import valid_text
from tui_chat.gateways.base import UNIFY_CAPABILITIES, Capabilities
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import (
    ConfigurationError,
    ConnectionFailed,
    GatewayError,
    MalformedResponse,
    NoAnswer,
    StreamInterrupted,
    cause_text,
    detail_from_body,
    from_error_object,
    from_response,
)
from tui_chat.gateways.json_values import as_cost, as_token_count
from tui_chat.gateways.sse import SSEParser

log = logging.getLogger(__name__)

# How long an idle connection is kept for the next message, in seconds (httpx keeps it 5 s).
KEEPALIVE_S = 60.0


class _Malformed(Exception):
    """Internal: the stream broke the API's promises; becomes MalformedResponse."""


@dataclass(frozen=True)
class ChatRequest:
    """What one gateway kind sends for an endpoint string: the ``model`` and extra body fields."""

    model: str
    extra_body: Mapping[str, Any] | None = None


class StreamingGateway:
    """Streams chat replies from an OpenAI-style ``/chat/completions`` (async).

    The shared machinery of every gateway kind; subclasses say what to send for an endpoint
    string (``chat_request``), which headers identify the app (``client_headers``) and how to
    finish an event (``adjust``). Create it anywhere; the HTTP client is made on first use and
    belongs to the event loop that first uses it, so use one gateway per event loop. Call
    ``aclose()`` when done.
    """

    CAPABILITIES: Capabilities = UNIFY_CAPABILITIES

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._client: AsyncOpenAI | None = None
        self._http: httpx2.AsyncClient | None = None

    @property
    def capabilities(self) -> Capabilities:
        """What this gateway kind offers (cost, balance, providers, routing, listings)."""
        return self.CAPABILITIES

    def client_headers(self) -> dict[str, str] | None:
        """Extra headers on every request (OpenRouter's attribution); None for none."""
        return None

    async def chat_request(self, endpoint: str) -> ChatRequest:
        """What to send for ``endpoint``; raises a ``GatewayError`` when it cannot be sent."""
        return ChatRequest(model=endpoint)

    def adjust(self, event: StreamEvent, request: ChatRequest) -> StreamEvent:
        """The event as the app should see it (e.g. a cost estimate added to ``Usage``)."""
        return event

    def _openai(self) -> AsyncOpenAI:
        if self._client is None:
            self.settings.require_key()
            import httpx2
            from openai import AsyncOpenAI, DefaultAsyncHttpxClient

            timeout = httpx2.Timeout(self.settings.timeout, connect=self.settings.connect_timeout)
            # Our own HTTP client (the SDK's defaults), so that prepare() can open a connection
            # on it; idle connections are kept longer than httpx's 5 s, for a user who types.
            self._http = DefaultAsyncHttpxClient(
                timeout=timeout,
                limits=httpx2.Limits(
                    max_connections=100,
                    max_keepalive_connections=20,
                    keepalive_expiry=KEEPALIVE_S,
                ),
            )
            self._client = AsyncOpenAI(
                api_key=self.settings.api_key.get_secret_value(),
                base_url=self.settings.base_url + "/",
                max_retries=0,  # retrying is a decision for the caller, not the transport
                timeout=timeout,
                default_headers=self.client_headers(),
                http_client=self._http,
            )
        return self._client

    async def prepare(self) -> None:
        """Build the HTTP client and open a connection to the gateway now, before a message is
        sent, so the first message waits for neither (building the SDK client takes tens of ms;
        a connection one to three round trips, with TLS). It sends ``HEAD <base_url>/models``
        without the key and ignores the answer; a failure is ignored too (the next message
        connects by itself). Never raises."""
        try:
            self._openai()
            assert self._http is not None
            await self._http.head(
                self.settings.base_url + "/models", timeout=self.settings.connect_timeout
            )
        except Exception as exc:  # a warm-up: whatever happens, the message will connect itself
            log.debug("preparing the connection failed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        client, self._client = self._client, None
        self._http = None
        if client is not None:
            await client.close()

    async def stream_chat(
        self,
        endpoint: str,
        messages: list[dict[str, str]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Send ``messages`` to ``endpoint`` and yield the reply as events.

        Order: ``ServedEndpoint`` (when first seen or changed), ``TextDelta``..., at most one
        ``Usage``, then ``Done`` or ``StreamError`` last. Use ``contextlib.aclosing`` so that
        stopping early closes the response at once.
        """
        import openai

        started = self._clock()
        reply = _ReplyReader(started, self._clock)
        response_opened = False
        try:
            chat = await self.chat_request(endpoint)
            request = self._openai().chat.completions.with_streaming_response.create(
                model=chat.model,
                messages=cast(Any, messages),
                stream=True,
                stream_options={"include_usage": True},
                temperature=openai.omit if temperature is None else temperature,
                max_tokens=openai.omit if max_tokens is None else max_tokens,
                extra_body=dict(chat.extra_body) if chat.extra_body else None,
            )
            async with request as response:
                response_opened = True
                async for event in reply.read(response.http_response):
                    yield self.adjust(event, chat)
        except Exception as exc:  # CancelledError is a BaseException and passes through
            if response_opened:
                yield StreamError(self._error_mid_reply(exc, reply))
            else:
                yield StreamError(self._error_before_reply(exc))

    def _error_before_reply(self, exc: Exception) -> GatewayError:
        import httpx2
        import openai

        if isinstance(exc, GatewayError):
            return exc
        if isinstance(exc, openai.APIStatusError):
            return from_response(exc.status_code, _response_text(exc), exc.response.headers)
        if isinstance(exc, openai.APITimeoutError):
            if isinstance(exc.__cause__, httpx2.ConnectTimeout):
                return ConnectionFailed(
                    f"{self.settings.base_url} did not take the connection within "
                    f"{self.settings.connect_timeout:g} s"
                )
            return NoAnswer(
                f"no answer from {self.settings.base_url} within {self.settings.timeout:g} s"
            )
        if isinstance(exc, openai.APIConnectionError):
            return ConnectionFailed(f"{self.settings.base_url} did not answer ({cause_text(exc)})")
        if isinstance(exc, httpx2.HTTPError):
            return ConnectionFailed(f"{self.settings.base_url} did not answer ({exc})")
        if isinstance(exc, openai.OpenAIError):
            return ConfigurationError(str(exc))
        log.exception("unexpected error before the reply started")
        return GatewayError(f"unexpected error: {type(exc).__name__}: {exc}")

    def _error_mid_reply(self, exc: Exception, reply: _ReplyReader) -> GatewayError:
        import httpx2
        import openai

        if isinstance(exc, GatewayError):
            return exc
        if isinstance(exc, _Malformed):
            return MalformedResponse(str(exc))
        if isinstance(exc, ValueError):
            return MalformedResponse(f"a stream message was not valid JSON ({exc})")
        received = f" after {reply.text_chars} characters" if reply.text_chars else ""
        if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
            return StreamInterrupted(f"no data arrived for {self.settings.timeout:g} s{received}")
        if isinstance(exc, openai.APIConnectionError | httpx2.HTTPError):
            return StreamInterrupted(f"the connection closed{received} ({cause_text(exc)})")
        if isinstance(exc, openai.APIStatusError):
            return from_response(exc.status_code, _response_text(exc), exc.response.headers)
        if isinstance(exc, openai.APIError):
            # An {"error": {...}} object inside the stream (provider failure mid-reply).
            return from_error_object(exc.body if exc.body is not None else exc.message)
        log.exception("unexpected error while reading the reply")
        return MalformedResponse(f"unexpected error: {type(exc).__name__}: {exc}")


def _response_text(exc: openai.APIStatusError) -> str:
    try:
        return exc.response.text
    except Exception:  # the body could not be read; fall back to what the SDK kept
        return exc.body if isinstance(exc.body, str) else ""


def _json_message(data: str) -> object:
    try:
        return json.loads(data)
    except ValueError:
        shown = data if len(data) <= 60 else data[:57] + "..."
        raise _Malformed(f"a stream message was not valid JSON: {shown!r}") from None


def parse_usage(usage: object) -> Usage | None:
    """A ``Usage`` from a raw ``usage`` object; None for ``{}`` or anything without figures."""
    if not isinstance(usage, Mapping) or not usage:
        return None
    # Checked figures: NaN, negative or absurd ones are unknown (an estimate may take their place).
    prompt_tokens = as_token_count(usage.get("prompt_tokens"))
    completion_tokens = as_token_count(usage.get("completion_tokens"))
    cost = as_cost(usage.get("cost"))
    if prompt_tokens is None and completion_tokens is None and cost is None:
        return None
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost=cost)


class _ReplyReader:
    """Turns raw chunks into events, remembering what it has seen."""

    def __init__(self, started: float, clock: Callable[[], float]) -> None:
        self._started = started
        self._clock = clock
        self._served: str | None = None
        self._usage: Usage | None = None
        self._finish_reason: str | None = None
        self._first_text_at: float | None = None
        self._chunks = 0
        self.text_chars = 0

    def _served_endpoint(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        model = chunk.get("model")
        if not isinstance(model, str) or not model:
            return []
        provider = chunk.get("provider")
        if "@" not in model and isinstance(provider, str) and provider:
            model = f"{model}@{provider}"  # OpenRouter-style: a separate provider field
        model = valid_text(model)
        if model == self._served:
            return []
        self._served = model
        return [ServedEndpoint(model)]

    def _text(self, text: str) -> TextDelta:
        if self._first_text_at is None:
            self._first_text_at = self._clock()
        text = valid_text(text)
        self.text_chars += len(text)
        return TextDelta(text)

    async def read(self, response: httpx2.Response) -> AsyncGenerator[StreamEvent, None]:
        """Every event of a streamed response, the closing ones included."""
        content_type = response.headers.get("content-type", "").lower()
        if content_type.startswith(("text/html", "application/json")):
            # Not a stream at all: a proxy's web page, or a whole (non-streamed) response.
            for event in self.from_whole_body(await response.aread(), content_type):
                yield event
            return
        parser = SSEParser()
        async for piece in response.aiter_bytes():
            for data in parser.feed(piece):
                if data.strip() == "[DONE]":
                    for event in self.finish():
                        yield event
                    return
                for event in self.feed(_json_message(data)):
                    yield event
        leftovers = parser.finish()
        for index, data in enumerate(leftovers):
            if data.strip() == "[DONE]":
                break
            try:
                message = json.loads(data)
            except ValueError:
                if index == len(leftovers) - 1:
                    raise _Malformed("the stream ended in the middle of a message") from None
                raise
            for event in self.feed(message):
                yield event
        for event in self.finish():
            yield event

    def feed(self, chunk: object) -> list[StreamEvent]:
        """Events for one ``chat.completion.chunk`` object."""
        if not isinstance(chunk, dict):
            raise _Malformed(f"a stream message was {type(chunk).__name__}, not a JSON object")
        error = chunk.get("error")
        if error:
            raise from_error_object(error)  # the provider failed after the stream began
        self._chunks += 1
        events = self._served_endpoint(chunk)
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if not isinstance(choice, dict) or choice.get("index", 0) not in (0, None):
                    continue
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    content = delta.get("content")
                    if isinstance(content, str) and content:
                        events.append(self._text(content))
                finish_reason = choice.get("finish_reason")
                if isinstance(finish_reason, str) and finish_reason:
                    self._finish_reason = finish_reason
        usage = parse_usage(chunk.get("usage"))
        if usage is not None:
            self._usage = usage  # Unify sends it once, on the last chunk; keep the latest
        return events

    def finish(self) -> list[StreamEvent]:
        """The closing events once the stream has ended normally."""
        if self._chunks == 0:
            raise _Malformed("the stream ended without sending any message")
        events: list[StreamEvent] = []
        if self._usage is not None:
            events.append(self._usage)
        if self._finish_reason is None:
            # A reply is finished only when the server says so. A stream that just stops (the
            # socket closed after a close-delimited response, a proxy cutting it, a server
            # dying) ends like a normal one at the transport, with or without [DONE]: without a
            # finish reason it is a cut reply, whatever the transport, and must not be shown,
            # saved or resent as complete.
            received = f" after {self.text_chars} characters" if self.text_chars else ""
            events.append(
                StreamError(
                    StreamInterrupted(
                        f"the stream ended{received} without a finish reason: the reply may "
                        "be cut short"
                    )
                )
            )
            return events
        now = self._clock()
        ttft_ms = None
        if self._first_text_at is not None:
            ttft_ms = (self._first_text_at - self._started) * 1000.0
        events.append(
            Done(
                finish_reason=self._finish_reason,
                ttft_ms=ttft_ms,
                duration_ms=(now - self._started) * 1000.0,
            )
        )
        return events

    def from_whole_body(self, body: bytes, content_type: str) -> list[StreamEvent]:
        """Events for a 200 response that is not an event stream."""
        text = body.decode("utf-8", errors="replace")
        if content_type.startswith("text/html"):
            raise _Malformed(detail_from_body(text) or "the server sent a web page")
        try:
            data = json.loads(text)
        except ValueError:
            # An event stream mislabelled as JSON: read its "data:" lines.
            events: list[StreamEvent] = []
            for line in text.splitlines():
                if line.startswith("data:") and line[5:].strip() != "[DONE]":
                    events.extend(self.feed(json.loads(line[5:])))
            if self._chunks == 0:
                raise _Malformed("the response was neither an event stream nor JSON") from None
            return events + self.finish()
        if not isinstance(data, dict):
            raise _Malformed("the response was not a JSON object")
        if "error" in data or "detail" in data:
            raise from_error_object(data.get("error") or data)
        # A server that ignored stream=True: one whole chat.completion.
        self._chunks += 1
        whole = self._served_endpoint(data)
        choices = data.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            message = choices[0].get("message")
            if isinstance(message, dict):
                content = message.get("content")
                if isinstance(content, str) and content:
                    whole.append(self._text(content))
            finish_reason = choices[0].get("finish_reason")
            if isinstance(finish_reason, str):
                self._finish_reason = finish_reason
        self._usage = parse_usage(data.get("usage"))
        return whole + self.finish()
