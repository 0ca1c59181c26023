"""An L2 order book per instrument under Binance's sequencing rules, with L1 from bookTicker.

Depth diffs received before the REST snapshot are buffered (the bridging diff
often arrives first). On the snapshot, stale diffs are dropped and the first
applied one must straddle ``lastUpdateId`` (spot: ``U <= id+1 <= u``; futures:
``U <= id <= u``, or ``pu == id``: it continues a snapshot taken between diffs);
after that every diff must follow the previous one (spot:
``U == prev u + 1``; futures: ``pu == prev u``). A gap clears L2 and marks the
book RESYNCING until a new snapshot; bookTicker keeps L1 current throughout. A
recording with no snapshot runs L1-only, with one warning. A snapshot that a
book in sequence is already past (a recording's periodic one) changes nothing.
"""

from __future__ import annotations

import logging
from collections import deque

from quotepipe.config import Config
from quotepipe.domain.snapshot import BOOK_EMPTY, BOOK_L1_ONLY, BOOK_RESYNCING, BOOK_VALID, LEVELS
from quotepipe.marketdata.book_side import BookSide
from quotepipe.marketdata.messages import BookTickerEvent, DepthEvent, Event, SnapshotEvent

log = logging.getLogger(__name__)

BUFFER_DIFFS = 5000        # diffs kept while waiting for a snapshot
L1_ONLY_WARN_DIFFS = 1000  # diffs without any snapshot before warning "L1-only" ...
L1_ONLY_WARN_NS = 5_000_000_000  # ... or this much receive time since the first one
DEFAULT_TICK = 1e-8  # the finest price step Binance lists: for a book whose instrument has no spec


class OrderBook:
    """One instrument's book. ``tick``: its price step, the sides' integer key (``BookSide``).

    ``top_dirty`` is set whenever what ``levels()`` returns may have changed (a diff
    inside the top ``LEVELS``, a snapshot, a gap, a state change, a bookTicker while
    L2 is not valid); the publisher clears it when it writes the depth block.
    """

    def __init__(self, inst: str, futures: bool, tick: float = DEFAULT_TICK) -> None:
        self.inst = inst
        self.futures = futures
        self.bids = BookSide(True, tick)
        self.asks = BookSide(False, tick)
        self.state = BOOK_EMPTY
        self.top_dirty = True
        self.last_id = -1          # u of the last applied diff (or the snapshot id)
        self._synced = False       # first diff after the snapshot applied
        self._buffer: deque[DepthEvent] = deque(maxlen=BUFFER_DIFFS)
        self._diffs_without_snapshot = 0
        self._first_diff_ns = -1
        self._warned_l1_only = False
        # L1 from bookTicker
        self.bt_id = -1
        self.bt = (0.0, 0.0, 0.0, 0.0, -1)  # bid px/qty, ask px/qty, update id: l1()'s shape
        # counters
        self.resyncs = 0
        self.crossed = 0
        self.applied = 0
        self.stale_dropped = 0
        self.snapshots = 0

    # ------------------------------------------------------------- updates
    def on_book_ticker(self, ev: BookTickerEvent) -> None:
        uid, bid, ask = ev.update_id, ev.bid_px, ev.ask_px
        if uid >= self.bt_id:
            self.bt_id = uid
            self.bt = (bid, ev.bid_qty, ask, ev.ask_qty, uid)
            if self.state is not BOOK_VALID:  # levels() shows the bookTicker's L1
                self.top_dirty = True
        if self.state is BOOK_EMPTY:
            self.state = BOOK_L1_ONLY
        if bid >= ask > 0:
            self.crossed += 1

    def on_snapshot(self, ev: SnapshotEvent) -> None:
        self.snapshots += 1
        if self.state is BOOK_VALID and ev.last_update_id <= self.last_id:
            return  # a book in sequence is already at or past it (a recorder's periodic snapshot)
        self.bids.seed(ev.bids)
        self.asks.seed(ev.asks)
        self.last_id = ev.last_update_id
        self._synced = False
        self.state = BOOK_RESYNCING  # until a diff bridges the snapshot
        self.top_dirty = True
        buffered = list(self._buffer)
        self._buffer.clear()
        for diff in buffered:
            self._apply(diff)

    def on_depth(self, ev: DepthEvent) -> bool:
        """Apply a diff; True when the L2 book changed."""
        if self.snapshots == 0:
            self._buffer.append(ev)
            self._diffs_without_snapshot += 1
            if self._first_diff_ns < 0:
                self._first_diff_ns = ev.recv_ns
            if not self._warned_l1_only and (
                    self._diffs_without_snapshot >= L1_ONLY_WARN_DIFFS
                    or ev.recv_ns - self._first_diff_ns >= L1_ONLY_WARN_NS):
                self._warned_l1_only = True
                log.warning("%s: %d depth diffs and no depth snapshot: running L1-only (bookTicker) "
                            "until a snapshot arrives", self.inst, self._diffs_without_snapshot)
            if self.state is BOOK_EMPTY:
                self.state = BOOK_L1_ONLY
                self.top_dirty = True
            return False
        if self.state is BOOK_RESYNCING and not self._synced and self.last_id < 0:
            self._buffer.append(ev)  # gap: wait for the next snapshot
            return False
        return self._apply(ev)

    def _apply(self, ev: DepthEvent) -> bool:
        lid = self.last_id
        if not self._synced:
            if (ev.last_id < lid) if self.futures else (ev.last_id <= lid):
                self.stale_dropped += 1
                return False
            bridge = lid if self.futures else lid + 1
            # futures: a diff that continues the snapshot exactly (pu == its id, as when the
            # snapshot was taken between two diffs) bridges it too
            if not (ev.first_id <= bridge <= ev.last_id or self.futures and ev.prev_id == lid):
                self._gap(ev)
                return False
            self._synced = True
            self.state = BOOK_VALID
            self.top_dirty = True
        elif (ev.prev_id != lid) if self.futures else (ev.first_id != lid + 1):
            self._gap(ev)
            return False
        if self.bids.apply(ev.bids) | self.asks.apply(ev.asks):  # both sides, always
            self.top_dirty = True
        self.last_id = ev.last_id
        self.applied += 1
        bid, ask = self.bids.best(), self.asks.best()
        if bid is not None and ask is not None and bid >= ask:
            self.crossed += 1
        return True

    def _gap(self, ev: DepthEvent) -> None:
        self.resyncs += 1
        self.bids.clear()
        self.asks.clear()
        self._synced = False
        self.last_id = -1
        self.state = BOOK_RESYNCING
        self.top_dirty = True
        self._buffer.clear()
        self._buffer.append(ev)

    # -------------------------------------------------------------- reading
    @property
    def mode(self) -> str:
        return "l2" if self.snapshots else "l1-only"

    def l1(self) -> tuple[float, float, float, float, int]:
        """Best bid px/qty, ask px/qty and update id from the freshest source."""
        if self.state is BOOK_VALID and self.last_id >= self.bt_id:
            bid, ask = self.bids.best_level(), self.asks.best_level()
            if bid is not None and ask is not None:
                return bid[0], bid[1], ask[0], ask[1], self.last_id
        return self.bt

    def levels(self) -> tuple[float, ...]:
        """Top levels: 5 bid px, 5 bid qty, 5 ask px, 5 ask qty (zeros where absent)."""
        if self.state is not BOOK_VALID:
            bid, bid_qty, ask, ask_qty, _ = self.bt
            pad = (0.0,) * (LEVELS - 1)
            return (bid, *pad, bid_qty, *pad, ask, *pad, ask_qty, *pad)
        return self.bids.top(LEVELS) + self.asks.top(LEVELS)

    def qty_at(self, side: int, price: float) -> float | None:
        """Quantity resting at ``price`` (side +1 bid, -1 ask); None when L2 is not valid."""
        if self.state is not BOOK_VALID:
            return None
        return (self.bids if side > 0 else self.asks).qty_at(price)


class BookSet:
    """Every configured instrument's book, last trade and update count.

    The one place that turns events into snapshot records, shared by the
    market-data process, ``quotepipe replay`` and ``quotepipe data inspect``.
    """

    def __init__(self, instrument_ids: list[str], ticks: list[float] | None = None) -> None:
        self.ids = list(instrument_ids)
        self.index = {iid: i for i, iid in enumerate(self.ids)}
        self.books = [OrderBook(iid, not iid.startswith("binance-spot:"), tick)
                      for iid, tick in zip(self.ids, ticks or [DEFAULT_TICK] * len(self.ids), strict=True)]
        self._slot = {iid: (i, self.books[i]) for iid, i in self.index.items()}  # one lookup per event
        n = len(self.ids)
        self.last_trade: list[tuple[float, float, int, int]] = [(0.0, 0.0, 0, 0)] * n
        self.exch_ns = [0] * n
        self.recv_ns = [0] * n
        self.md_seq = [0] * n

    @classmethod
    def of(cls, cfg: Config) -> BookSet:
        """The configured instruments' books, each keyed by its instrument's tick."""
        return cls([i.id for i in cfg.instruments], [i.tick_size for i in cfg.instruments])

    def off_tick(self) -> int:
        """Levels received off their instrument's tick grid (a ``tick_size`` that does not fit)."""
        return sum(b.bids.off_tick + b.asks.off_tick for b in self.books)

    def apply(self, ev: Event) -> int:
        """Apply one event; the instrument's index when its snapshot changed, else -1.

        Raises ``KeyError`` for an instrument that is not configured. Reads the events'
        raw ms fields rather than their ``*_ns``/``side`` properties: two in three
        events pass here, and the property calls cost about 2% of bench_md.
        """
        i, book = self._slot[ev.inst]
        t = type(ev)
        if t is BookTickerEvent:
            book.on_book_ticker(ev)  # type: ignore[arg-type]
            if ev.exch_ms:  # type: ignore[union-attr]
                self.exch_ns[i] = ev.exch_ms * 1_000_000  # type: ignore[union-attr]
        elif t is DepthEvent:
            if not book.on_depth(ev):  # type: ignore[arg-type]
                return -1
            self.exch_ns[i] = ev.exch_ms * 1_000_000  # type: ignore[union-attr]
        elif t is SnapshotEvent:
            book.on_snapshot(ev)  # type: ignore[arg-type]
        else:  # TradeEvent
            trade_ns = ev.trade_ms * 1_000_000  # type: ignore[union-attr]
            self.last_trade[i] = (ev.price, ev.qty, -1 if ev.buyer_maker else 1,  # type: ignore[union-attr]
                                  trade_ns)
            self.exch_ns[i] = trade_ns
        self.recv_ns[i] = ev.recv_ns
        self.md_seq[i] += 1
        return i

    def l1_record(self, i: int, publish_ns: int, l1: tuple | None = None) -> tuple:
        """The 14 L1 fields of the snapshot table for instrument ``i`` (``l1``: its
        ``OrderBook.l1()`` when the caller already has it)."""
        bid, bid_qty, ask, ask_qty, update_id = l1 or self.books[i].l1()
        px, qty, side, trade_ns = self.last_trade[i]
        return (bid, bid_qty, ask, ask_qty, px, qty, side, trade_ns, self.exch_ns[i],
                self.recv_ns[i], publish_ns, int(self.books[i].state),
                update_id if update_id > 0 else 0, self.md_seq[i])
