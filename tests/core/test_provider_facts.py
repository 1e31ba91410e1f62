"""The line beside each provider in the provider list: price, context window, measured speed."""

from __future__ import annotations

from tui_chat.core.conversation import Message
from tui_chat.core.provider_facts import facts_line, measured_speeds, short_count


def reply(
    served: str | None, tokens: int, duration_ms: float, ttft_ms: float, **kw: object
) -> Message:
    return Message(
        "assistant",
        "x",
        served_endpoint=served,
        completion_tokens=tokens,
        duration_ms=duration_ms,
        ttft_ms=ttft_ms,
        **kw,  # type: ignore[arg-type]
    )


def test_context_windows_are_short() -> None:
    assert [short_count(n) for n in (512, 8_192, 128_000, 131_072, 1_000_000, 1_048_576)] == [
        "512",
        "8.19k",
        "128k",
        "131k",
        "1M",
        "1.05M",
    ]


def test_the_line_has_prices_context_and_speed_and_leaves_out_what_is_unknown() -> None:
    assert facts_line(0.15, 0.6, 128_000, 310.4) == "$0.15/0.6 · 128k · 310 t/s"
    assert facts_line(0.12912, 0.16781, 131_072) == "$0.129/0.168 · 131k"
    assert facts_line(3, 15, 200_000) == "$3/15 · 200k"
    assert facts_line(0.000075, 0.0003, None) == "$0.000075/0.0003"
    assert facts_line(None, 0.6, 8_000) == "8k"  # half a price is no price
    assert facts_line(0, 0, None) == "$0/0"  # free is a price, shown
    assert facts_line(None, None, None, 0.0) == ""


def test_speeds_are_the_median_of_the_providers_own_finished_replies_for_that_model() -> None:
    messages = [
        Message("user", "hi"),
        reply("llama-3.1-8b-chat@groq", 100, 1_100, 100),  # 100 t/s
        reply("llama-3.1-8b-chat@groq", 300, 1_100, 100),  # 300 t/s
        reply("llama-3.1-8b-chat@groq", 200, 1_100, 100),  # 200 t/s
        reply("llama-3.1-8b-chat@together-ai", 50, 1_100, 100),  # 50 t/s
        reply("gpt-4o-mini@openai", 500, 1_100, 100),  # another model
        reply("llama-3.1-8b-chat@fireworks-ai", 500, 1_100, 100, tokens_estimated=True),
        reply(None, 500, 1_100, 100),  # no served endpoint known
        reply("llama-3.1-8b-chat@groq", 0, 0, 0),  # no rate
    ]
    assert measured_speeds(messages, "llama-3.1-8b-chat") == {"groq": 200.0, "together-ai": 50.0}


def test_openrouter_ids_keep_their_author() -> None:
    messages = [reply("meta-llama/llama-3.1-8b-instruct@groq", 100, 1_100, 100)]
    assert measured_speeds(messages, "meta-llama/llama-3.1-8b-instruct") == {"groq": 100.0}
    assert measured_speeds(messages, "llama-3.1-8b-instruct") == {"groq": 100.0}
