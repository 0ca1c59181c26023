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

    def astuple(self):
        """The fields' values, in ``__struct_fields__`` order."""
        return tuple([getattr(self, name) for name in self.__struct_fields__])

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.astuple() == other.astuple()

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
        set_state(self, var_bps2, vol_samples, anchor_ns, anchor_mid, last_mid, bid_target, ask_target,
                  tokens, tokens_ns, killed, ticks)


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
        set_view(self, bid_px, bid_qty, ask_px, ask_qty, mid, age_ns, book_state, flags)


cdef class SpreadDecision(Value):
    """Spread: fair price, half-spread and the model's skew (the reservation shift per unit of
    normalised position), plus the new volatility state."""

    __struct_fields__ = ("mid", "fair", "half_spread_bps", "model_skew_bps", "sigma_bps", "var_bps2",
                         "vol_samples", "anchor_ns", "anchor_mid")

    def __init__(self, double mid, double fair, double half_spread_bps, double model_skew_bps,
                 double sigma_bps, double var_bps2, long long vol_samples, long long anchor_ns,
                 double anchor_mid):
        set_spread(self, mid, fair, half_spread_bps, model_skew_bps, sigma_bps, var_bps2, vol_samples,
                   anchor_ns, anchor_mid)


cdef class GuardDecision(Value):
    """Guards: the guard, every reason that held, the token budget after refill (before this
    tick's actions) and the loss-limit latch."""

    __struct_fields__ = ("guard", "reasons", "tokens", "killed")

    def __init__(self, int guard, long long reasons, double tokens, bint killed):
        set_guard(self, Guard(guard), reasons, tokens, killed)

    @property
    def guard(self):
        return _GUARDS[self.guard_code]


cdef class InventoryDecision(Value):
    """Inventory: the normalised position ``q`` in [-1, 1], the reservation price and the
    unrounded two-sided targets (qty 0 = no quote)."""

    __struct_fields__ = ("q", "reservation", "bid_px", "bid_qty", "ask_px", "ask_qty")

    def __init__(self, double q, double reservation, double bid_px, double bid_qty, double ask_px,
                 double ask_qty):
        set_inventory(self, q, reservation, bid_px, bid_qty, ask_px, ask_qty)


cdef class QueueDecision(Value):
    """QueueAware: the targets after the queue logic; ``*_keep`` leaves the resting order alone."""

    __struct_fields__ = ("bid_px", "bid_qty", "bid_keep", "ask_px", "ask_qty", "ask_keep")

    def __init__(self, double bid_px, double bid_qty, bint bid_keep, double ask_px, double ask_qty,
                 bint ask_keep):
        set_queue(self, bid_px, bid_qty, bid_keep, ask_px, ask_qty, ask_keep)
