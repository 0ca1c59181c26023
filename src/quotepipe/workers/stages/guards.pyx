# cython: language_level=3
"""Guards: QUOTE, REDUCE_ONLY, PULL or HOLD, with every reason that held.

PULL: stale data, invalid or crossed book, market spread too wide, volatility
spike, loss limit (latched in the state until a config reload), weight 0 or
blacklisted, shard halted, a book-wide risk limit once the book is flat.
REDUCE_ONLY: position at or beyond the limit, or a book-wide risk limit
breached (flatten: down to flat, within the action budget). HOLD:
the per-instrument order-action token bucket is empty, so resting orders stay
as they are (a PULL still goes through: cancelling is never rate-limited).
"""

from libc.math cimport fabs

from quotepipe.workers.decisions cimport (
    GuardDecision,
    InstrumentState,
    MarketView,
    SpreadDecision,
    new_guard,
)
from quotepipe.domain.fields cimport check, f64, flag, i64, offset

from quotepipe.config import GuardsConfig
from quotepipe.domain import guards as g
from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.domain.snapshot import BookFlag
from quotepipe.workers.dto import TickContext

cdef long long INVALID = BookFlag.INVALID
cdef long long STALE = g.STALE, INVALID_BOOK = g.INVALID_BOOK, WIDE_SPREAD = g.WIDE_SPREAD
cdef long long VOL_SPIKE = g.VOL_SPIKE, LOSS_LIMIT = g.LOSS_LIMIT, BLACKLISTED = g.BLACKLISTED
cdef long long HALTED = g.HALTED, BOOK_RISK = g.BOOK_RISK, POSITION_LIMIT = g.POSITION_LIMIT
cdef long long RATE_LIMIT = g.RATE_LIMIT, PULL_REASONS = g.PULL_REASONS
cdef long long REDUCE_REASONS = g.REDUCE_REASONS
cdef long long FLAG_BLACKLISTED = g.FLAG_BLACKLISTED, FLAG_HALTED = g.FLAG_HALTED
cdef long long FLAG_BOOK_REDUCE = g.FLAG_BOOK_REDUCE, FLAG_BOOK_PULL = g.FLAG_BOOK_PULL
cdef int QUOTE = g.QUOTE, REDUCE_ONLY = g.REDUCE_ONLY, PULL = g.PULL, HOLD = g.HOLD

cdef object CONTEXT = TickContext, SPEC = InstrumentSpec, CONFIG = GuardsConfig
cdef Py_ssize_t NOW_NS = offset(TickContext, "now_ns"), POSITION = offset(TickContext, "position")
cdef Py_ssize_t PNL = offset(TickContext, "pnl_usd"), WEIGHT = offset(TickContext, "weight")
cdef Py_ssize_t WEIGHT_FLAGS = offset(TickContext, "weight_flags"), IS_HALTED = offset(TickContext, "halted")
cdef Py_ssize_t SPEC_BLACKLISTED = offset(InstrumentSpec, "blacklisted")
cdef Py_ssize_t MAX_POSITION = offset(InstrumentSpec, "max_position")
cdef Py_ssize_t STALE_MS = offset(GuardsConfig, "stale_ms")
cdef Py_ssize_t MAX_SPREAD = offset(GuardsConfig, "max_market_spread_bps")
cdef Py_ssize_t VOL_HALT = offset(GuardsConfig, "vol_halt_bps")
cdef Py_ssize_t MAX_LOSS = offset(GuardsConfig, "max_loss_usd")
cdef Py_ssize_t BURST = offset(GuardsConfig, "action_burst")
cdef Py_ssize_t ACTIONS_PER_S = offset(GuardsConfig, "max_actions_per_s")


cpdef GuardDecision guards(MarketView view, SpreadDecision sd, InstrumentState state, object ctx,
                           object spec, object cfg):
    check(ctx, CONTEXT)
    check(spec, SPEC)
    check(cfg, CONFIG)
    cdef long long reasons = 0
    cdef double weight = f64(ctx, WEIGHT), burst, tokens
    cdef long long flags
    cdef bint killed
    cdef int guard
    if view.age_ns > f64(cfg, STALE_MS) * 1e6:
        reasons |= STALE
    if view.flags & INVALID:
        reasons |= INVALID_BOOK
    elif (view.ask_px - view.bid_px) / view.mid * 1e4 > f64(cfg, MAX_SPREAD):
        reasons |= WIDE_SPREAD
    if sd.sigma_bps > f64(cfg, VOL_HALT):
        reasons |= VOL_SPIKE
    killed = state.killed or f64(ctx, PNL) < -f64(cfg, MAX_LOSS)
    if killed:
        reasons |= LOSS_LIMIT
    if weight <= 0.0 or flag(spec, SPEC_BLACKLISTED):
        reasons |= BLACKLISTED
    if flag(ctx, IS_HALTED):
        reasons |= HALTED
    flags = i64(ctx, WEIGHT_FLAGS)
    if flags:  # the allocator's or the book's flags: rare, so one test on the quoting path
        if flags & FLAG_BLACKLISTED:
            reasons |= BLACKLISTED
        if flags & FLAG_HALTED:
            reasons |= HALTED
        if flags & FLAG_BOOK_REDUCE:
            reasons |= BOOK_RISK           # flatten: reduce only
        elif flags & FLAG_BOOK_PULL:
            reasons |= BOOK_RISK | HALTED  # flat after a book limit: nothing more to quote
    if fabs(f64(ctx, POSITION)) >= f64(spec, MAX_POSITION):
        reasons |= POSITION_LIMIT

    burst = f64(cfg, BURST)
    if state.tokens < 0.0:
        tokens = burst
    else:
        tokens = state.tokens + (i64(ctx, NOW_NS) - state.tokens_ns) * f64(cfg, ACTIONS_PER_S) * 1e-9
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
    return new_guard(guard, reasons, tokens, killed)
