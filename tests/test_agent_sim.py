"""The Agent end to end: real HTTP to the embedded gateway, in-process and as a real process."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tui_chat import Agent

GREETING = "Let's have a chat. (Enter `pause` to pause and `quit` to exit)\n"
WELCOME_BACK = "Welcome back! (Remember, enter `pause` to pause and `quit` to exit)\n"
INTRODUCTION = "Hi, nice to meet you. My name is Foo Barrymore, and I am 25 years old."
REPO = Path(__file__).resolve().parents[1]


def agent_for(
    sim: Any, lines: str, model: str = "llama-2-70b-chat@anyscale", **kw: Any
) -> tuple[Agent, io.StringIO]:
    out = io.StringIO()
    agent = Agent(
        model, api_key="test-key", base_url=sim.base_url, stdin=io.StringIO(lines), stdout=out, **kw
    )
    return agent, out


def test_seed_dialogue_recalls_name_and_age(sim: Any) -> None:
    agent, out = agent_for(sim, f"{INTRODUCTION}\nHow old am I?\nYour memory is astounding\nquit\n")
    with agent:
        agent.run()
    text = out.getvalue()
    assert text.startswith(GREETING + "> ")
    assert "Foo" in text.split("> ")[1]
    assert "25" in text.split("> ")[2]
    assert text.endswith("> ")
    # Every turn resent the whole history.
    assert [len(r.body["messages"]) for r in sim.requests] == [1, 3, 5]


def test_credits_line_is_the_replys_cost_and_provider_line_the_served_provider(sim: Any) -> None:
    agent, out = agent_for(
        sim, "What is the capital of Spain?\npause\n", model="llama-2-70b-chat@lowest-ttft"
    )
    with agent:
        agent.run(show_credits=True, show_provider=True)
    match = re.search(
        r"\n\(spent (\d+\.\d{6}) credits\)\n\(provider: ([a-z0-9-]+)\)\n> $", out.getvalue()
    )
    assert match, out.getvalue()
    reply = agent.conversation.last_reply
    assert reply is not None and reply.cost is not None and reply.served_endpoint is not None
    assert match.group(1) == f"{reply.cost:.6f}"
    assert f"{50.0 - sim.credits:.6f}" == match.group(1)
    assert match.group(2) == reply.served_endpoint.split("@")[1] != "lowest-ttft"


def test_pause_then_model_switch_keeps_history_as_seen_by_the_server(sim: Any) -> None:
    lines = f"{INTRODUCTION}\npause\nWhat is my name?\nHow old am I?\nquit\n"
    agent, out = agent_for(sim, lines, model="llama-2-7b-chat@anyscale")
    with agent:
        agent.run(show_provider=True)
        assert agent.paused
        agent.model = "gpt-4-turbo@openai"
        agent.run(show_provider=True)
    text = out.getvalue()
    assert WELCOME_BACK in text
    after_switch = text.split(WELCOME_BACK)[1]
    name_reply, age_reply = after_switch.split("> ")[1:3]
    assert "Foo" in name_reply and "(provider: openai)" in name_reply
    assert "25" in age_reply
    first, second, third = sim.requests
    assert first.body["model"] == "llama-2-7b-chat@anyscale"
    assert second.body["model"] == third.body["model"] == "gpt-4-turbo@openai"
    assert second.body["messages"][0] == {"role": "user", "content": INTRODUCTION}
    assert second.body["messages"][1]["role"] == "assistant"
    assert second.body["messages"][2] == {"role": "user", "content": "What is my name?"}
    assert len(third.body["messages"]) == 5


def test_quit_clears_history_for_the_next_run(sim: Any) -> None:
    agent, out = agent_for(sim, f"{INTRODUCTION}\nquit\nHow old am I?\nquit\n")
    with agent:
        agent.run()
        agent.run()
    assert out.getvalue().count(GREETING) == 2
    assert sim.requests[-1].body["messages"] == [{"role": "user", "content": "How old am I?"}]


def test_wrong_key_prints_one_line_and_the_loop_goes_on(sim: Any) -> None:
    out = io.StringIO()
    agent = Agent(
        "llama-2-70b-chat@anyscale",
        api_key="wrong",
        base_url=sim.base_url,
        stdin=io.StringIO("Hi\nHi\nquit\n"),
        stdout=out,
    )
    with agent:
        agent.run()
    line = (
        "Error: The gateway rejected the API key (HTTP 401): "
        "Invalid API key. You can generate one at https://console.unify.ai/login\n"
    )
    assert out.getvalue() == GREETING + "> " + line + "> " + line + "> "


def test_no_credits_then_a_top_up_carries_on(sim: Any) -> None:
    sim.credits = 0.0
    agent, out = agent_for(sim, "Hi\npause\nHi again\npause\n")
    with agent:
        agent.run()
        sim.credits = 5.0
        agent.run(show_credits=True)
    text = out.getvalue()
    assert (
        "> Error: The account is out of credits (HTTP 402): Whoops! It seems like this account "
        "doesn't have enough credits. To get a recharge, visit https://console.unify.ai/\n"
    ) in text
    assert "(spent " in text.split(WELCOME_BACK)[1]
    # The failed turn is not resent.
    assert sim.requests[-1].body["messages"] == [{"role": "user", "content": "Hi again"}]


def test_unknown_provider_is_one_error_line_then_a_switch_recovers(sim: Any) -> None:
    agent, out = agent_for(sim, "Hi\npause\nHi\nquit\n", model="llama-2-70b-chat@nowhere")
    with agent:
        agent.run()
        agent.model = "llama-2-70b-chat@anyscale"
        agent.run()
    lines = out.getvalue().splitlines()
    assert lines[1].startswith(
        "> Error: The gateway refused the request (HTTP 400): Invalid provider."
    )
    # The failed turn was not resent after the switch.
    assert sim.requests[-1].body["messages"] == [{"role": "user", "content": "Hi"}]


def test_unreachable_gateway_is_one_error_line() -> None:
    out = io.StringIO()
    agent = Agent(
        "m@p", api_key="k", base_url="http://127.0.0.1:9/v0", stdin=io.StringIO("Hi\n"), stdout=out
    )
    with agent:
        agent.run()
    assert out.getvalue() == (
        GREETING + "> Error: Could not reach the gateway: http://127.0.0.1:9/v0 did not answer "
        "(Connection refused)\n> \n"
    )


def test_invalid_model_string_is_refused_before_any_request(sim: Any) -> None:
    agent, _ = agent_for(sim, "")
    with pytest.raises(
        ValueError, match=r"Expected <model>@<provider>, e\.g\. llama-2-70b-chat@anyscale"
    ):
        agent.model = "gpt-4-turbo"
    assert sim.requests == []


# -- a real process on real stdin/stdout ----------------------------------------------------------


def agent_process(sim: Any, script: str, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "UNIFY_KEY": "test-key",
        "UNIFY_BASE_URL": sim.base_url,
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        cwd=REPO,
    )


SEED_SCRIPT = (
    "from tui_chat import Agent\n"
    "agent = Agent('llama-2-7b-chat@anyscale')\n"
    "agent.run(show_credits=True, show_provider=True)\n"
    "agent.model = 'gpt-4-turbo@openai'\n"
    "agent.run(show_credits=True, show_provider=True)\n"
)


def test_seed_session_through_real_stdin_and_stdout(sim: Any) -> None:
    process = agent_process(sim, SEED_SCRIPT)
    stdin = f"{INTRODUCTION}\nHow old am I?\npause\nWhat is my name?\nquit\n".encode()
    stdout, stderr = process.communicate(stdin, timeout=60)
    text = stdout.decode()
    assert process.returncode == 0, stderr.decode()
    assert stderr == b""
    assert text.startswith(GREETING + "> ")
    first_run, second_run = text.split(WELCOME_BACK)
    assert "25" in first_run.split("> ")[2]
    assert re.search(r"\(spent \d+\.\d{6} credits\)\n\(provider: anyscale\)\n> $", first_run)
    assert "Foo" in second_run.split("> ")[1]
    assert "(provider: openai)" in second_run
    assert sim.requests[-1].body["model"] == "gpt-4-turbo@openai"
    assert sim.requests[-1].body["messages"][0] == {"role": "user", "content": INTRODUCTION}


def test_end_of_input_exits_cleanly_without_a_traceback(sim: Any) -> None:
    process = agent_process(
        sim, "from tui_chat import Agent\nAgent('llama-2-70b-chat@anyscale').run()\n"
    )
    stdout, stderr = process.communicate(b"Hi\n", timeout=60)
    assert process.returncode == 0
    assert stderr == b""
    assert stdout.decode().endswith("> \n")


def test_missing_key_says_how_to_set_it_in_a_real_process(sim: Any) -> None:
    process = agent_process(
        sim, "from tui_chat import Agent\nAgent('llama-2-70b-chat@anyscale')\n", UNIFY_KEY=""
    )
    _, stderr = process.communicate(b"", timeout=60)
    assert process.returncode != 0
    assert "export UNIFY_KEY=..." in stderr.decode()


def _read_until(process: subprocess.Popen[bytes], done: Any, timeout: float = 20) -> bytes:
    """Read the process's stdout until ``done(seen)`` is true."""
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    seen = b""
    deadline = time.monotonic() + timeout
    while not done(seen):
        assert time.monotonic() < deadline, f"gave up waiting; saw {seen!r}"
        piece = process.stdout.read()
        if piece:
            seen += piece
        else:
            time.sleep(0.01)
    return seen


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery is POSIX")
def test_ctrl_c_stops_the_reply_keeps_the_partial_and_the_loop_goes_on(sim: Any) -> None:
    sim.controls.token_delay_s = 0.05
    sim.controls.reply_tokens = 400
    process = agent_process(
        sim, "from tui_chat import Agent\nAgent('llama-2-70b-chat@anyscale').run()\n"
    )
    assert process.stdin is not None
    process.stdin.write(b"Write me a long poem.\n")
    process.stdin.flush()
    # Wait for a few words of the reply, then press Ctrl+C.
    seen = _read_until(process, lambda seen: len(seen) > len(GREETING) + 20)
    process.send_signal(signal.SIGINT)
    seen += _read_until(process, lambda more: b"(reply stopped)\n> " in seen + more)
    sim.controls.token_delay_s = 0.0
    sim.controls.reply_tokens = None
    process.stdin.write(b"Go on\nquit\n")
    process.stdin.close()
    process.wait(timeout=30)
    assert process.returncode == 0
    assert process.stderr is not None and process.stderr.read() == b""
    partial = seen.decode().split("> ")[1].split("\n(reply stopped)")[0]
    assert partial
    resent = sim.requests[-1].body["messages"]
    assert resent[1] == {"role": "assistant", "content": partial}
    assert resent[2] == {"role": "user", "content": "Go on"}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery is POSIX")
def test_a_stopped_reply_is_charged_its_estimate_and_counts_in_the_total(sim: Any) -> None:
    sim.controls.token_delay_s = 0.05
    sim.controls.reply_tokens = 400
    script = (
        "from tui_chat import Agent\n"
        "agent = Agent('llama-2-70b-chat@anyscale')\n"
        "agent.run(show_credits=True)\n"
        "spend = agent.conversation.spend\n"
        "print('TOTAL', spend.mark, spend.amount)\n"
    )
    process = agent_process(sim, script)
    assert process.stdin is not None
    process.stdin.write(b"Write me a long poem.\n")
    process.stdin.flush()
    seen = _read_until(process, lambda seen: len(seen) > len(GREETING) + 40)
    process.send_signal(signal.SIGINT)
    seen += _read_until(process, lambda more: b"credits)\n> " in seen + more)
    process.stdin.close()  # end of input: the loop ends, the history stays (quit clears it)
    seen += _read_until(
        process, lambda more: b"TOTAL" in seen + more and (seen + more).endswith(b"\n")
    )
    process.wait(timeout=30)
    text = seen.decode()
    assert "\n(reply stopped)\n(spent ~0.0000" in text  # an estimate, said as one
    spent = float(text.split("(spent ~")[1].split(" credits)")[0])
    assert spent > 0
    total = text.split("TOTAL ")[1].split()
    assert total[0] == "~" and abs(float(total[1]) - spent) < 1e-6
