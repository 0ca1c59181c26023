# cython: language_level=3
"""The chain's own values as compiled extension types (decisions.pyx): their C fields."""


cdef class Value:
    pass


cdef class InstrumentState(Value):
    cdef readonly double var_bps2
    cdef readonly long long vol_samples
    cdef readonly long long anchor_ns
    cdef readonly double anchor_mid
    cdef readonly double last_mid
    cdef readonly double bid_target
    cdef readonly double ask_target
    cdef readonly double tokens
    cdef readonly long long tokens_ns
    cdef readonly bint killed
    cdef readonly long long ticks


cdef class MarketView(Value):
    cdef readonly double bid_px
    cdef readonly double bid_qty
    cdef readonly double ask_px
    cdef readonly double ask_qty
    cdef readonly double mid
    cdef readonly long long age_ns
    cdef readonly long long book_state
    cdef readonly long long flags


cdef class SpreadDecision(Value):
    cdef readonly double mid
    cdef readonly double fair
    cdef readonly double half_spread_bps
    cdef readonly double model_skew_bps
    cdef readonly double sigma_bps
    cdef readonly double var_bps2
    cdef readonly long long vol_samples
    cdef readonly long long anchor_ns
    cdef readonly double anchor_mid


cdef class GuardDecision(Value):
    cdef readonly int guard_code   #: the ``Guard`` value (``guard`` gives the member)
    cdef readonly long long reasons
    cdef readonly double tokens
    cdef readonly bint killed


cdef class InventoryDecision(Value):
    cdef readonly double q
    cdef readonly double reservation
    cdef readonly double bid_px
    cdef readonly double bid_qty
    cdef readonly double ask_px
    cdef readonly double ask_qty


cdef class QueueDecision(Value):
    cdef readonly double bid_px
    cdef readonly double bid_qty
    cdef readonly bint bid_keep
    cdef readonly double ask_px
    cdef readonly double ask_qty
    cdef readonly bint ask_keep


# Each value's fields are set in one place, ``set_*`` (its Python ``__init__`` calls it too);
# ``new_*`` builds one for a compiled stage without argument parsing.


cdef inline void set_state(InstrumentState v, double var_bps2, long long vol_samples,
                           long long anchor_ns, double anchor_mid, double last_mid,
                           double bid_target, double ask_target, double tokens, long long tokens_ns,
                           bint killed, long long ticks) noexcept:
    v.var_bps2 = var_bps2
    v.vol_samples = vol_samples
    v.anchor_ns = anchor_ns
    v.anchor_mid = anchor_mid
    v.last_mid = last_mid
    v.bid_target = bid_target
    v.ask_target = ask_target
    v.tokens = tokens
    v.tokens_ns = tokens_ns
    v.killed = killed
    v.ticks = ticks


cdef inline InstrumentState new_state(double var_bps2, long long vol_samples, long long anchor_ns,
                                      double anchor_mid, double last_mid, double bid_target,
                                      double ask_target, double tokens, long long tokens_ns,
                                      bint killed, long long ticks):
    cdef InstrumentState v = InstrumentState.__new__(InstrumentState)
    set_state(v, var_bps2, vol_samples, anchor_ns, anchor_mid, last_mid, bid_target, ask_target,
              tokens, tokens_ns, killed, ticks)
    return v


cdef inline void set_view(MarketView v, double bid_px, double bid_qty, double ask_px,
                          double ask_qty, double mid, long long age_ns, long long book_state,
                          long long flags) noexcept:
    v.bid_px = bid_px
    v.bid_qty = bid_qty
    v.ask_px = ask_px
    v.ask_qty = ask_qty
    v.mid = mid
    v.age_ns = age_ns
    v.book_state = book_state
    v.flags = flags


cdef inline MarketView new_view(double bid_px, double bid_qty, double ask_px, double ask_qty,
                                double mid, long long age_ns, long long book_state, long long flags):
    cdef MarketView v = MarketView.__new__(MarketView)
    set_view(v, bid_px, bid_qty, ask_px, ask_qty, mid, age_ns, book_state, flags)
    return v


cdef inline void set_spread(SpreadDecision v, double mid, double fair, double half_spread_bps,
                            double model_skew_bps, double sigma_bps, double var_bps2,
                            long long vol_samples, long long anchor_ns, double anchor_mid) noexcept:
    v.mid = mid
    v.fair = fair
    v.half_spread_bps = half_spread_bps
    v.model_skew_bps = model_skew_bps
    v.sigma_bps = sigma_bps
    v.var_bps2 = var_bps2
    v.vol_samples = vol_samples
    v.anchor_ns = anchor_ns
    v.anchor_mid = anchor_mid


cdef inline SpreadDecision new_spread(double mid, double fair, double half_spread_bps,
                                      double model_skew_bps, double sigma_bps, double var_bps2,
                                      long long vol_samples, long long anchor_ns, double anchor_mid):
    cdef SpreadDecision v = SpreadDecision.__new__(SpreadDecision)
    set_spread(v, mid, fair, half_spread_bps, model_skew_bps, sigma_bps, var_bps2, vol_samples,
               anchor_ns, anchor_mid)
    return v


cdef inline void set_guard(GuardDecision v, int guard_code, long long reasons, double tokens,
                           bint killed) noexcept:
    v.guard_code = guard_code
    v.reasons = reasons
    v.tokens = tokens
    v.killed = killed


cdef inline GuardDecision new_guard(int guard_code, long long reasons, double tokens, bint killed):
    cdef GuardDecision v = GuardDecision.__new__(GuardDecision)
    set_guard(v, guard_code, reasons, tokens, killed)
    return v


cdef inline void set_inventory(InventoryDecision v, double q, double reservation, double bid_px,
                               double bid_qty, double ask_px, double ask_qty) noexcept:
    v.q = q
    v.reservation = reservation
    v.bid_px = bid_px
    v.bid_qty = bid_qty
    v.ask_px = ask_px
    v.ask_qty = ask_qty


cdef inline InventoryDecision new_inventory(double q, double reservation, double bid_px, double bid_qty,
                                            double ask_px, double ask_qty):
    cdef InventoryDecision v = InventoryDecision.__new__(InventoryDecision)
    set_inventory(v, q, reservation, bid_px, bid_qty, ask_px, ask_qty)
    return v


cdef inline void set_queue(QueueDecision v, double bid_px, double bid_qty, bint bid_keep,
                           double ask_px, double ask_qty, bint ask_keep) noexcept:
    v.bid_px = bid_px
    v.bid_qty = bid_qty
    v.bid_keep = bid_keep
    v.ask_px = ask_px
    v.ask_qty = ask_qty
    v.ask_keep = ask_keep


cdef inline QueueDecision new_queue(double bid_px, double bid_qty, bint bid_keep, double ask_px,
                                    double ask_qty, bint ask_keep):
    cdef QueueDecision v = QueueDecision.__new__(QueueDecision)
    set_queue(v, bid_px, bid_qty, bid_keep, ask_px, ask_qty, ask_keep)
    return v
