"""Billed vs reported: what the balance fell by over a reply, beside the cost it reported.

On a gateway that reports a balance, two readings of it around one reply say what that reply
was billed. The reported cost may differ: Unify's streamed cost is the provider's raw cost,
without Unify's markup; OpenRouter's usage accounting may differ from its credits.

Balance reads are asynchronous and may interleave with replies. A reading reflects the balance at
some moment between when it was asked for (``requested_at``) and when it came (``received_at``).
A difference is attributed to a reply only when it is the one reply that certainly happened
between two readings (it began after the first came and ended before the second was asked for)
and no other reply overlaps that window; otherwise the replies involved are "not attributable".

Times are seconds on the caller's one clock (the app's monotonic clock). No Textual.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Final, Literal

ROUNDING_ABS: Final = 0.000001  # credits: a balance shown to six decimals
ROUNDING_REL: Final = 0.005  # half a percent of the reported cost
"""A billed figure differs from the reported one beyond rounding when it is off by more than
``max(ROUNDING_ABS, ROUNDING_REL * reported)``."""

Verdict = Literal["billed", "not attributable"]


def differs(reported: float | None, billed: float | None) -> bool:
    """True when ``billed`` and ``reported`` (credits) differ beyond rounding."""
    if reported is None or billed is None:
        return False
    return abs(billed - reported) > max(ROUNDING_ABS, ROUNDING_REL * abs(reported))


@dataclass(frozen=True)
class Billing:
    """The outcome for one reply: billed (``billed`` credits) or not attributable (None)."""

    key: Hashable
    verdict: Verdict
    billed: float | None = None


@dataclass
class _Reply:
    started_at: float
    ended_at: float | None = None
    reported: float | None = None
    tainted: bool = False  # overlapped a reading: never attributable


@dataclass(frozen=True)
class _Reading:
    balance: float
    requested_at: float  # -inf when not known
    received_at: float


@dataclass
class Reconciliation:
    """The session's sums: reported and billed over the replies whose billing was measured,
    and the replies whose difference could not be attributed."""

    measured: int = 0
    reported: float = 0.0
    billed: float = 0.0
    not_attributable: int = 0
    differing: int = 0

    @property
    def difference(self) -> float:
        """Billed minus reported, credits (positive: the gateway took more than it said)."""
        return self.billed - self.reported


@dataclass
class BillingLedger:
    """Replies and balance readings in, billed figures out (``reading`` returns them)."""

    _replies: dict[Hashable, _Reply] = field(default_factory=dict)
    _last: _Reading | None = None
    totals: Reconciliation = field(default_factory=Reconciliation)

    def reply_started(self, key: Hashable, at: float) -> None:
        self._replies[key] = _Reply(started_at=at)

    def reply_ended(self, key: Hashable, at: float, reported: float | None) -> None:
        """The reply ``key`` ended at ``at`` having reported ``reported`` credits (None: no
        figure; such a reply is not attributable, there is nothing to compare)."""
        reply = self._replies.get(key)
        if reply is None:
            reply = self._replies[key] = _Reply(started_at=at)
        reply.ended_at, reply.reported = at, reported

    def forget(self, key: Hashable) -> None:
        """A reply removed (retried): it no longer counts anywhere."""
        self._replies.pop(key, None)

    def reading(
        self, balance: float, requested_at: float | None, received_at: float
    ) -> list[Billing]:
        """A balance reading came: the replies it settles, each billed or not attributable."""
        new = _Reading(balance, -math.inf if requested_at is None else requested_at, received_at)
        last = self._last
        if last is not None and requested_at is not None and requested_at < last.requested_at:
            return []  # an older read that came late: the newer one already counted
        self._last = new
        if last is None:
            # No balance before: replies that ended already cannot be measured.
            return self._settle([k for k, r in self._replies.items() if r.ended_at is not None])
        inside: list[Hashable] = []
        overlapping: list[Hashable] = []
        for key, reply in self._replies.items():
            if reply.started_at >= new.received_at:
                continue  # began after this reading: the next window's
            ended = reply.ended_at
            certainly_after_last = reply.started_at >= last.received_at
            certainly_before_new = ended is not None and ended <= new.requested_at
            if certainly_after_last and certainly_before_new and not reply.tainted:
                inside.append(key)
            else:
                overlapping.append(key)
        for key in overlapping:
            self._replies[key].tainted = True
        if len(inside) == 1 and not overlapping:
            (key,) = inside
            reply = self._replies.pop(key)
            billed = last.balance - balance
            if reply.reported is None:
                self.totals.not_attributable += 1
                return [Billing(key, "not attributable")]
            self.totals.measured += 1
            self.totals.reported += reply.reported
            self.totals.billed += billed
            self.totals.differing += differs(reply.reported, billed)
            return [Billing(key, "billed", billed)]
        finished = [k for k in (*inside, *overlapping) if self._replies[k].ended_at is not None]
        return self._settle(finished)

    def _settle(self, keys: list[Hashable]) -> list[Billing]:
        for key in keys:
            self._replies.pop(key, None)
        self.totals.not_attributable += len(keys)
        return [Billing(key, "not attributable") for key in keys]
