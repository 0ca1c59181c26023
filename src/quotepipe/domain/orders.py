"""Sides, order actions, resting orders, fills and ended orders.

A side is an index (``BID`` 0, ``ASK`` 1) where a pair of values is kept per
instrument, and a sign (+1 buy, -1 sell) in fills and trades.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec

BID, ASK = 0, 1   #: side indices
BUY, SELL = 1, -1  #: side signs


class Action(IntEnum):
    """An intent's action on one side. The ones that ask the venue to act (NEW, REPLACE,
    CANCEL) lie strictly between NONE and KEEP: ``NONE < a < KEEP`` is the one test of
    "acting" (two integer compares; a tuple membership test cost Emit 3.4% more instructions,
    which the instruction gate caught)."""

    NONE = 0     #: no order on this side, none wanted
    NEW = 1
    REPLACE = 2
    CANCEL = 3
    KEEP = 4


# Hot loops import the module-level names below instead of reading members off their classes
# (on CPython 3.11 an enum member read off its class costs about 70 ns, a module global a few):
# defined once, here.
NONE, NEW, REPLACE, CANCEL, KEEP = Action.NONE, Action.NEW, Action.REPLACE, Action.CANCEL, Action.KEEP


class RestingOrder(msgspec.Struct, frozen=True):
    """Our order resting at the venue, as the venue last published it."""

    order_id: int
    price: float
    qty: float           #: quantity left
    queue_ahead: float   #: estimated quantity ahead of us at our price
    level_qty: float     #: quantity at our level when we last looked (us excluded); UNSEEN when
    #: the venue cannot see the level (an L1-only book, behind the touch)
    placed_ns: int       #: event time it started resting


#: ``RestingOrder.level_qty`` of a level nobody can see: requeueing there gains nothing we can know,
#: so the queue rule keeps such an order (a level "no longer than max_join_queue")
UNSEEN = -1.0


class Fill(msgspec.Struct, frozen=True):
    slot: int
    side: int            #: +1 we bought, -1 we sold
    price: float
    qty: float
    t_ns: int
    fee_bps: float
    mid: float           #: mid when the fill happened
    target_px: float     #: the chain's latest target on that side (the fill price if none)
    queue_edge: float    #: share of the queue ahead at join that had gone by this fill
    order_id: int
    queue_ahead: float = 0.0  #: quantity ahead of the order when it joined its level (the paper
    #: venue's; not carried on the venue-events ring, the scoreboard needs only the queue edge)


class OrderEnd(msgspec.Struct, frozen=True):
    """A rested order left the book (filled, cancelled or replaced): its fill rate, and how far
    it had come up its queue."""

    slot: int
    side: int
    quoted: float
    filled: float
    t_ns: int
    queue_edge: float = 1.0  #: share of the queue ahead at join that had gone when it ended
