"""The market-data process's per-update work: an event into the books, the snapshot into
the table, its announcement onto the owning shard's ring, a trade onto the trades ring.

In one place so that the md loop (``marketdata.process``) and ``bench_md_publish`` run the
same code. The depth block of a snapshot is written only when the book's best levels may
have changed (``OrderBook.top_dirty``); otherwise only the L1 head of the slot is, under the
same seqlock word, and the levels already there stay current.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from quotepipe.marketdata.book import BookSet
from quotepipe.marketdata.messages import Event, TradeEvent
from quotepipe.shm.ring import RingWriter
from quotepipe.shm.snapshots import SnapshotTable


class Publisher:
    """``ring_of[i]``: the ring of instrument ``i``'s shard."""

    def __init__(self, books: BookSet, table: SnapshotTable, ring_of: list[RingWriter],
                 trades: RingWriter, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.books = books
        self.write_full = table.table.write
        self.write_l1 = table.write_l1
        self.ring_of = ring_of
        self.write_trade = trades.write
        self.clock = clock
        self.publish_ns = 0       #: when the last snapshot was written
        self.full_writes = 0      #: snapshots written with their depth block

    def publish(self, ev: Event) -> int:
        """Apply ``ev``; the instrument's index when a snapshot was published, else -1."""
        books = self.books
        i = books.apply(ev)
        if i < 0:
            return -1
        book = books.books[i]
        if book.top_dirty:
            book.top_dirty = False
            levels = book.levels()  # before the stamp: publish_ns is when it is written
            publish_ns = self.clock()
            self.write_full(i, *books.l1_record(i, publish_ns), *levels)
            self.full_writes += 1
        else:
            publish_ns = self.clock()
            self.write_l1(i, *books.l1_record(i, publish_ns))
        self.ring_of[i].write(i, books.md_seq[i], publish_ns, ev.recv_ns)
        if type(ev) is TradeEvent:
            self.write_trade(i, ev.price, ev.qty, ev.side, ev.trade_ns, ev.recv_ns)
        self.publish_ns = publish_ns
        return i
