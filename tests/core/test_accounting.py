from __future__ import annotations

import pytest

from tui_chat.core.accounting import (
    blended_cost_per_m,
    estimate_cost,
    estimate_tokens,
    format_credits,
    plain_number,
    spent_line,
)
from tui_chat.core.conversation import Conversation, Message, Outcome


def test_cost_estimate_uses_prices_per_million_tokens() -> None:
    # 13 prompt tokens at $0.2/M and 26 completion tokens at $0.2/M
    assert estimate_cost(13, 26, 0.2, 0.2) == pytest.approx(7.8e-6)
    assert estimate_cost(1_000_000, 0, 3.0, 15.0) == pytest.approx(3.0)
    assert estimate_cost(None, 1_000_000, 3.0, 15.0) == pytest.approx(15.0)


def test_blended_cost_is_three_parts_input_to_one_part_output() -> None:
    assert blended_cost_per_m(0.8, 4.0) == pytest.approx(1.6)


def test_credits_are_formatted_like_the_seed() -> None:
    assert format_credits(0.000014) == "0.000014"
    assert format_credits(1.1e-06) == "0.000001"
    assert format_credits(0) == "0.000000"
    assert format_credits(None) == "unknown"
    assert spent_line(0.00026) == "(spent 0.000260 credits)"


def test_token_estimate_is_rough_but_never_zero_for_text() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("x" * 400) == 100


def test_reply_estimate_needs_both_prices() -> None:
    from dataclasses import dataclass

    from tui_chat.core.accounting import estimate_reply_cost

    @dataclass
    class Details:
        input_cost: float | None
        output_cost: float | None

    # 4,000 characters of prompt (1,000 tokens) at $1/M in, 500 reply tokens at $2/M out.
    assert estimate_reply_cost(4000, 500, Details(1.0, 2.0)) == pytest.approx(0.002)
    assert estimate_reply_cost(4000, 500, Details(None, 2.0)) is None
    assert estimate_reply_cost(4000, 500, Details(1.0, None)) is None


def test_a_conversation_total_says_what_it_holds() -> None:
    def reply(content: str, cost: float | None, estimated: bool = False) -> Message:
        return Message(
            role="assistant",
            content=content,
            cost=cost,
            cost_estimated=estimated,
            outcome=Outcome.COMPLETE,
        )

    conversation = Conversation()
    assert str(conversation.spend) == "0.000000"  # nothing sent: nothing spent
    conversation.messages.append(reply("a", None))
    assert str(conversation.spend) == "\u2013"  # regression: read 0.000000 with no figure known
    conversation.messages.append(reply("b", 0.5))
    assert str(conversation.spend) == "\u22650.500000"  # a lower bound: one cost is unknown
    conversation.messages[0].cost, conversation.messages[0].cost_estimated = 0.25, True
    assert str(conversation.spend) == "~0.750000"  # holds an estimate
    assert str(conversation.messages[0].spend) == "~0.250000"
    assert str(conversation.messages[1].spend) == "0.500000"
    assert spent_line(0.25, estimated=True) == "(spent ~0.250000 credits)"


def test_plain_numbers_never_use_exponents() -> None:
    # Regression: a spend cap of 0.00001 showed as "of 1e-05 cap".
    assert plain_number(1e-05) == "0.00001"
    assert plain_number(2.5) == "2.5"
    assert plain_number(1.0) == "1"
    assert plain_number(1e9) == "1000000000"
    assert plain_number(0.1) == "0.1"  # the shortest form, not 0.1000000000000000055…
