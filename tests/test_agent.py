"""The seed-compatible Agent, driven through injected stdin/stdout with a scripted gateway."""

from __future__ import annotations

import asyncio
import io
import signal
from collections.abc import AsyncGenerator, Sequence

import pytest

from tui_chat import Agent
from tui_chat.core.conversation import Outcome
from tui_chat.core.events import Done, ServedEndpoint, StreamError, StreamEvent, TextDelta, Usage
from tui_chat.gateways.base import UNIFY_CAPABILITIES, Capabilities
from tui_chat.gateways.errors import AuthenticationError, MissingAPIKeyError, StreamInterrupted

GREETING = "Let's have a chat. (Enter `pause` to pause and `quit` to exit)\n"
WELCOME_BACK = "Welcome back! (Remember, enter `pause` to pause and `quit` to exit)\n"


def reply(
    text: str, *, served: str = "llama-2-7b-chat@anyscale", cost: float = 0.000002
) -> list[StreamEvent]:
    return [
        ServedEndpoint(served),
        *(TextDelta(word) for word in text.split("|")),
        Usage(prompt_tokens=10, completion_tokens=5, cost=cost),
        Done("stop"),
    ]


class ScriptedGateway:
    """Answers each request with the next scripted list of events; records what was sent."""

    def __init__(self, *replies: Sequence[StreamEvent]) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[str, list[dict[str, str]]]] = []
        self.closed = False

    @property
    def capabilities(self) -> Capabilities:
        return UNIFY_CAPABILITIES

    async def stream_chat(
        self,
        endpoint: str,
        messages: list[dict[str, str]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        self.requests.append((endpoint, [dict(m) for m in messages]))
        for event in self.replies.pop(0):
            yield event

    async def aclose(self) -> None:
        self.closed = True


def make_agent(
    gateway: ScriptedGateway, lines: str, model: str = "llama-2-7b-chat@anyscale"
) -> tuple[Agent, io.StringIO]:
    out = io.StringIO()
    agent = Agent(model, gateway=gateway, stdin=io.StringIO(lines), stdout=out)
    return agent, out


def test_run_greets_streams_the_reply_and_quits() -> None:
    gateway = ScriptedGateway(reply(" The capital of| Spain is Madrid."))
    agent, out = make_agent(gateway, "What is the capital of Spain?\nquit\n")
    agent.run()
    assert out.getvalue() == GREETING + "> " + " The capital of Spain is Madrid." + "\n" + "> "
    assert gateway.requests == [
        ("llama-2-7b-chat@anyscale", [{"role": "user", "content": "What is the capital of Spain?"}])
    ]


def test_credits_and_provider_lines_follow_the_reply() -> None:
    gateway = ScriptedGateway(
        reply(" Madrid.", served="llama-2-70b-chat@together-ai", cost=0.000014)
    )
    agent, out = make_agent(
        gateway, "Capital of Spain?\nquit\n", model="llama-2-70b-chat@highest-tks-per-sec"
    )
    agent.run(show_credits=True, show_provider=True)
    assert out.getvalue() == (
        GREETING + "> " + " Madrid.\n(spent 0.000014 credits)\n(provider: together-ai)\n> "
    )


def test_show_credits_set_in_the_constructor_applies_to_run() -> None:
    gateway = ScriptedGateway(reply(" Lisbon."))
    out = io.StringIO()
    agent = Agent(
        "m@p", gateway=gateway, stdin=io.StringIO("Capital?\nquit\n"), stdout=out, show_credits=True
    )
    agent.run()
    assert "(spent 0.000002 credits)" in out.getvalue()


def test_quit_clears_history_and_next_run_greets_again() -> None:
    gateway = ScriptedGateway(reply("Hi"))
    agent, out = make_agent(gateway, "Hello\nquit\nquit\n")
    agent.run()
    assert agent.history == []
    assert not agent.paused
    agent.run()
    assert out.getvalue().count(GREETING) == 2


def test_pause_keeps_history_and_next_run_welcomes_back() -> None:
    gateway = ScriptedGateway(reply("Nice to meet you, Foo!"), reply("You are 25."))
    agent, out = make_agent(gateway, "I am Foo, 25.\npause\nHow old am I?\nquit\n")
    agent.run()
    assert agent.paused
    assert out.getvalue().endswith("> ")
    agent.run()
    assert WELCOME_BACK in out.getvalue()
    assert gateway.requests[1][1] == [
        {"role": "user", "content": "I am Foo, 25."},
        {"role": "assistant", "content": "Nice to meet you, Foo!"},
        {"role": "user", "content": "How old am I?"},
    ]


def test_model_switch_during_pause_keeps_history() -> None:
    gateway = ScriptedGateway(
        reply("Okay. Nice to meet you José."), reply("José Mourinho, a man...")
    )
    agent, _ = make_agent(gateway, "My name is José Mourinho.\npause\nWrite a poem.\npause\n")
    agent.run()
    agent.model = "gpt-4-turbo@openai"
    agent.run()
    endpoint, messages = gateway.requests[1]
    assert endpoint == "gpt-4-turbo@openai"
    assert messages[0] == {"role": "user", "content": "My name is José Mourinho."}
    assert agent.conversation.messages[-1].requested_endpoint == "gpt-4-turbo@openai"


def test_invalid_model_is_refused_with_the_expected_format() -> None:
    agent, _ = make_agent(ScriptedGateway(), "")
    with pytest.raises(ValueError, match="<model>@<provider>") as caught:
        agent.model = "gpt-4-turbo"
    assert "llama-2-70b-chat@anyscale" in str(caught.value)
    assert agent.model == "llama-2-7b-chat@anyscale"
    with pytest.raises(ValueError, match="<model>@<provider>"):
        Agent("no-provider", gateway=ScriptedGateway())


def test_legacy_prefix_model_is_accepted() -> None:
    agent, _ = make_agent(ScriptedGateway(), "", model="john_doe/llama-2-70b-chat@replicate")
    assert agent.model == "llama-2-70b-chat@replicate"


def test_error_prints_one_line_and_the_loop_goes_on() -> None:
    detail = "Invalid API key. You can generate one at https://console.unify.ai/login"
    gateway = ScriptedGateway(
        [StreamError(AuthenticationError(detail, status=401))], reply("Hello again")
    )
    agent, out = make_agent(gateway, "Hi\nHi again\nquit\n")
    agent.run()
    assert out.getvalue() == (
        GREETING
        + "> Error: The gateway rejected the API key (HTTP 401): "
        + detail
        + "\n> Hello again\n> "
    )
    # The failed turn is not resent.
    assert gateway.requests[1][1] == [{"role": "user", "content": "Hi again"}]


def test_error_after_partial_text_starts_on_a_new_line() -> None:
    gateway = ScriptedGateway(
        [TextDelta("Roses"), StreamError(AuthenticationError("x", status=401))]
    )
    agent, out = make_agent(gateway, "Poem\nquit\n")
    agent.run()
    assert "> Roses\nError: " in out.getvalue()


def test_end_of_input_ends_the_loop_cleanly() -> None:
    gateway = ScriptedGateway(reply("Hi"))
    agent, out = make_agent(gateway, "Hello\n")
    agent.run()
    assert out.getvalue() == GREETING + "> Hi\n> \n"
    assert len(agent.history) == 2  # EOF is not quit: the history stays


def test_blank_lines_are_not_sent() -> None:
    gateway = ScriptedGateway()
    agent, _ = make_agent(gateway, "\n   \nquit\n")
    agent.run()
    assert gateway.requests == []


def test_ctrl_c_during_a_reply_stops_it_and_keeps_the_partial() -> None:
    class InterruptedGateway(ScriptedGateway):
        async def stream_chat(self, endpoint, messages, *, temperature=None, max_tokens=None):  # type: ignore[no-untyped-def,override]
            self.requests.append((endpoint, [dict(m) for m in messages]))
            if len(self.requests) == 1:
                yield ServedEndpoint("m@p")
                yield TextDelta("Roses are red,")
                signal.raise_signal(signal.SIGINT)  # what Ctrl+C does
                await asyncio.sleep(5)  # the network read that Ctrl+C interrupts
                yield TextDelta(" never shown")
                return
            for event in reply("violets are blue."):
                yield event

    gateway = InterruptedGateway()
    agent, out = make_agent(gateway, "Poem\nGo on\npause\n", model="m@p")
    agent.run()
    assert "> Roses are red,\n(reply stopped)\n> violets are blue.\n> " in out.getvalue()
    assert "never shown" not in out.getvalue()
    stopped = agent.conversation.messages[1]
    assert (stopped.content, stopped.outcome) == ("Roses are red,", Outcome.STOPPED)
    assert gateway.requests[1][1] == [
        {"role": "user", "content": "Poem"},
        {"role": "assistant", "content": "Roses are red,"},
        {"role": "user", "content": "Go on"},
    ]


def test_control_characters_from_the_model_do_not_reach_the_terminal() -> None:
    gateway = ScriptedGateway(reply("safe\x1b]52;c;aGk=\x07text"))
    agent, out = make_agent(gateway, "Hi\nquit\n")
    agent.run()
    assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()
    assert "safe␛]52;c;aGk=␇text" in out.getvalue()


def test_missing_key_says_how_to_set_it() -> None:
    with pytest.raises(MissingAPIKeyError, match=r"export UNIFY_KEY=\.\.\."):
        Agent("llama-2-70b-chat@anyscale")


def test_key_and_base_url_can_be_passed_as_arguments() -> None:
    agent = Agent("m@p", api_key="k-123", base_url="http://127.0.0.1:9/v0")
    gateway = agent._gateway
    assert gateway.settings.base_url == "http://127.0.0.1:9/v0"  # type: ignore[attr-defined]
    assert "k-123" not in repr(gateway.settings)  # type: ignore[attr-defined]


def test_close_closes_the_gateway() -> None:
    gateway = ScriptedGateway(reply("Hi"))
    with make_agent(gateway, "Hello\nquit\n")[0] as agent:
        agent.run()
    assert gateway.closed


def test_a_reply_that_did_not_finish_says_how_it_ended() -> None:
    # Regression: a reply cut at the token limit, or cut off, printed like a finished one.
    gateway = ScriptedGateway(
        [TextDelta("Roses are"), Done("length")],
        [TextDelta("Violets"), StreamError(StreamInterrupted("no finish reason"))],
        reply("Hello"),
    )
    agent, out = make_agent(gateway, "Poem\nMore\nHi\nquit\n")
    agent.run(show_credits=False, show_provider=False)
    text = out.getvalue()
    assert "> Roses are\n(stopped at the token limit)\n" in text
    assert "> Violets\n(cut off: the stream ended before the reply finished)\n" in text
    # the cut turn is not resent; the length-cut one is
    assert gateway.requests[2][1] == [
        {"role": "user", "content": "Poem"},
        {"role": "assistant", "content": "Roses are"},
        {"role": "user", "content": "Hi"},
    ]
