"""Billed vs reported (tui_chat/core/billing.py): a balance change is a reply's bill only when
that reply alone happened between two readings; interleaved replies and reads are not
attributable; late readings are ignored; the session totals reconcile."""

from __future__ import annotations

import pytest

from tui_chat.core.billing import Billing, BillingLedger, differs


def test_one_reply_between_two_readings_is_billed_the_change() -> None:
    ledger = BillingLedger()
    assert ledger.reading(10.0, requested_at=0.0, received_at=0.1) == []
    ledger.reply_started("a", 1.0)
    ledger.reply_ended("a", 2.0, reported=0.10)
    (billing,) = ledger.reading(9.895, requested_at=2.5, received_at=2.6)
    assert billing.key == "a" and billing.verdict == "billed"
    assert billing.billed == pytest.approx(0.105)
    totals = ledger.totals
    assert (totals.measured, totals.differing, totals.not_attributable) == (1, 1, 0)
    assert totals.reported == pytest.approx(0.10)
    assert totals.billed == pytest.approx(0.105)
    assert totals.difference == pytest.approx(0.005)


def test_two_replies_between_readings_are_not_attributable() -> None:
    ledger = BillingLedger()
    ledger.reading(10.0, 0.0, 0.1)
    for key, start in (("a", 1.0), ("b", 3.0)):
        ledger.reply_started(key, start)
        ledger.reply_ended(key, start + 1, reported=0.1)
    assert ledger.reading(9.8, 5.0, 5.1) == [
        Billing("a", "not attributable"),
        Billing("b", "not attributable"),
    ]
    assert ledger.totals.not_attributable == 2 and ledger.totals.measured == 0


def test_a_reply_streaming_while_the_balance_is_read_is_not_attributable() -> None:
    ledger = BillingLedger()
    ledger.reading(10.0, 0.0, 0.1)
    ledger.reply_started("a", 1.0)
    assert ledger.reading(9.95, 1.5, 1.6) == []  # a is still streaming: nothing settles
    ledger.reply_ended("a", 2.0, reported=0.1)
    # the next window holds a, but part of a's bill may be in the window before
    assert ledger.reading(9.9, 3.0, 3.1) == [Billing("a", "not attributable")]
    # and the reply after that is measured again
    ledger.reply_started("b", 4.0)
    ledger.reply_ended("b", 5.0, reported=0.2)
    assert ledger.reading(9.7, 6.0, 6.1) == [Billing("b", "billed", pytest.approx(0.2))]


def test_a_read_asked_for_before_the_reply_ended_does_not_close_its_window() -> None:
    ledger = BillingLedger()
    ledger.reading(10.0, 0.0, 0.1)
    ledger.reply_started("a", 1.0)
    ledger.reply_ended("a", 2.0, reported=0.1)
    # asked at 1.8 (a still streaming), came at 2.2: the balance may be before a's charge
    assert ledger.reading(10.0, 1.8, 2.2) == [Billing("a", "not attributable")]


def test_an_older_reading_that_comes_late_is_ignored() -> None:
    ledger = BillingLedger()
    ledger.reading(10.0, 5.0, 5.1)
    assert ledger.reading(11.0, 4.0, 5.2) == []
    ledger.reply_started("a", 6.0)
    ledger.reply_ended("a", 7.0, reported=0.5)
    assert ledger.reading(9.5, 8.0, 8.1) == [Billing("a", "billed", pytest.approx(0.5))]


def test_replies_before_the_first_reading_cannot_be_measured() -> None:
    ledger = BillingLedger()
    ledger.reply_started("a", 1.0)
    ledger.reply_ended("a", 2.0, reported=0.5)
    assert ledger.reading(9.5, 3.0, 3.1) == [Billing("a", "not attributable")]


def test_an_unknown_request_time_makes_its_window_not_attributable() -> None:
    ledger = BillingLedger()
    ledger.reading(10.0, 0.0, 0.1)
    ledger.reply_started("a", 1.0)
    ledger.reply_ended("a", 2.0, reported=0.5)
    assert ledger.reading(9.5, None, 3.0) == [Billing("a", "not attributable")]


def test_rounding_is_not_a_difference() -> None:
    assert not differs(0.1, 0.1004)
    assert differs(0.1, 0.106)
    assert not differs(0.000001, 0.0000015)
    assert not differs(None, 0.1)
