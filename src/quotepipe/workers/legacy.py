"""The legacy ``QuoteLoop``: the whole quoting logic as one routine over mutable state.

This is how the system looked before the refactor into stages, kept for
rollback (``pipeline.enabled=false``) and for shadow comparison. It computes
exactly what the stage chain computes (property tests hold them bit for bit
equal), but in one function, mutating a per-instrument ``_LegacyState``. It reads
guard, reason, action and book-state names as module globals, as the stages do
(``domain.guards``), not as members off their enum classes: the same mechanical
treatment, so that timing it against the chain compares the logic, not the lookups.
"""

from __future__ import annotations

import math
from time import perf_counter_ns
from typing import Any

from quotepipe.config import Config
from quotepipe.domain.guards import (
    BLACKLISTED,
    FLAG_BLACKLISTED,
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
    STALE,
    VOL_SPIKE,
    WIDE_SPREAD,
)
from quotepipe.domain.instrument import EPS, instrument_specs, round_ask, round_bid, round_lot
from quotepipe.domain.orders import CANCEL, KEEP, NEW, NONE, REPLACE
from quotepipe.domain.snapshot import BOOK_EMPTY, BookFlag, Snapshot
from quotepipe.shm.catalog import WORKER_STATS
from quotepipe.shm.stats import StatsBlock
from quotepipe.workers.dto import QuoteIntent, TickContext
from quotepipe.workers.pipeline import Sink
from quotepipe.workers.timing import BUFFER, StageTimes

_INF = float("inf")


class _LegacyState:
    __slots__ = ("var", "samples", "anchor_ns", "anchor_mid", "last_mid", "bid_target",
                 "ask_target", "tokens", "tokens_ns", "killed", "ticks")

    def __init__(self) -> None:
        self.var = 0.0
        self.samples = 0
        self.anchor_ns = 0
        self.anchor_mid = 0.0
        self.last_mid = 0.0
        self.bid_target = 0.0
        self.ask_target = 0.0
        self.tokens = -1.0
        self.tokens_ns = 0
        self.killed = False
        self.ticks = 0


class QuoteLoop:
    """One routine per tick; state mutated in place."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.specs = instrument_specs(cfg)
        self.state = [_LegacyState() for _ in cfg.instruments]

    def reload(self, cfg: Config) -> None:
        self.cfg = cfg
        self.specs = instrument_specs(cfg)
        for st in self.state:
            st.killed = False

    def on_tick(self, slot: int, snap: Snapshot, ctx: TickContext) -> QuoteIntent:  # noqa: C901, PLR0912, PLR0915
        cfg = self.cfg
        spec = self.specs[slot]
        st = self.state[slot]
        now = ctx.now_ns
        sc = cfg.spread
        gc = cfg.guards

        # --- validate the book
        bid, bid_qty, ask, ask_qty = snap.bid_px, snap.bid_qty, snap.ask_px, snap.ask_qty
        flags = 0
        if snap.book_state == BOOK_EMPTY:
            flags |= BookFlag.EMPTY
        if not (0.0 < bid < _INF and 0.0 < ask < _INF):
            flags |= BookFlag.BAD_PRICE
            mid = 0.0
        else:
            mid = (bid + ask) * 0.5
            if bid > ask:
                flags |= BookFlag.CROSSED
            elif bid == ask:
                flags |= BookFlag.LOCKED
        if not (0.0 < bid_qty < _INF and 0.0 < ask_qty < _INF):
            flags |= BookFlag.ZERO_SIZE
        invalid = flags & BookFlag.INVALID

        # --- volatility, fair price, half-spread
        fair = mid
        skew = 0.0
        if invalid:
            half = sc.min_half_spread_bps
        else:
            if st.anchor_mid <= 0.0:
                st.anchor_ns, st.anchor_mid = now, mid
            else:
                interval_ns = sc.vol_interval_ms * 1e6
                elapsed = now - st.anchor_ns
                if elapsed >= interval_ns:
                    r = math.log(mid / st.anchor_mid) * 1e4
                    sample = r * r * (interval_ns / elapsed)
                    st.var = sample if st.samples == 0 else st.var + sc.vol_alpha * (sample - st.var)
                    st.samples += 1
                    st.anchor_ns, st.anchor_mid = now, mid
            if sc.fair_price == "microprice":
                fair = (bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty)
            sigma_now = math.sqrt(st.var)
            if sc.model == "vol_adaptive":
                half = sc.base_half_spread_bps + sc.vol_mult * sigma_now
            elif sc.model == "fixed":
                half = sc.fixed_half_spread_bps
            elif sc.model == "avellaneda_stoikov":
                s2 = st.var * (sc.horizon_s * 1e3 / sc.vol_interval_ms)
                half = sc.gamma * s2 * 0.5 + math.log1p(sc.gamma / sc.kappa) / sc.gamma
                skew = sc.gamma * s2
            else:
                c1 = math.log1p(sc.gamma / sc.glft_k) / sc.gamma
                c2 = math.sqrt(sc.gamma / (2.0 * sc.glft_a * sc.glft_k)
                               * (1.0 + sc.gamma / sc.glft_k) ** (1.0 + sc.glft_k / sc.gamma))
                half = c1 + 0.5 * c2 * sigma_now
                skew = c2 * sigma_now
            if half < sc.min_half_spread_bps:
                half = sc.min_half_spread_bps
        sigma = math.sqrt(st.var)

        # --- guards
        reasons = 0
        if now - snap.recv_ns > gc.stale_ms * 1e6:
            reasons |= STALE
        if invalid:
            reasons |= INVALID_BOOK
        elif (ask - bid) / mid * 1e4 > gc.max_market_spread_bps:
            reasons |= WIDE_SPREAD
        if sigma > gc.vol_halt_bps:
            reasons |= VOL_SPIKE
        if st.killed or ctx.pnl_usd < -gc.max_loss_usd:
            st.killed = True
            reasons |= LOSS_LIMIT
        if ctx.weight <= 0.0 or ctx.weight_flags & FLAG_BLACKLISTED or spec.blacklisted:
            reasons |= BLACKLISTED
        if ctx.halted or ctx.weight_flags & FLAG_HALTED:
            reasons |= HALTED
        position = ctx.position
        if abs(position) >= spec.max_position:
            reasons |= POSITION_LIMIT
        if st.tokens < 0.0:
            tokens = gc.action_burst
        else:
            tokens = st.tokens + (now - st.tokens_ns) * gc.max_actions_per_s * 1e-9
            if tokens > gc.action_burst:
                tokens = gc.action_burst
        if tokens < 1.0:
            reasons |= RATE_LIMIT
        if reasons & PULL_REASONS:
            guard = PULL
        elif reasons & RATE_LIMIT:
            guard = HOLD
        elif reasons & POSITION_LIMIT:
            guard = REDUCE_ONLY
        else:
            guard = QUOTE

        # --- inventory, queue, emit
        tick = spec.tick
        weight = ctx.weight
        rb, ra = ctx.bid, ctx.ask
        actions: list[Any] = [NONE, 0.0, 0.0, NONE, 0.0, 0.0]
        if guard == HOLD:
            if rb is not None:
                actions[0:3] = [KEEP, rb.price, rb.qty]
            if ra is not None:
                actions[3:6] = [KEEP, ra.price, ra.qty]
        else:
            q = max(-1.0, min(1.0, position / spec.max_position))
            ic = cfg.inventory
            shift = (ic.skew_bps if ic.skew == "linear" else skew) * q
            res = fair * (1.0 - shift * 1e-4)
            targets = [0.0, 0.0, 0.0, 0.0]
            if guard != PULL:
                h = half * 1e-4
                base = spec.base_qty
                cap = base * ic.max_size_mult
                bq = min(cap, max(0.0, base * (1.0 - ic.size_skew * q)))
                aq = min(cap, max(0.0, base * (1.0 + ic.size_skew * q)))
                if q >= 1.0 or (guard == REDUCE_ONLY and position > 0.0):
                    bq = 0.0
                if q <= -1.0 or (guard == REDUCE_ONLY and position < 0.0):
                    aq = 0.0
                targets = [res * (1.0 - h), bq, res * (1.0 + h), aq]
            qc = cfg.queue
            if targets[1] > 0.0 or targets[3] > 0.0:
                best_bid_t, best_ask_t = round(bid / tick), round(ask / tick)
            join_limit = qc.max_join_queue * spec.base_qty
            for side in (1, -1):
                px, qty = (targets[0], targets[1]) if side > 0 else (targets[2], targets[3])
                resting = rb if side > 0 else ra
                out = 0 if side > 0 else 3
                if qty <= 0.0:
                    if resting is not None:
                        actions[out] = CANCEL
                    continue
                tolerance = max((qc.refresh_tolerance_ticks + EPS) * tick,
                                qc.refresh_tolerance_bps * 1e-4 * px)
                if (resting is not None
                        and abs(resting.price - px) <= tolerance
                        and (resting.queue_ahead <= qc.good_queue_fraction * resting.level_qty
                             or resting.level_qty <= join_limit)
                        and now - resting.placed_ns < qc.max_order_age_ms * 1e6
                        and (resting.price < ask if side > 0 else resting.price > bid)):
                    actions[out:out + 3] = [KEEP, resting.price, resting.qty]
                    continue
                if side > 0:
                    t = math.floor(px / tick + EPS)
                    if (t == best_bid_t and bid_qty > join_limit and t + 1 < best_ask_t
                            and (fair - (t + 1) * tick) / fair * 1e4 >= qc.min_edge_bps):
                        t += 1
                    t = min(t, best_ask_t - 1)
                    px = round_bid(t * tick, tick, spec.digits)
                else:
                    t = math.ceil(px / tick - EPS)
                    if (t == best_ask_t and ask_qty > join_limit and t - 1 > best_bid_t
                            and ((t - 1) * tick - fair) / fair * 1e4 >= qc.min_edge_bps):
                        t -= 1
                    t = max(t, best_bid_t + 1)
                    px = round_ask(t * tick, tick, spec.digits)
                qty = round_lot(qty * weight, spec.lot, spec.lot_digits)
                if qty > 0.0 and spec.notional_usd(px, qty) < spec.min_notional:
                    qty = 0.0
                if qty <= 0.0:
                    if resting is not None:
                        actions[out] = CANCEL
                elif resting is None:
                    actions[out:out + 3] = [NEW, px, qty]
                elif resting.price == px and resting.qty == qty:
                    actions[out:out + 3] = [KEEP, px, qty]
                else:
                    actions[out:out + 3] = [REPLACE, px, qty]

        spent = sum(1 for a in (actions[0], actions[3])
                    if a in (NEW, REPLACE, CANCEL))
        st.tokens = max(0.0, tokens - spent)
        st.tokens_ns = now
        st.last_mid = mid
        st.bid_target, st.ask_target = actions[1], actions[4]
        st.ticks += 1
        return QuoteIntent(spec.slot, now, actions[0], actions[1], actions[2],
                           actions[3], actions[4], actions[5], weight, guard, reasons, fair)


class LegacyRunner:
    """``QuoteLoop`` behind the runner interface: only the whole tick is timed."""

    mode = "legacy"

    def __init__(self, cfg: Config, sink: Sink, stats: StatsBlock | None = None) -> None:
        self.sink = sink
        self.stats = stats or StatsBlock.local(WORKER_STATS)
        self.loop = QuoteLoop(cfg)
        self.times = StageTimes(self.stats, stages=())
        self.configure(cfg)

    def configure(self, cfg: Config) -> None:
        self.loop.reload(cfg)
        self.times.flush()  # a reload keeps the timings taken so far
        self.times.deadline_ns = int(cfg.stage_budgets.deadline_us * 1000)

    def set_arrival(self, slot: int, fit: tuple[float, float] | None) -> None:
        """The frozen reference does not grow: it keeps the config's A and k (shadow shows the
        fit as differences)."""

    def warm(self, slot: int, snap: Snapshot, ctx: TickContext) -> None:
        """Nothing: the frozen loop mutates its state as it runs, so it cannot be rerun aside."""

    def tick(self, slot: int, snap: Snapshot, ctx: TickContext) -> QuoteIntent:
        t0 = perf_counter_ns()
        intent = self.loop.on_tick(slot, snap, ctx)
        self.sink(intent)
        t1 = perf_counter_ns()
        times = self.times
        n = times.n
        times.totals[n] = t1 - t0
        times.n = n = n + 1
        if n == BUFFER:
            times.flush()
        return intent
