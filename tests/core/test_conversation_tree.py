"""The conversation as a tree: alternates, branches, what is shown and resent, and the spend."""

from __future__ import annotations

import pytest

from tui_chat.core.conversation import Conversation, Message
from tui_chat.core.events import Done, ServedEndpoint, TextDelta, Usage


def _finish(reply: Message, text: str, cost: float | None, served: str = "m@p") -> Message:
    for event in (
        ServedEndpoint(served),
        TextDelta(text),
        Usage(prompt_tokens=10, completion_tokens=5, cost=cost),
        Done("stop", ttft_ms=10.0, duration_ms=50.0),
    ):
        reply.apply(event)
    return reply


def _turn(conversation: Conversation, question: str, answer: str, cost: float = 0.001) -> Message:
    conversation.add_user(question)
    return _finish(conversation.start_reply("m@p"), answer, cost)


def test_a_linear_conversation_has_no_alternates() -> None:
    conversation = Conversation()
    reply = _turn(conversation, "Hi", "Hello")
    assert conversation.alternates(reply) == [reply]
    assert conversation.alternate_position(reply) == (1, 1)
    assert conversation.parent_of(reply) is conversation.messages[0]
    assert conversation.parent_of(conversation.messages[0]) is None
    assert not conversation.has_alternates
    assert conversation.all_messages() == conversation.messages


def test_regenerate_keeps_the_earlier_reply_as_an_alternate() -> None:
    conversation = Conversation()
    first = _turn(conversation, "Hi", "Hello", cost=0.001)
    second = conversation.start_alternate(first, "other@q", gateway="unify")
    _finish(second, "Hey there", 0.002, served="other@q")
    assert conversation.alternates(first) == [first, second]
    assert conversation.alternate_position(second) == (2, 2)
    assert conversation.messages[-1] is second
    assert conversation.api_messages() == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hey there"},
    ]
    # Each keeps its own provenance.
    assert (first.served_endpoint, first.cost) == ("m@p", 0.001)
    assert (second.served_endpoint, second.cost, second.gateway) == ("other@q", 0.002, "unify")


def test_the_alternate_shown_is_resent_from_then_on() -> None:
    conversation = Conversation()
    first = _turn(conversation, "Hi", "Hello")
    second = _finish(conversation.start_alternate(first, "m@p"), "Hey", 0.001)
    conversation.show_alternate(first)
    conversation.add_user("Next")
    sent = [m["content"] for m in conversation.api_messages()]
    assert sent == ["Hi", "Hello", "Next"]
    assert conversation.alternates(second) == [first, second]


def test_spend_counts_every_branch_and_branch_spend_the_one_shown() -> None:
    conversation = Conversation()
    first = _turn(conversation, "Hi", "Hello", cost=0.25)
    _finish(conversation.start_alternate(first, "m@p"), "Hey", 0.5)
    assert conversation.spend.amount == pytest.approx(0.75)
    assert conversation.total_cost == pytest.approx(0.75)
    assert conversation.branch_spend.amount == pytest.approx(0.5)


def test_editing_a_user_message_branches_and_the_old_branch_comes_back() -> None:
    conversation = Conversation()
    _turn(conversation, "one", "1")
    asked = conversation.add_user("two")
    answered = _finish(conversation.start_reply("m@p"), "2", 0.001)
    _turn(conversation, "three", "3")
    old_branch = list(conversation.messages)

    edited = Message(role="user", content="two, edited")
    conversation.add_alternate(asked, edited)
    assert [m.content for m in conversation.messages] == ["one", "1", "two, edited"]
    _finish(conversation.start_reply("m@p"), "2 again", 0.001)
    assert conversation.alternate_position(edited) == (2, 2)
    assert conversation.branch_point(edited) == 2

    # Back to the old user message: its whole continuation comes back as it was.
    conversation.show_alternate(asked)
    assert conversation.messages == old_branch
    assert conversation.messages[3] is answered
    # And forward again: the edited branch continues with its own reply.
    conversation.show_alternate(edited)
    assert [m.content for m in conversation.messages] == ["one", "1", "two, edited", "2 again"]


def test_flipping_continues_along_the_descendants_shown_most_recently() -> None:
    conversation = Conversation()
    _turn(conversation, "q", "a")
    question = conversation.messages[0]
    later = _turn(conversation, "q2", "b1")
    b2 = _finish(conversation.start_alternate(later, "m@p"), "b2", 0.001)
    conversation.show_alternate(later)  # b1 shown again below q2
    edited = Message(role="user", content="q edited")
    conversation.add_alternate(question, edited)
    conversation.show_alternate(question)
    assert conversation.messages[-1] is later  # not b2, the newest: b1 was shown last
    conversation.show_alternate(b2)
    conversation.show_alternate(edited)
    conversation.show_alternate(question)
    assert conversation.messages[-1] is b2


def test_a_retried_reply_removed_from_the_list_leaves_the_tree() -> None:
    conversation = Conversation()
    conversation.add_user("Hi")
    failed = conversation.start_reply("m@p")
    failed.mark_stopped()
    conversation.messages.remove(failed)  # what retry does
    again = _finish(conversation.start_reply("m@p"), "Hello", 0.001)
    assert conversation.alternates(again) == [again]
    assert failed not in conversation.all_messages()


def test_clear_forgets_every_branch() -> None:
    conversation = Conversation()
    first = _turn(conversation, "Hi", "Hello")
    conversation.start_alternate(first, "m@p")
    conversation.clear()
    assert conversation.messages == []
    assert conversation.all_messages() == []
    assert conversation.spend.amount == 0.0


def test_a_saved_tree_shows_the_branch_of_the_highest_ranks() -> None:
    saved = Conversation()
    first = _turn(saved, "Hi", "Hello")
    second = _finish(saved.start_alternate(first, "m@p"), "Hey", 0.001)
    saved.add_user("go on")
    saved.show_alternate(first)
    # As the store would reload it: every message, parents first, with its rank.
    loaded = Conversation()
    copies = {id(m): Message(role=m.role, content=m.content) for m in saved.all_messages()}
    for message in saved.all_messages():
        parent = saved.parent_of(message)
        loaded.attach(
            copies[id(message)],
            None if parent is None else copies[id(parent)],
            saved.shown_rank(message),
        )
    loaded.show_saved_branch()
    assert [m.content for m in loaded.messages] == ["Hi", "Hello"]
    loaded.show_alternate(copies[id(second)])
    assert [m.content for m in loaded.messages] == ["Hi", "Hey", "go on"]


def test_a_message_from_elsewhere_is_refused() -> None:
    conversation = Conversation()
    _turn(conversation, "Hi", "Hello")
    with pytest.raises(ValueError):
        conversation.show_alternate(Message(role="user", content="stranger"))
