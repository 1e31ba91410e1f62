"""The conversation: what is resent each turn, what failed turns do, and the spend."""

from __future__ import annotations

from tui_chat.core.conversation import Conversation, Message, Outcome
from tui_chat.core.events import Done, ServedEndpoint, StreamError, TextDelta, Usage
from tui_chat.gateways.errors import InsufficientCreditsError, StreamInterrupted


def _complete_turn(conversation: Conversation, question: str, answer: str, cost: float) -> Message:
    conversation.add_user(question)
    reply = conversation.start_reply("llama-2-7b-chat@anyscale")
    for event in (
        ServedEndpoint("llama-2-7b-chat@anyscale"),
        TextDelta(answer),
        Usage(prompt_tokens=10, completion_tokens=5, cost=cost),
        Done("stop", ttft_ms=12.0, duration_ms=40.0),
    ):
        reply.apply(event)
    return reply


def test_whole_history_is_resent_in_order() -> None:
    conversation = Conversation()
    _complete_turn(conversation, "My name is José Mourinho.", "Nice to meet you José.", 0.000002)
    conversation.add_user("What is my name?")
    assert conversation.api_messages() == [
        {"role": "user", "content": "My name is José Mourinho."},
        {"role": "assistant", "content": "Nice to meet you José."},
        {"role": "user", "content": "What is my name?"},
    ]


def test_system_prompt_is_sent_first() -> None:
    conversation = Conversation(system_prompt="Be brief.")
    conversation.add_user("Hi")
    assert conversation.api_messages()[0] == {"role": "system", "content": "Be brief."}


def test_failed_turn_is_not_resent() -> None:
    conversation = Conversation()
    _complete_turn(conversation, "Hi", "Hello!", 0.1)
    conversation.add_user("Tell me a story")
    failed = conversation.start_reply("gpt-4o@openai")
    failed.apply(StreamError(InsufficientCreditsError("no credits", status=402)))
    conversation.add_user("Are you there?")
    assert conversation.api_messages() == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Are you there?"},
    ]
    assert failed.outcome is Outcome.ERROR
    assert failed.error is not None and "402" in failed.error
    # The failed turn stays in the history for display.
    assert len(conversation.messages) == 5


def test_failed_turn_with_partial_text_is_not_resent() -> None:
    conversation = Conversation()
    conversation.add_user("Write a poem")
    reply = conversation.start_reply("m@p")
    reply.apply(TextDelta("Roses are"))
    reply.apply(StreamError(InsufficientCreditsError("cut", status=None)))
    conversation.add_user("Again")
    assert conversation.api_messages() == [{"role": "user", "content": "Again"}]


def test_stopped_partial_reply_is_resent() -> None:
    conversation = Conversation()
    conversation.add_user("Write a poem")
    reply = conversation.start_reply("m@p")
    reply.apply(TextDelta("Roses are red,"))
    reply.mark_stopped()
    conversation.add_user("Go on")
    assert reply.outcome is Outcome.STOPPED
    assert conversation.api_messages() == [
        {"role": "user", "content": "Write a poem"},
        {"role": "assistant", "content": "Roses are red,"},
        {"role": "user", "content": "Go on"},
    ]


def test_stop_after_the_reply_finished_keeps_it_complete() -> None:
    conversation = Conversation()
    reply = _complete_turn(conversation, "Hi", "Hello", 0.0)
    reply.mark_stopped()
    assert reply.outcome is Outcome.COMPLETE


def test_empty_reply_is_not_resent() -> None:
    conversation = Conversation()
    conversation.add_user("Hi")
    reply = conversation.start_reply("m@p")
    assert conversation.api_messages() == [{"role": "user", "content": "Hi"}]
    reply.mark_stopped()
    assert conversation.api_messages() == [{"role": "user", "content": "Hi"}]


def test_reply_records_full_provenance() -> None:
    conversation = Conversation()
    reply = _complete_turn(conversation, "Hi", "Hello", 0.000014)
    assert reply.role == "assistant"
    assert reply.requested_endpoint == "llama-2-7b-chat@anyscale"
    assert reply.served_endpoint == "llama-2-7b-chat@anyscale"
    assert (reply.prompt_tokens, reply.completion_tokens, reply.cost) == (10, 5, 0.000014)
    assert (reply.ttft_ms, reply.duration_ms) == (12.0, 40.0)
    assert reply.outcome is Outcome.COMPLETE and reply.error is None
    assert reply.created_at > 0


def test_total_cost_sums_every_reply() -> None:
    conversation = Conversation()
    assert conversation.total_cost == 0.0
    _complete_turn(conversation, "a", "b", 0.000002)
    _complete_turn(conversation, "c", "d", 0.000260)
    conversation.add_user("e")
    conversation.start_reply("m@p").apply(StreamError(InsufficientCreditsError("x", status=402)))
    assert abs(conversation.total_cost - 0.000262) < 1e-12


def test_model_switch_keeps_history() -> None:
    conversation = Conversation()
    _complete_turn(conversation, "My name is José Mourinho.", "Okay.", 0.0)
    conversation.add_user("Write me a poem using my name.")
    reply = conversation.start_reply("gpt-4-turbo@openai")
    assert reply.requested_endpoint == "gpt-4-turbo@openai"
    assert conversation.api_messages()[0]["content"] == "My name is José Mourinho."


def test_last_reply_and_clear() -> None:
    conversation = Conversation(system_prompt="sys")
    assert conversation.last_reply is None
    reply = _complete_turn(conversation, "a", "b", 0.0)
    conversation.add_user("c")
    assert conversation.last_reply is reply
    conversation.clear()
    assert conversation.messages == []
    assert conversation.api_messages() == [{"role": "system", "content": "sys"}]


def test_done_without_times_keeps_times_the_caller_measured() -> None:
    conversation = Conversation()
    conversation.add_user("Hi")
    reply = conversation.start_reply("m@p")
    reply.ttft_ms, reply.duration_ms = 5.0, 9.0
    reply.apply(Done("stop"))
    assert (reply.ttft_ms, reply.duration_ms, reply.outcome) == (5.0, 9.0, Outcome.COMPLETE)


def test_reply_is_timed_on_the_callers_clock() -> None:
    reply = Message(role="assistant", content="")
    reply.begin(10.0)
    reply.apply(ServedEndpoint("m@p"), 10.1)
    reply.apply(TextDelta("Hello"), 10.25)
    reply.apply(TextDelta(" there"), 10.5)
    reply.end(11.25)
    assert reply.ttft_ms == 250.0  # the first text, not the first event
    assert reply.duration_ms == 1250.0


def test_the_gateways_own_timings_win_over_the_callers_clock() -> None:
    reply = Message(role="assistant", content="")
    reply.begin(10.0)
    reply.apply(TextDelta("Hi"), 10.5)
    reply.apply(Done("stop", ttft_ms=120.0, duration_ms=300.0), 10.6)
    reply.end(10.7)
    assert (reply.ttft_ms, reply.duration_ms) == (120.0, 300.0)


def test_reported_tokens_are_kept_and_not_marked() -> None:
    reply = Message(role="assistant", content="")
    reply.begin(0.0)
    for piece in ("one ", "two ", "three"):  # three chunks, not three tokens
        reply.apply(TextDelta(piece), 0.1)
    reply.apply(Usage(prompt_tokens=9, completion_tokens=7, cost=0.001), 0.2)
    reply.end(0.3)
    assert reply.completion_tokens == 7
    assert not reply.tokens_estimated


def test_without_usage_tokens_are_estimated_from_the_text_not_counted_in_chunks() -> None:
    reply = Message(role="assistant", content="")
    reply.begin(0.0)
    text = "x" * 240  # about 60 tokens, sent as 3 chunks
    for start in range(0, 240, 80):
        reply.apply(TextDelta(text[start : start + 80]), 0.1)
    assert reply.output_tokens == 60  # while streaming
    reply.mark_stopped()
    reply.end(0.5)
    assert reply.completion_tokens == 60
    assert reply.tokens_estimated


def test_an_empty_reply_gets_no_token_estimate() -> None:
    reply = Message(role="assistant", content="")
    reply.begin(0.0)
    reply.end(1.0)
    assert reply.completion_tokens is None
    assert not reply.tokens_estimated


def test_speed_counts_the_time_after_the_first_token() -> None:
    reply = Message(role="assistant", content="")
    reply.begin(0.0)
    reply.apply(TextDelta("a"), 1.0)
    assert reply.live_tokens_per_second(1.01) is None  # too early to say
    reply.apply(Usage(prompt_tokens=1, completion_tokens=100, cost=None), 3.0)
    assert reply.live_tokens_per_second(3.0) == 50.0
    reply.end(3.0)
    assert reply.tokens_per_second == 50.0


def test_finish_reasons_decide_how_the_reply_ended() -> None:
    for reason, outcome in [
        ("stop", Outcome.COMPLETE),
        ("tool_calls", Outcome.COMPLETE),
        ("length", Outcome.LENGTH),
        ("MAX_TOKENS", Outcome.LENGTH),
        ("content_filter", Outcome.FILTERED),
    ]:
        reply = Message(role="assistant", content="")
        reply.apply(TextDelta("some text"))
        reply.apply(Done(reason))
        assert reply.outcome is outcome, reason


def test_a_cut_reply_is_cut_not_failed_and_is_not_resent() -> None:
    conversation = Conversation()
    _complete_turn(conversation, "Hi", "Hello!", 0.1)
    conversation.add_user("Write a poem")
    reply = conversation.start_reply("m@p")
    reply.apply(TextDelta("Roses are"))
    reply.apply(StreamError(StreamInterrupted("ended without a finish reason")))
    assert reply.outcome is Outcome.CUT and reply.is_unfinished
    conversation.add_user("Again")
    assert conversation.api_messages()[-1:] == [{"role": "user", "content": "Again"}]
    assert len(conversation.api_messages()) == 3  # the cut turn is left out whole
    # with nothing received it is a plain failure
    empty = Message(role="assistant", content="")
    empty.apply(StreamError(StreamInterrupted("no data")))
    assert empty.outcome is Outcome.ERROR


def test_a_length_cut_reply_is_resent_as_the_model_left_it() -> None:
    conversation = Conversation()
    conversation.add_user("Write a poem")
    reply = conversation.start_reply("m@p")
    reply.apply(TextDelta("Roses are"))
    reply.apply(Done("length"))
    assert not reply.is_unfinished
    assert conversation.api_messages()[-1] == {"role": "assistant", "content": "Roses are"}


def test_a_stream_that_ends_with_no_finish_and_no_error_did_not_finish() -> None:
    reply = Message(role="assistant", content="")
    reply.apply(TextDelta("half"))
    reply.end_unfinished()
    assert reply.outcome is Outcome.CUT
    nothing = Message(role="assistant", content="")
    nothing.end_unfinished()
    assert nothing.outcome is Outcome.ERROR
    done = Message(role="assistant", content="")
    done.apply(Done("stop"))
    done.end_unfinished()
    assert done.outcome is Outcome.COMPLETE
