"""The seed-compatible ``Agent``: a plain-terminal chat loop over a unified gateway.

>>> from tui_chat import Agent
>>> agent = Agent("llama-2-70b-chat@anyscale")       # key: UNIFY_KEY, else the one the app saved
>>> agent.run(show_credits=True, show_provider=True)  # `pause` returns, `quit` ends

The loop and its texts follow the "Build a Chatbot" tutorial: the whole history is resent every
turn, ``pause`` keeps it and the next ``run()`` says "Welcome back!", ``quit`` clears it, and
switching ``agent.model`` between runs keeps it. Unlike the tutorial, server responses are parsed
as JSON (never evaluated), the reply's cost comes from ``usage.cost`` of the reply itself, and
errors print one line instead of a traceback.

``run_until_quit()`` is ``unify-tui --plain``'s loop: after ``pause`` it asks for the model to
switch to (what the seed pauses for), then runs again. At a terminal the prompt has line editing
and this session's earlier lines on up and down (the ``readline`` module, where there is one; no
history file is written).

The async stream is driven from this synchronous code on one private event loop, kept across
turns, so the HTTP connection is reused.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from tui_chat.core.accounting import estimate_reply_cost, spent_line
from tui_chat.core.compare import Comparison, comparison_problem, has_own_prices, send_estimate
from tui_chat.core.conversation import Conversation, Message, Outcome
from tui_chat.core.endpoint import EndpointError, endpoint_problem, parse_endpoint, provider_of
from tui_chat.core.events import Retrying, TextDelta
from tui_chat.core.text import inert
from tui_chat.gateways.base import Account, Gateway
from tui_chat.gateways.config import SecretStr
from tui_chat.gateways.errors import ConfigurationError
from tui_chat.gateways.retry import RetryingGateway

if TYPE_CHECKING:
    from tui_chat.config import GatewayProfile
    from tui_chat.connection import Connection

GREETING = "Let's have a chat. (Enter `pause` to pause and `quit` to exit)\n"
WELCOME_BACK = "Welcome back! (Remember, enter `pause` to pause and `quit` to exit)\n"
PROMPT = "> "
STOPPED_MARK = "\n(reply stopped)"
PAUSED = "Paused. The model is {model}.\n"
MODEL_QUESTION = "Switch to ({hint}; Enter keeps it, `quit` exits): "
# What the pause question asks for, per gateway kind (endpoint_problem's rules).
MODEL_HINTS = {
    "openrouter": "<model>@<provider> or an OpenRouter id",
    "openai-compatible": "a model name the server knows",
}


class Agent:
    """A chatbot that keeps the conversation and streams each reply to the terminal.

    ``model`` is an endpoint string such as ``"llama-2-70b-chat@anyscale"`` (routing modes,
    ``router@…`` and ``->`` fallbacks work too); on OpenRouter its own ids
    (``"openai/gpt-4o-mini"``), on a plain OpenAI-compatible server its model names.

    Which gateway: ``gateway_kind`` (``"unify"``, the default, ``"openrouter"``,
    ``"openai-compatible"``, which needs ``base_url``) or ``profile``, a profile name from
    config.toml or a ``GatewayProfile`` (its kind, base URL and key variable). ``base_url`` wins
    over the profile's; for the unify kind without one, ``UNIFY_BASE_URL`` does.

    The key, as the app finds it: ``api_key`` if given, else the profile's environment variable
    (``UNIFY_KEY``, ``OPENROUTER_API_KEY``, ``OPENAI_API_KEY``), else the system keyring, else
    keys.toml (where the app saves a key typed into it); a server on this machine needs none. A
    key it found is not sent over plain http to another machine (``ConfigurationError``; pass it
    as ``api_key`` to send it anyway). A failure is one line at once, as in the seed; for the
    app's retries pass ``gateway=RetryingGateway(...)``.

    ``system_prompt``, ``temperature`` (0..2) and ``max_tokens`` go with every request; None
    leaves them to the gateway. ``stdin``/``stdout`` default to the process's own; pass others
    to drive the agent from code. ``gateway``: an already built one (no key lookup).
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        show_credits: bool = False,
        show_provider: bool = False,
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        gateway: Gateway | None = None,
        gateway_kind: str | None = None,
        profile: str | GatewayProfile | None = None,
    ) -> None:
        chosen = None
        if gateway is None or profile is not None:
            chosen = _agent_profile(profile, gateway_kind, base_url)
            gateway_kind = chosen.kind
        self._gateway_kind = gateway_kind or "unify"
        # Recorded on each reply (Message.gateway): the profile's name, else the kind.
        self._gateway_name = chosen.name if chosen is not None else self._gateway_kind
        self._model = self._checked(model)  # a bad endpoint is said before any key is looked for
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._account: Account | None = None
        if gateway is None:
            assert chosen is not None
            connection = _connect(chosen, base_url=base_url, api_key=api_key)
            gateway, self._account = connection.gateway, connection.account
            if isinstance(gateway, RetryingGateway):  # the seed says a failure at once
                gateway = gateway.inner
        self._gateway = gateway
        self._conversation = Conversation(system_prompt=system_prompt)
        self.show_credits = show_credits
        self.show_provider = show_provider
        self._stdin = stdin
        self._stdout = stdout
        self._paused = False
        self._runner: asyncio.Runner | None = None

    # -- request settings ---------------------------------------------------------------------

    @property
    def gateway_kind(self) -> str:
        """The kind of gateway replies come from: unify, openrouter, openai-compatible, demo."""
        return self._gateway_kind

    @property
    def system_prompt(self) -> str | None:
        """Sent first in every request (None: no system message)."""
        return self._conversation.system_prompt

    @system_prompt.setter
    def system_prompt(self, value: str | None) -> None:
        self._conversation.system_prompt = value or None

    @property
    def temperature(self) -> float | None:
        """Sampling temperature sent with every request, 0..2 (None: the gateway's default)."""
        return self._temperature

    @temperature.setter
    def temperature(self, value: float | None) -> None:
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"temperature must be a number from 0 to 2, got {value!r}")
            if not 0 <= value <= 2:
                raise ValueError(f"temperature must be from 0 to 2, got {value!r}")
            value = float(value)
        self._temperature = value

    @property
    def max_tokens(self) -> int | None:
        """The most tokens a reply may have, sent with every request (None: no limit set)."""
        return self._max_tokens

    @max_tokens.setter
    def max_tokens(self, value: int | None) -> None:
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"max_tokens must be a whole number, got {value!r}")
            if value < 1:
                raise ValueError(f"max_tokens must be at least 1, got {value!r}")
        self._max_tokens = value

    # -- the model ---------------------------------------------------------------------------

    @property
    def model(self) -> str:
        """The endpoint string the next reply is requested from."""
        return self._model

    @model.setter
    def model(self, value: str) -> None:
        # EndpointError is a ValueError whose message names the expected format.
        self._model = self._checked(value)

    def _checked(self, value: str) -> str:
        """``value`` as it will be sent, checked for this gateway kind (EndpointError if not).

        Unify's ``model@provider`` syntax everywhere (legacy ``<uploaded_by>/`` prefix dropped);
        OpenRouter's own ids and a plain server's model names where the gateway takes them.
        """
        if not isinstance(value, str):
            raise EndpointError("The model must be a string: <model>@<provider>.")
        problem = endpoint_problem(self._gateway_kind, value)
        if problem is not None:
            raise EndpointError(problem)
        if "@" in value:
            return str(parse_endpoint(value))
        return value.strip()

    @property
    def conversation(self) -> Conversation:
        """The conversation so far (messages with provenance, total cost)."""
        return self._conversation

    @property
    def history(self) -> list[dict[str, str]]:
        """The messages that the next request will resend."""
        return self._conversation.api_messages()

    @property
    def paused(self) -> bool:
        """True after ``pause``: the next ``run()`` resumes with "Welcome back!"."""
        return self._paused

    def clear_chat_history(self) -> None:
        """Forget the conversation."""
        self._conversation.clear()

    # -- comparing endpoints --------------------------------------------------------------------

    def compare(
        self, prompt: str, endpoints: Sequence[str], *, keep: int | None = None
    ) -> Comparison:
        """Send ``prompt`` with the history to 2 to 4 endpoints at once; return the replies.

        Each of ``comparison.replies`` is a ``Message`` with its own figures (served endpoint,
        ``ttft_ms``, ``tokens_per_second``, tokens, ``cost``, ``outcome``, ``error``);
        ``comparison.figures()`` gives them as ``ReplyFigures``, ``comparison.spend`` their sum.
        A failure in one ends that reply only. Nothing is added to the history unless
        ``keep`` is the index of the reply to continue with (or later ``keep(comparison, i)``).
        Endpoints are checked first (``EndpointError``); Ctrl+C stops every reply still
        streaming and raises ``KeyboardInterrupt``.
        """
        problem = comparison_problem(self._gateway_kind, endpoints)
        if problem is not None:
            raise EndpointError(problem)
        chosen = [self._checked(endpoint) for endpoint in endpoints if endpoint.strip()]
        comparison = Comparison.start(prompt, chosen, gateway=self._gateway_name)
        messages = self._compare_messages(prompt)
        run = comparison.run(
            self._gateway, messages, temperature=self._temperature, max_tokens=self._max_tokens
        )
        try:
            self._loop().run(run)
        finally:
            for reply in comparison.replies:
                reply.mark_stopped()  # (only those Ctrl+C cut short)
                if reply.outcome is Outcome.STOPPED:
                    self._estimate_partial(reply, messages)
        if keep is not None:
            self.keep(comparison, keep)
        return comparison

    def keep(self, comparison: Comparison, index: int) -> Message:
        """Continue the conversation with reply ``index`` of ``comparison``: the prompt and that
        reply join the history (the next turn resends them); the others stay with the turn as
        alternates, and the conversation's cost counts them all. Returns the kept reply."""
        return comparison.keep(self._conversation, index)

    def compare_estimates(self, prompt: str, endpoints: Sequence[str]) -> list[float | None]:
        """Credits that sending the history and ``prompt`` would cost at each endpoint's input
        price, before any reply; None where the price is unknown (a routing mode, a gateway
        without prices, a failed lookup)."""
        messages = self._compare_messages(prompt)
        estimates: list[float | None] = []
        for endpoint in endpoints:
            details = None
            if self._account is not None and has_own_prices(endpoint):
                try:
                    details = self._account.endpoint_details(endpoint.strip())
                except Exception:  # no prices for it: the estimate is unknown
                    details = None
            estimates.append(send_estimate(messages, details))
        return estimates

    def _compare_messages(self, prompt: str) -> list[dict[str, str]]:
        return [*self._conversation.api_messages(), {"role": "user", "content": prompt}]

    # -- the loop ------------------------------------------------------------------------------

    def run(self, show_credits: bool | None = None, show_provider: bool | None = None) -> None:
        """Chat on the terminal until ``pause``, ``quit`` or end of input.

        ``show_credits`` prints ``(spent X credits)`` after each reply and ``show_provider``
        prints ``(provider: Y)``; None means the value given to the constructor.
        """
        credits = self.show_credits if show_credits is None else show_credits
        provider = self.show_provider if show_provider is None else show_provider
        self._write(WELCOME_BACK if self._paused else GREETING)
        self._paused = False
        while True:
            line = self._read_line(PROMPT)
            if line is None:  # end of input, or Ctrl+C at the prompt
                self._write("\n")
                return
            command = line.strip()
            if command == "quit":
                self.clear_chat_history()
                return
            if command == "pause":
                self._paused = True
                return
            if not command:
                continue
            self._chat_turn(line, show_credits=credits, show_provider=provider)

    def run_until_quit(
        self, show_credits: bool | None = None, show_provider: bool | None = None
    ) -> None:
        """``run()``, and after each ``pause`` ask for the model to go on with, then run again.

        ``unify-tui --plain``'s loop: the question shows the current model; Enter keeps it, an
        endpoint string switches to it (an invalid one is refused with the expected format and
        asked again), and the next ``run()`` says "Welcome back!" with the history kept.
        ``quit`` or end of input at the question ends, as ``quit`` at the prompt does.
        """
        while True:
            self.run(show_credits, show_provider)
            if not self._paused or not self._ask_model():
                return

    def _ask_model(self) -> bool:
        """The pause question; False when the user ends the chat there instead."""
        self._write(PAUSED.format(model=inert(self._model)))
        hint = MODEL_HINTS.get(self._gateway_kind, "<model>@<provider>")
        while True:
            line = self._read_line(MODEL_QUESTION.format(hint=hint), remember=False)
            if line is None or line.strip() == "quit":
                if line is None:
                    self._write("\n")
                self._paused = False
                self.clear_chat_history()
                return False
            if not line.strip():
                return True
            try:
                self.model = line
            except EndpointError as error:
                self._write(f"{inert(str(error))}\n")
                continue
            return True

    def _chat_turn(self, text: str, *, show_credits: bool, show_provider: bool) -> None:
        self._conversation.add_user(text)
        messages = self._conversation.api_messages()
        reply = self._conversation.start_reply(self._model, gateway=self._gateway_name)
        try:
            self._loop().run(self._stream_reply(reply, messages))
        except KeyboardInterrupt:
            # Ctrl+C stops this reply only; what arrived is kept (and resent next turn).
            reply.mark_stopped()
            self._estimate_partial(reply, messages)
            spent = "\n" + spent_line(reply.cost, estimated=reply.cost_estimated)
            self._write(STOPPED_MARK + (spent if show_credits else "") + "\n")
            return
        if reply.outcome is Outcome.ERROR:
            self._write(("\n" if reply.content else "") + f"Error: {inert(reply.error or '')}\n")
            return
        if reply.outcome is not Outcome.COMPLETE and reply.outcome is not None:
            # cut, at the token limit, filtered: said, so a half reply never reads as whole
            self._write(("\n" if reply.content else "") + f"({reply.outcome.words})")
        if show_credits:
            self._write("\n" + spent_line(reply.cost, estimated=reply.cost_estimated))
        if show_provider:
            self._write(f"\n(provider: {inert(self._provider_shown(reply))})")
        self._write("\n")

    async def _stream_reply(self, reply: Message, messages: list[dict[str, str]]) -> None:
        events = self._gateway.stream_chat(
            self._model, messages, temperature=self._temperature, max_tokens=self._max_tokens
        )
        async with aclosing(events):
            async for event in events:
                reply.apply(event)
                if isinstance(event, TextDelta):
                    # Model text is data: control characters must not drive the terminal.
                    self._write(inert(event.text.replace("\r\n", "\n")))
                elif isinstance(event, Retrying):
                    self._write(
                        f"({inert(event.reason)}: retrying in {event.delay_s:.0f} s, "
                        f"attempt {event.attempt} of {event.max_attempts})\n"
                    )
        reply.end_unfinished()  # (only if the gateway sent neither Done nor StreamError)

    def _estimate_partial(self, reply: Message, messages: list[dict[str, str]]) -> None:
        """A stopped reply was charged for what the gateway sent: estimate it from the
        endpoint's prices (marked "~"), so it counts in the conversation's total."""
        if reply.cost is not None or self._account is None or not reply.content:
            return
        try:
            details = self._account.endpoint_details(reply.served_endpoint or self._model)
        except (Exception, KeyboardInterrupt):  # no prices (a routing mode, a kind without
            return  # details, the network gone, a second Ctrl+C): the cost stays unknown
        chars = sum(len(m["content"]) for m in messages)
        estimate = estimate_reply_cost(chars, reply.output_tokens, details)
        if estimate is not None:
            reply.cost, reply.cost_estimated = estimate, True

    def _provider_shown(self, reply: Message) -> str:
        served = reply.served_endpoint
        if served:
            return provider_of(served) or served
        return provider_of(self._model)

    # -- terminal and event loop ------------------------------------------------------------

    def _loop(self) -> asyncio.Runner:
        # One private loop for every turn: the HTTP client (and its connection) lives on it,
        # and asyncio.Runner turns Ctrl+C into cancelling the reply, then KeyboardInterrupt.
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner

    def _write(self, text: str) -> None:
        out = self._stdout if self._stdout is not None else sys.stdout
        out.write(text)
        out.flush()

    def _read_line(self, prompt: str, *, remember: bool = True) -> str | None:
        """A line typed after ``prompt`` (None at end of input or Ctrl+C).

        At a terminal, ``input()`` with readline: the prompt is readline's to redraw, and the
        line joins this session's history (``remember``), kept in memory only.
        """
        try:
            if self._line_editing():
                kept = _history_length()
                line = input(prompt)
                if not remember:
                    _forget_lines_after(kept)
                return line
            self._write(prompt)
            if self._stdin is None:
                return input()
            read = self._stdin.readline()
        except (EOFError, KeyboardInterrupt):
            return None
        return read.rstrip("\r\n") if read else None

    def _line_editing(self) -> bool:
        """True when lines come from the terminal itself, with readline loaded if it exists."""
        if self._stdin is not None or self._stdout is not None:
            return False
        try:
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                return False
        except (AttributeError, ValueError):  # replaced or closed streams
            return False
        try:
            import readline  # noqa: F401  (importing it gives input() editing and history)
        except ImportError:  # Windows: no readline; input() still reads a line
            pass
        return True

    def close(self) -> None:
        """Close the connection and the private event loop."""
        try:
            if self._runner is not None:
                try:
                    self._runner.run(self._gateway.aclose())
                finally:
                    self._runner.close()
                    self._runner = None
        finally:
            if self._account is not None:
                self._account.close()
                self._account = None

    def __enter__(self) -> Agent:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- which gateway, and its key: the same path as ``unify-tui --plain`` ------------------------


def _agent_profile(
    profile: str | GatewayProfile | None, gateway_kind: str | None, base_url: str | None
) -> GatewayProfile:
    """The profile the Agent talks to: the one given or named (config.toml), else the built-in
    one of ``gateway_kind`` (a plain server's at ``base_url``)."""
    from tui_chat.config import GATEWAY_KINDS, GatewayProfile, load_config

    if isinstance(profile, GatewayProfile):
        chosen = profile
    elif isinstance(profile, str):
        config, problems = load_config()
        for problem in problems:
            _warn(str(problem))
        chosen = config.profile(profile)  # UnknownGatewayError (a LookupError) names the known
    elif profile is None:
        kind = gateway_kind or "unify"
        if kind not in GATEWAY_KINDS:
            raise ValueError(
                f"gateway_kind must be one of {', '.join(GATEWAY_KINDS)}, not {kind!r}"
            )
        if kind == "openai-compatible" and not base_url:
            raise ConfigurationError(
                "an openai-compatible gateway needs base_url=..., e.g. "
                "http://127.0.0.1:11434/v1 for Ollama"
            )
        chosen = GatewayProfile(kind, kind, base_url=base_url)
    else:
        raise TypeError(f"profile must be a profile name or a GatewayProfile, got {profile!r}")
    if gateway_kind is not None and gateway_kind != chosen.kind:
        raise ValueError(
            f"gateway_kind {gateway_kind!r} does not match the profile {chosen.name!r}, "
            f"which is {chosen.kind!r}"
        )
    return chosen


def _connect(profile: GatewayProfile, *, base_url: str | None, api_key: str | None) -> Connection:
    """Look for the key and connect as ``--plain`` does (``connection.plan_connection``), with
    no one to ask: a found key that would go over plain http to another machine is refused."""
    from tui_chat.connection import plan_connection, transport_verdict
    from tui_chat.keys import clean_key

    plan = plan_connection(profile, base_url=base_url)
    if api_key is not None:  # given here: it wins over stored ones and goes where it is sent
        key = clean_key(api_key)
        plan = replace(plan, key=SecretStr(key) if key else None, transport_ok=True, warnings=[])
    for warning in plan.warnings:
        _warn(warning)
    if not plan.transport_ok:
        raise ConfigurationError(
            f"{transport_verdict(plan.base_url).message} To send it anyway, pass the key as "
            "Agent(..., api_key=...)."
        )
    return plan.plain_connection()


def _history_length() -> int:
    """How many lines readline's history holds (0 without readline)."""
    readline = sys.modules.get("readline")
    return readline.get_current_history_length() if readline is not None else 0


def _forget_lines_after(kept: int) -> None:
    """Drop what readline added to its history past ``kept`` lines (a pause answer is no chat
    line to recall at the prompt). readline skips a line equal to the last one, so count."""
    while _history_length() > kept:
        readline = sys.modules["readline"]
        readline.remove_history_item(readline.get_current_history_length() - 1)


def _warn(text: str) -> None:
    print(f"unify-tui: {inert(text)}", file=sys.stderr)
