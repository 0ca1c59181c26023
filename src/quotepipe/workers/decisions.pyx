# cython: language_level=3
"""The values the stages pass each other, and an instrument's state: compiled extension types.

Each is immutable (read-only fields, set once by its constructor) and compared by
value, like the ``msgspec`` structs they replace; the compiled stages read and
build them as C structs (a field read is one load, a value a few stores), where a
``msgspec`` struct cost them a generic attribute lookup a field and an argument
tuple per value. ``dto`` re-exports them with the chain's boundary values.
"""

from quotepipe.domain.guards import Guard

_GUARDS = tuple(Guard)


cdef class Value:
    """Base of the chain's values: compared, hashed, printed and pickled by their fields."""

    __struct_fields__ = ()

    cpdef tuple astuple(self):
        raise NotImplementedError

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.astuple() == (<Value>other).astuple()

    def __hash__(self):
        return hash((type(self).__name__, self.astuple()))

    def __repr__(self):
        body = ", ".join(f"{n}={v!r}" for n, v in zip(self.__struct_fields__, self.astuple()))
        return f"{type(self).__name__}({body})"

    def __reduce__(self):
        return type(self), self.astuple()


cdef class InstrumentState(Value):
    """What an instrument carries from one tick to the next."""

    __struct_fields__ = ("var_bps2", "vol_samples", "anchor_ns", "anchor_mid", "last_mid", "bid_target",
                         "ask_target", "tokens", "tokens_ns", "killed", "ticks")

    def __init__(self, double var_bps2=0.0, long long vol_samples=0, long long anchor_ns=0,
                 double anchor_mid=0.0, double last_mid=0.0, double bid_target=0.0,
                 double ask_target=0.0, double tokens=-1.0, long long tokens_ns=0, bint killed=False,
                 long long ticks=0):
        # var_bps2: EWMA of squared mid log-returns per interval, bps^2; anchor_ns, anchor_mid:
        # start of the current volatility interval and its mid; bid/ask_target: the last targets
        # emitted (0 = none); tokens: order-action budget, -1 = a full bucket on the first tick;
        # killed: the loss limit was hit, pulled until a config reload
        self.var_bps2 = var_bps2
        self.vol_samples = vol_samples
        self.anchor_ns = anchor_ns
        self.anchor_mid = anchor_mid
        self.last_mid = last_mid
        self.bid_target = bid_target
        self.ask_target = ask_target
        self.tokens = tokens
        self.tokens_ns = tokens_ns
        self.killed = killed
        self.ticks = ticks

    cpdef tuple astuple(self):
        return (self.var_bps2, self.vol_samples, self.anchor_ns, self.anchor_mid, self.last_mid,
                self.bid_target, self.ask_target, self.tokens, self.tokens_ns, self.killed, self.ticks)

    def unkilled(self):
        """This state with the loss-limit latch cleared (a config reload)."""
        return new_state(self.var_bps2, self.vol_samples, self.anchor_ns, self.anchor_mid, self.last_mid,
                         self.bid_target, self.ask_target, self.tokens, self.tokens_ns, False, self.ticks)


cdef class MarketView(Value):
    """FetchMD: a validated view of the snapshot (``age_ns``: tick time minus the update's event
    time; ``flags``: ``BookFlag`` bits)."""

    __struct_fields__ = ("bid_px", "bid_qty", "ask_px", "ask_qty", "mid", "age_ns", "book_state", "flags")

    def __init__(self, double bid_px, double bid_qty, double ask_px, double ask_qty, double mid,
                 long long age_ns, long long book_state, long long flags):
        self.bid_px = bid_px
        self.bid_qty = bid_qty
        self.ask_px = ask_px
        self.ask_qty = ask_qty
        self.mid = mid
        self.age_ns = age_ns
        self.book_state = book_state
        self.flags = flags

    cpdef tuple astuple(self):
        return (self.bid_px, self.bid_qty, self.ask_px, self.ask_qty, self.mid, self.age_ns,
                self.book_state, self.flags)


cdef class SpreadDecision(Value):
    """Spread: fair price, half-spread and the model's skew (the reservation shift per unit of
    normalised position), plus the new volatility state."""

    __struct_fields__ = ("mid", "fair", "half_spread_bps", "model_skew_bps", "sigma_bps", "var_bps2",
                         "vol_samples", "anchor_ns", "anchor_mid")

    def __init__(self, double mid, double fair, double half_spread_bps, double model_skew_bps,
                 double sigma_bps, double var_bps2, long long vol_samples, long long anchor_ns,
                 double anchor_mid):
        self.mid = mid
        self.fair = fair
        self.half_spread_bps = half_spread_bps
        self.model_skew_bps = model_skew_bps
        self.sigma_bps = sigma_bps
        self.var_bps2 = var_bps2
        self.vol_samples = vol_samples
        self.anchor_ns = anchor_ns
        self.anchor_mid = anchor_mid

    cpdef tuple astuple(self):
        return (self.mid, self.fair, self.half_spread_bps, self.model_skew_bps, self.sigma_bps,
                self.var_bps2, self.vol_samples, self.anchor_ns, self.anchor_mid)


cdef class GuardDecision(Value):
    """Guards: the guard, every reason that held, the token budget after refill (before this
    tick's actions) and the loss-limit latch."""

    __struct_fields__ = ("guard", "reasons", "tokens", "killed")

    def __init__(self, int guard, long long reasons, double tokens, bint killed):
        self.guard_code = Guard(guard)
        self.reasons = reasons
        self.tokens = tokens
        self.killed = killed

    @property
    def guard(self):
        return _GUARDS[self.guard_code]

    cpdef tuple astuple(self):
        return (self.guard, self.reasons, self.tokens, self.killed)


cdef class InventoryDecision(Value):
    """Inventory: the normalised position ``q`` in [-1, 1], the reservation price and the
    unrounded two-sided targets (qty 0 = no quote)."""

    __struct_fields__ = ("q", "reservation", "bid_px", "bid_qty", "ask_px", "ask_qty")

    def __init__(self, double q, double reservation, double bid_px, double bid_qty, double ask_px,
                 double ask_qty):
        self.q = q
        self.reservation = reservation
        self.bid_px = bid_px
        self.bid_qty = bid_qty
        self.ask_px = ask_px
        self.ask_qty = ask_qty

    cpdef tuple astuple(self):
        return (self.q, self.reservation, self.bid_px, self.bid_qty, self.ask_px, self.ask_qty)


cdef class QueueDecision(Value):
    """QueueAware: the targets after the queue logic; ``*_keep`` leaves the resting order alone."""

    __struct_fields__ = ("bid_px", "bid_qty", "bid_keep", "ask_px", "ask_qty", "ask_keep")

    def __init__(self, double bid_px, double bid_qty, bint bid_keep, double ask_px, double ask_qty,
                 bint ask_keep):
        self.bid_px = bid_px
        self.bid_qty = bid_qty
        self.bid_keep = bid_keep
        self.ask_px = ask_px
        self.ask_qty = ask_qty
        self.ask_keep = ask_keep

    cpdef tuple astuple(self):
        return (self.bid_px, self.bid_qty, self.bid_keep, self.ask_px, self.ask_qty, self.ask_keep)
