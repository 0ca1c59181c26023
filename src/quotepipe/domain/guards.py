"""Guard decisions, their reasons, and the allocator flags the Guards stage reads."""

from __future__ import annotations

from enum import IntEnum


class Guard(IntEnum):
    QUOTE = 0        #: quote both sides
    REDUCE_ONLY = 1  #: quote only the side that reduces the position
    PULL = 2         #: cancel everything
    HOLD = 3         #: order-action budget exhausted: leave resting orders as they are


class Reason:
    """Guard reasons, a bitmask: every reason that held on the tick is set."""

    STALE = 1 << 0
    INVALID_BOOK = 1 << 1
    WIDE_SPREAD = 1 << 2
    VOL_SPIKE = 1 << 3
    POSITION_LIMIT = 1 << 4
    LOSS_LIMIT = 1 << 5
    BLACKLISTED = 1 << 6
    HALTED = 1 << 7
    RATE_LIMIT = 1 << 8
    BOOK_RISK = 1 << 9  #: a book-wide risk limit: every instrument reduces only, then is pulled

    NAMES = ("stale", "invalid_book", "wide_spread", "vol_spike", "position_limit", "loss_limit",
             "blacklisted", "halted", "rate_limit", "book_risk")

    @classmethod
    def names(cls, mask: int) -> list[str]:
        return [n for b, n in enumerate(cls.NAMES) if mask >> b & 1]


# Hot loops import the module-level names below instead of reading members off their classes
# (on CPython 3.11 an enum member read off its class costs about 70 ns, a module global a few):
# defined once, here.
QUOTE, REDUCE_ONLY, PULL, HOLD = Guard.QUOTE, Guard.REDUCE_ONLY, Guard.PULL, Guard.HOLD
STALE, INVALID_BOOK, WIDE_SPREAD, VOL_SPIKE, POSITION_LIMIT = (
    Reason.STALE, Reason.INVALID_BOOK, Reason.WIDE_SPREAD, Reason.VOL_SPIKE, Reason.POSITION_LIMIT)
LOSS_LIMIT, BLACKLISTED, HALTED, RATE_LIMIT, BOOK_RISK = (
    Reason.LOSS_LIMIT, Reason.BLACKLISTED, Reason.HALTED, Reason.RATE_LIMIT, Reason.BOOK_RISK)

#: reasons that pull every quote
PULL_REASONS = (Reason.STALE | Reason.INVALID_BOOK | Reason.WIDE_SPREAD | Reason.VOL_SPIKE
                | Reason.LOSS_LIMIT | Reason.BLACKLISTED | Reason.HALTED)

#: flags the Guards stage reads with each weight: the allocator's (the weights array), and the
#: book-wide risk state's (``domain.risk``), which the worker or replay adds on
FLAG_BLACKLISTED = 1
FLAG_HALTED = 2
FLAG_BOOK_REDUCE = 4   #: book-wide limit breached: reduce only, down to flat
FLAG_BOOK_PULL = 8     #: book-wide limit breached and the book is flat: quote nothing
#: reasons that leave only the side that reduces the position
REDUCE_REASONS = Reason.POSITION_LIMIT | Reason.BOOK_RISK
