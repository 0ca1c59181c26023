"""Book-wide risk: limits over the whole book, beyond the per-instrument ones.

The venue (in the daemon) and replay feed ``BookRisk`` the book's total PnL,
its gross notional and whether every position is flat. A breach of any limit
(``risk.max_loss_usd`` of total loss, ``risk.max_drawdown_usd`` from the
peak of total PnL, ``risk.max_gross_notional_usd``) flattens the book: every
instrument quotes only the side that reduces its position, never more than the
position (``FLAG_BOOK_REDUCE``), with post-only orders inside the action
budget; once every position is flat the book is pulled (``FLAG_BOOK_PULL``).
The state latches until a config reload, like the per-instrument loss limit.
"""

from __future__ import annotations

from quotepipe.config import RiskConfig
from quotepipe.domain.guards import FLAG_BOOK_PULL, FLAG_BOOK_REDUCE

OK, FLATTEN, PULLED = 0, 1, 2
STATES = ("ok", "flatten", "pulled")
REASONS = ("", "max_loss_usd", "max_drawdown_usd", "max_gross_notional_usd")
#: the Guards flags of each state
STATE_FLAGS = (0, FLAG_BOOK_REDUCE, FLAG_BOOK_PULL)


class BookRisk:
    def __init__(self, cfg: RiskConfig) -> None:
        self.cfg = cfg
        self.state = OK
        self.reason = 0       #: index into REASONS of the limit that tripped
        self.peak_pnl = 0.0
        self.total_pnl = 0.0
        self.gross_usd = 0.0

    @property
    def enabled(self) -> bool:
        c = self.cfg
        return bool(c.max_loss_usd or c.max_drawdown_usd or c.max_gross_notional_usd)

    @property
    def flags(self) -> int:
        return STATE_FLAGS[self.state]

    def reconfigure(self, cfg: RiskConfig) -> None:
        """A reload: the new limits, and the latch released."""
        self.cfg = cfg
        self.state = OK
        self.reason = 0

    def update(self, total_pnl: float, gross_usd: float, flat: bool) -> bool:
        """The book now; True when the state changed."""
        self.total_pnl, self.gross_usd = total_pnl, gross_usd
        if total_pnl > self.peak_pnl:
            self.peak_pnl = total_pnl
        before = self.state
        if self.state == OK:
            c = self.cfg
            if c.max_loss_usd and total_pnl < -c.max_loss_usd:
                self.reason = 1
            elif c.max_drawdown_usd and self.peak_pnl - total_pnl > c.max_drawdown_usd:
                self.reason = 2
            elif c.max_gross_notional_usd and gross_usd > c.max_gross_notional_usd:
                self.reason = 3
            if self.reason:
                self.state = FLATTEN
        if self.state == FLATTEN and flat:
            self.state = PULLED
        return self.state != before

    def describe(self) -> str:
        return (f"book risk {STATES[self.state]}" + (f" ({REASONS[self.reason]})" if self.reason else "")
                + f": total PnL {self.total_pnl:.2f} USD, peak {self.peak_pnl:.2f}, "
                f"gross {self.gross_usd:,.0f} USD")
