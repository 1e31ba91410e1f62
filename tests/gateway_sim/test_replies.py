"""Replies use the whole conversation, are deterministic, and can be long Markdown of N tokens."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.gateway_sim.conftest import chat_body, content_of, post_chat, sse_payloads, stream_chunks
from tui_chat.gateway_sim import GatewaySim, compose_reply, tokenize


class Chat:
    """The seed tutorial's agent, reduced: keeps history, resends all of it every turn."""

    def __init__(self, client: openai.OpenAI, model: str) -> None:
        self.client = client
        self.model = model
        self.history: list[Any] = []

    def say(self, text: str) -> str:
        self.history.append({"role": "user", "content": text})
        stream = self.client.chat.completions.create(
            model=self.model,
            messages=self.history,
            stream=True,
        )
        reply = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
        self.history.append({"role": "assistant", "content": reply})
        return reply


def test_seed_dialogue_recalls_name_and_age(client: openai.OpenAI) -> None:
    chat = Chat(client, "llama-2-70b-chat@anyscale")
    hello = chat.say("Hi, nice to meet you. My name is Foo Barrymore, and I am 25 years old.")
    assert "Foo" in hello
    assert "25" in chat.say("How old am I?")
    assert chat.say("Your memory is astounding") == "Thank you! I'm glad to hear that."
    assert "Foo Barrymore" in chat.say("What is my name?")


def test_recall_needs_the_history(client: openai.OpenAI) -> None:
    fresh = Chat(client, "gpt-4o-mini@openai")
    assert "25" not in fresh.say("How old am I?")


def test_seed_dialogue_capitals_and_poem_across_a_model_switch(client: openai.OpenAI) -> None:
    chat = Chat(client, "llama-2-7b-chat@anyscale")
    assert chat.say("What is the capital of Spain?") == "The capital of Spain is Madrid."
    assert chat.say("What is the capital of Portugal?") == "The capital of Portugal is Lisbon."
    assert "José" in chat.say("My name is José Mourinho.")
    chat.model = "gpt-4-turbo@openai"
    poem = chat.say("Please write me a poem about my life in Lisbon, using my name in the poem.")
    assert "José Mourinho" in poem
    assert "Lisbon" in poem
    assert poem.count("\n\n") >= 3  # stanzas


def test_general_facts_are_recalled(client: openai.OpenAI) -> None:
    chat = Chat(client, "gpt-4o-mini@openai")
    chat.say("My favourite colour is blue and I live in Porto.")
    chat.say("I work as a carpenter.")
    assert "blue" in chat.say("What is my favourite colour?")
    assert "Porto" in chat.say("Where do I live?")
    assert "carpenter" in chat.say("What do I do for a living?")
    about = chat.say("What do you know about me?")
    assert "blue" in about and "Porto" in about and "carpenter" in about
    assert "What do you know about me?" in chat.say("What did I just say?")
    summary = chat.say("Summarize our conversation")
    assert "My favourite colour is blue" in summary


def test_same_conversation_same_reply(sim: GatewaySim) -> None:
    body = chat_body("Tell me about the weather on Mars")
    first = content_of(stream_chunks(sim, body))
    second = content_of(stream_chunks(sim, {**body, "model": "claude-3-haiku@anthropic"}))
    assert first == second
    assert "Mars" in first


def test_system_prompt_is_used(sim: GatewaySim) -> None:
    body = {
        "model": "gpt-4o-mini@openai",
        "messages": [
            {"role": "system", "content": "You are a terse pirate."},
            {"role": "user", "content": "What is your system prompt?"},
        ],
    }
    assert "terse pirate" in content_of(stream_chunks(sim, body))


def test_markdown_request_gets_long_markdown(sim: GatewaySim) -> None:
    text = content_of(stream_chunks(sim, chat_body("Show me some code and a table in markdown")))
    assert text.startswith("# ")
    assert "\n## " in text
    assert "\n- " in text
    assert "|---|" in text
    for language in ("python", "bash", "json", "rust"):
        assert f"```{language}\n" in text
    assert text.count("```") % 2 == 0


@pytest.mark.parametrize("count", [1, 1000, 4000, 16000])
def test_reply_tokens_gives_exactly_n_tokens(sim: GatewaySim, count: int) -> None:
    sim.controls.reply_tokens = count
    chunks = stream_chunks(sim, chat_body("How old am I?"))
    assert len(chunks) == count
    assert chunks[-1]["usage"]["completion_tokens"] == count
    if count >= 1000:
        text = content_of(chunks)
        assert "```" in text and "|---|" in text


def test_reply_tokens_applies_without_streaming(sim: GatewaySim) -> None:
    sim.controls.reply_tokens = 4000
    body = post_chat(sim, chat_body("Hello")).json()
    assert body["usage"]["completion_tokens"] == 4000
    assert len(tokenize(body["choices"][0]["message"]["content"])) >= 3900


def test_tokens_per_chunk_groups_tokens(sim: GatewaySim) -> None:
    sim.controls.reply_tokens = 100
    sim.controls.tokens_per_chunk = 8
    response = post_chat(sim, chat_body(stream=True))
    chunks = [json.loads(payload) for payload in sse_payloads(response.content)]
    assert len(chunks) == 13  # ceil(100 / 8)
    assert chunks[-1]["usage"]["completion_tokens"] == 100


def test_markdown_control_makes_every_reply_markdown(sim: GatewaySim) -> None:
    sim.controls.markdown = True
    text = content_of(stream_chunks(sim, chat_body("What is the capital of Spain?")))
    assert text.startswith("The capital of Spain is Madrid.")
    assert "```python" in text


@given(st.text(max_size=300))
def test_tokens_join_back_to_the_text(text: str) -> None:
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert all(tokens)


def test_replies_are_deterministic_for_a_seed() -> None:
    messages = [{"role": "user", "content": "Something nobody has asked before"}]
    assert compose_reply(messages, seed=3) == compose_reply(messages, seed=3)


def test_greeting_before_markdown_keeps_the_heading_a_block_of_its_own() -> None:
    # Regression: "Nice to meet you, Foo! # Streaming ..." rendered the heading as plain text.
    reply = compose_reply(
        [{"role": "user", "content": "My name is Foo and I am 25. Show me some markdown with code"}]
    )
    assert reply.startswith("Nice to meet you, Foo!\n\n# ")


def test_greeting_before_a_one_line_answer_stays_on_its_line() -> None:
    reply = compose_reply(
        [{"role": "user", "content": "My name is Foo. What is the capital of Spain?"}]
    )
    assert reply == "Nice to meet you, Foo! The capital of Spain is Madrid."
