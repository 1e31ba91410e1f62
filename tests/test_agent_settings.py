"""The Agent takes what the app takes: gateway kinds and profiles, the keys the app saved, and
the system prompt, temperature and token limit on every request. Driven against the embedded
gateway; the suite's autouse fixture gives every test an empty temporary HOME and XDG folders,
so keys.toml and config.toml here are the test's own."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tui_chat import Agent
from tui_chat.config import default_config_path
from tui_chat.gateways.errors import ConfigurationError
from tui_chat.keys import default_keys_path

MODEL = "llama-3.1-8b-chat@groq"


@pytest.fixture(autouse=True)
def _no_system_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui_chat.keys.system_keyring", lambda *a, **k: None)


def root_of(sim: Any) -> str:
    return sim.base_url.rsplit("/", 1)[0]  # .../v0 -> the server's root


def save_keys(text: str) -> None:
    """keys.toml as the app writes it when a key is typed into it (mode 0600)."""
    path = default_keys_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


def chat(agent: Agent, out: io.StringIO) -> str:
    with agent:
        agent.run()
    return out.getvalue()


def test_a_key_saved_in_keys_toml_is_found(sim: Any) -> None:
    save_keys('[keys]\nunify = "test-key"\n')
    out = io.StringIO()
    agent = Agent(MODEL, base_url=sim.base_url, stdin=io.StringIO("Hi\nquit\n"), stdout=out)
    text = chat(agent, out)
    assert "Error" not in text
    assert len(sim.requests) == 1 and sim.requests[0].path.startswith("/v0/")


def test_the_environment_variable_comes_before_the_saved_key(
    sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_keys('[keys]\nunify = "test-key"\n')
    monkeypatch.setenv("UNIFY_KEY", "wrong-key-from-the-environment")
    out = io.StringIO()
    agent = Agent(MODEL, base_url=sim.base_url, stdin=io.StringIO("Hi\nquit\n"), stdout=out)
    assert "Error: The gateway rejected the API key (HTTP 401)" in chat(agent, out)


def test_a_profile_from_config_toml_with_its_saved_key(sim: Any) -> None:
    config = default_config_path()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"[gateways.work]\nkind = 'openrouter'\nbase_url = '{root_of(sim)}/api/v1'\n",
        encoding="utf-8",
    )
    save_keys('[keys]\nwork = "test-key"\n')
    out = io.StringIO()
    agent = Agent("openai/gpt-4o-mini", profile="work", stdin=io.StringIO("Hi\nquit\n"), stdout=out)
    assert agent.gateway_kind == "openrouter"
    assert "Error" not in chat(agent, out)
    assert sim.requests[-1].path.startswith("/api/v1/")
    assert sim.requests[-1].body["model"] == "openai/gpt-4o-mini"


def test_openai_compatible_base_url_gets_the_settings_on_every_request(sim: Any) -> None:
    out = io.StringIO()
    agent = Agent(
        "llama-3.1-8b-chat",
        gateway_kind="openai-compatible",
        base_url=f"{root_of(sim)}/v1",
        api_key="test-key",
        system_prompt="Answer in one short sentence.",
        temperature=0.3,
        max_tokens=64,
        stdin=io.StringIO("Hi\nWhat is the capital of Spain?\nquit\n"),
        stdout=out,
    )
    assert "Error" not in chat(agent, out)
    assert len(sim.requests) == 2
    for request in sim.requests:
        assert request.path.startswith("/v1/")
        body = request.body
        assert body["model"] == "llama-3.1-8b-chat"
        assert body["messages"][0] == {
            "role": "system",
            "content": "Answer in one short sentence.",
        }
        assert body["temperature"] == 0.3
        assert body["max_tokens"] == 64
    assert [m["role"] for m in sim.requests[1].body["messages"]] == [
        "system",
        "user",
        "assistant",
        "user",
    ]


def test_openrouter_key_from_its_own_variable(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "test-key")
    out = io.StringIO()
    agent = Agent(
        "openai/gpt-4o-mini",
        gateway_kind="openrouter",
        base_url=f"{root_of(sim)}/api/v1",
        stdin=io.StringIO("Hi\nquit\n"),
        stdout=out,
    )
    assert "Error" not in chat(agent, out)
    assert sim.requests[-1].path.startswith("/api/v1/")


def test_a_found_key_is_not_sent_over_plain_http_to_another_machine() -> None:
    save_keys('[keys]\nunify = "saved-key-0123456789"\n')
    with pytest.raises(ConfigurationError, match="api_key=") as refused:
        Agent(MODEL, base_url="http://gateway.example.com/v0")
    assert "saved-key-0123456789" not in str(refused.value)
    # Passed explicitly, the caller has decided: the agent is built (nothing is sent yet).
    Agent(MODEL, base_url="http://gateway.example.com/v0", api_key="k").close()


def test_wrong_kinds_and_settings_are_refused_at_once() -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        Agent("llama3", gateway_kind="openai-compatible")
    with pytest.raises(ValueError, match="gateway_kind"):
        Agent("llama3", gateway_kind="ollama")
    with pytest.raises(ValueError, match="does not match"):
        Agent("openai/gpt-4o-mini", profile="openrouter", gateway_kind="unify")
    with pytest.raises(ValueError, match="temperature"):
        Agent(MODEL, api_key="k", base_url="http://127.0.0.1:9/v0", temperature=3)
    with pytest.raises(ValueError, match="max_tokens"):
        Agent(MODEL, api_key="k", base_url="http://127.0.0.1:9/v0", max_tokens=0)
