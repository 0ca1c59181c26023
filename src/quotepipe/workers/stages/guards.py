"""Guards: QUOTE, REDUCE_ONLY, PULL or HOLD, with every reason that held.

PULL: stale data, invalid or crossed book, market spread too wide, volatility
spike, loss limit (latched in the state until a config reload), weight 0 or
blacklisted, shard halted, a book-wide risk limit once the book is flat.
REDUCE_ONLY: position at or beyond the limit, or a book-wide risk limit
breached (flatten: down to flat, within the action budget). HOLD:
the per-instrument order-action token bucket is empty, so resting orders stay
as they are (a PULL still goes through: cancelling is never rate-limited).
"""

from __future__ import annotations

from quotepipe.config import GuardsConfig
from quotepipe.domain.guards import (
    BLACKLISTED,
    BOOK_RISK,
    FLAG_BLACKLISTED,
    FLAG_BOOK_PULL,
    FLAG_BOOK_REDUCE,
    FLAG_HALTED,
    HALTED,
    HOLD,
    INVALID_BOOK,
    LOSS_LIMIT,
    POSITION_LIMIT,
    PULL,
    PULL_REASONS,
    QUOTE,
    RATE_LIMIT,
    REDUCE_ONLY,
    REDUCE_REASONS,
    STALE,
    VOL_SPIKE,
    WIDE_SPREAD,
)
from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.domain.snapshot import BookFlag
from quotepipe.workers.dto import GuardDecision, InstrumentState, MarketView, SpreadDecision, TickContext

_INVALID = BookFlag.INVALID


def guards(view: MarketView, sd: SpreadDecision, state: InstrumentState, ctx: TickContext,
           spec: InstrumentSpec, cfg: GuardsConfig) -> GuardDecision:
    reasons = 0
    if view.age_ns > cfg.stale_ms * 1e6:
        reasons |= STALE
    if view.flags & _INVALID:
        reasons |= INVALID_BOOK
    elif (view.ask_px - view.bid_px) / view.mid * 1e4 > cfg.max_market_spread_bps:
        reasons |= WIDE_SPREAD
    if sd.sigma_bps > cfg.vol_halt_bps:
        reasons |= VOL_SPIKE
    killed = state.killed or ctx.pnl_usd < -cfg.max_loss_usd
    if killed:
        reasons |= LOSS_LIMIT
    if ctx.weight <= 0.0 or spec.blacklisted:
        reasons |= BLACKLISTED
    if ctx.halted:
        reasons |= HALTED
    flags = ctx.weight_flags
    if flags:  # the allocator's or the book's flags: rare, so one test on the quoting path
        if flags & FLAG_BLACKLISTED:
            reasons |= BLACKLISTED
        if flags & FLAG_HALTED:
            reasons |= HALTED
        if flags & FLAG_BOOK_REDUCE:
            reasons |= BOOK_RISK           # flatten: reduce only
        elif flags & FLAG_BOOK_PULL:
            reasons |= BOOK_RISK | HALTED  # flat after a book limit: nothing more to quote
    if abs(ctx.position) >= spec.max_position:
        reasons |= POSITION_LIMIT

    burst = cfg.action_burst
    if state.tokens < 0.0:
        tokens = burst
    else:
        tokens = state.tokens + (ctx.now_ns - state.tokens_ns) * cfg.max_actions_per_s * 1e-9
        if tokens > burst:
            tokens = burst
    if tokens < 1.0:
        reasons |= RATE_LIMIT

    if reasons & PULL_REASONS:
        guard = PULL
    elif reasons & RATE_LIMIT:
        guard = HOLD
    elif reasons & REDUCE_REASONS:
        guard = REDUCE_ONLY
    else:
        guard = QUOTE
    return GuardDecision(guard, reasons, tokens, killed)
