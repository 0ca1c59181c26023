"""Each stage on inputs built to trip one thing at a time."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotepipe.domain.guards import FLAG_BLACKLISTED, FLAG_HALTED, Guard, Reason
from quotepipe.domain.instrument import instrument_specs, round_ask, round_bid, round_lot
from quotepipe.domain.orders import Action
from quotepipe.domain.snapshot import BookFlag
from quotepipe.workers.dto import QuoteIntent
from quotepipe.workers.pipeline import PipelineRunner
from quotepipe.workers.stages import emit, fetch_md, guards, inventory, queue_aware, spread
from quotepipe.workers.trigger import TickGate
from tests.chain_helpers import LINEAR, T0, config, ctx, order, snap, state

CFG = config()
SPEC, INV_SPEC = instrument_specs(CFG)


def run_guards(s=None, c=None, st=None, cfg=CFG, spec=SPEC):
    s = s or snap()
    c = c or ctx()
    st = st or state()
    view = fetch_md(s, c.now_ns)
    sd = spread(view, st, c.now_ns, cfg.spread)
    return guards(view, sd, st, c, spec, cfg.guards)


# ------------------------------------------------------------------ FetchMD

@pytest.mark.parametrize(("s", "flag"), [
    (snap(bid=100.02, ask=100.0), BookFlag.CROSSED),
    (snap(bid=100.0, ask=100.0), BookFlag.LOCKED),
    (snap(bid=0.0), BookFlag.BAD_PRICE),
    (snap(ask=float("nan")), BookFlag.BAD_PRICE),
    (snap(ask=float("inf")), BookFlag.BAD_PRICE),
    (snap(bid_qty=0.0), BookFlag.ZERO_SIZE),
    (snap(ask_qty=float("nan")), BookFlag.ZERO_SIZE),
    (snap(state=0), BookFlag.EMPTY),
])
def test_fetch_md_flags_one_problem(s, flag):
    view = fetch_md(s, T0)
    assert view.flags == flag


def test_fetch_md_clean_book_and_age():
    view = fetch_md(snap(recv_ns=T0 - 7), T0)
    assert view.flags == 0
    assert view.mid == pytest.approx(100.01)
    assert view.age_ns == 7


# ------------------------------------------------------------------ Spread

def test_vol_adaptive_formula_and_ewma():
    cfg = CFG.spread
    st = state(anchor_ns=T0, anchor_mid=100.0, var_bps2=4.0, vol_samples=3)
    view = fetch_md(snap(bid=100.09, ask=100.11), T0 + int(cfg.vol_interval_ms * 1e6))
    sd = spread(view, st, T0 + int(cfg.vol_interval_ms * 1e6), cfg)
    r = math.log(100.10 / 100.0) * 1e4
    var = 4.0 + cfg.vol_alpha * (r * r - 4.0)
    assert sd.var_bps2 == pytest.approx(var)
    assert sd.half_spread_bps == pytest.approx(max(cfg.min_half_spread_bps,
                                                   cfg.base_half_spread_bps + cfg.vol_mult * math.sqrt(var)))
    assert sd.vol_samples == 4


def test_no_vol_sample_inside_the_interval():
    st = state(anchor_ns=T0, anchor_mid=100.0, var_bps2=4.0, vol_samples=3)
    sd = spread(fetch_md(snap(bid=101.0, ask=101.02), T0 + 1000), st, T0 + 1000, CFG.spread)
    assert (sd.var_bps2, sd.vol_samples, sd.anchor_ns) == (4.0, 3, T0)


def test_models_and_microprice():
    st = state(anchor_ns=T0, anchor_mid=100.01, var_bps2=1.0, vol_samples=5)
    s = snap(bid_qty=1.0, ask_qty=3.0)
    view = fetch_md(s, T0)
    fixed = spread(view, st, T0, config(spread={"model": "fixed", "fixed_half_spread_bps": 3.0}).spread)
    assert fixed.half_spread_bps == 3.0 and fixed.model_skew_bps == 0.0
    as_cfg = config(spread={"model": "avellaneda_stoikov"}).spread
    a = spread(view, st, T0, as_cfg)
    s2 = 1.0 * as_cfg.horizon_s * 1e3 / as_cfg.vol_interval_ms
    g, kappa = as_cfg.gamma, as_cfg.kappa
    assert a.half_spread_bps == pytest.approx(g * s2 / 2 + math.log(1 + g / kappa) / g)
    assert a.model_skew_bps == pytest.approx(as_cfg.gamma * s2)
    g = spread(view, st, T0, config(spread={"model": "glft"}).spread)
    assert g.half_spread_bps > 0 and g.model_skew_bps > 0
    micro = spread(view, st, T0, config(spread={"fair_price": "microprice"}).spread)
    assert micro.fair == pytest.approx((100.0 * 3.0 + 100.02 * 1.0) / 4.0)
    assert micro.fair < view.mid  # more size on the ask: fair leans to the bid


# ------------------------------------------------------------------ Guards

def test_clean_input_quotes_without_reasons():
    gd = run_guards()
    assert (gd.guard, gd.reasons) == (Guard.QUOTE, 0)


@pytest.mark.parametrize(("kw", "reason", "guard"), [
    ({"s": snap(recv_ns=T0 - int(CFG.guards.stale_ms * 1e6) - 1)}, Reason.STALE, Guard.PULL),
    ({"s": snap(bid=100.03)}, Reason.INVALID_BOOK, Guard.PULL),
    ({"s": snap(bid=99.0, ask=100.0)}, Reason.WIDE_SPREAD, Guard.PULL),
    ({"st": state(var_bps2=(CFG.guards.vol_halt_bps + 1) ** 2, vol_samples=9)}, Reason.VOL_SPIKE,
     Guard.PULL),
    ({"c": ctx(pnl=-CFG.guards.max_loss_usd - 1)}, Reason.LOSS_LIMIT, Guard.PULL),
    ({"c": ctx(weight=0.0)}, Reason.BLACKLISTED, Guard.PULL),
    ({"c": ctx(flags=FLAG_BLACKLISTED)}, Reason.BLACKLISTED, Guard.PULL),
    ({"c": ctx(halted=True)}, Reason.HALTED, Guard.PULL),
    ({"c": ctx(flags=FLAG_HALTED)}, Reason.HALTED, Guard.PULL),
    ({"c": ctx(position=CFG.guards.max_position * LINEAR.base_qty)}, Reason.POSITION_LIMIT,
     Guard.REDUCE_ONLY),
    ({"st": state(tokens=0.0, tokens_ns=T0)}, Reason.RATE_LIMIT, Guard.HOLD),
])
def test_each_guard_trips_on_its_own_input_only(kw, reason, guard):
    gd = run_guards(**kw)
    assert gd.reasons == reason, Reason.names(gd.reasons)
    assert gd.guard == guard


def test_just_inside_each_limit_does_not_trip():
    g = CFG.guards
    assert run_guards(s=snap(recv_ns=T0 - int(g.stale_ms * 1e6))).reasons == 0
    assert run_guards(c=ctx(pnl=-g.max_loss_usd)).reasons == 0
    assert run_guards(c=ctx(position=g.max_position * LINEAR.base_qty * 0.999)).reasons == 0
    assert run_guards(st=state(tokens=0.0, tokens_ns=T0 - int(1e9 / g.max_actions_per_s))).reasons == 0


def test_blacklist_from_config():
    cfg = config(guards={"blacklist": [LINEAR.id]})
    gd = run_guards(cfg=cfg, spec=instrument_specs(cfg)[0])
    assert gd.reasons == Reason.BLACKLISTED


def test_loss_limit_latches_until_reload():
    out: list[QuoteIntent] = []
    runner = PipelineRunner(CFG, out.append)
    runner.tick(0, snap(), ctx(pnl=-1e9))
    again = runner.tick(0, snap(recv_ns=T0 + 1), ctx(now=T0 + 1, pnl=0.0))
    assert again.reasons & Reason.LOSS_LIMIT and again.guard == Guard.PULL
    runner.configure(CFG)  # a config reload resets the kill switch
    after = runner.tick(0, snap(recv_ns=T0 + 2), ctx(now=T0 + 2, pnl=0.0))
    assert after.guard == Guard.QUOTE


def test_reduce_only_quotes_only_the_reducing_side():
    limit = CFG.guards.max_position * LINEAR.base_qty
    runner = PipelineRunner(CFG, lambda i: None)
    long = runner.tick(0, snap(), ctx(position=limit))
    assert long.guard == Guard.REDUCE_ONLY
    assert (long.bid_action, long.ask_action) == (Action.NONE, Action.NEW)
    short2 = PipelineRunner(CFG, lambda i: None).tick(0, snap(), ctx(position=-limit))
    assert (short2.bid_action, short2.ask_action) == (Action.NEW, Action.NONE)


def test_rate_limit_holds_resting_orders():
    runner = PipelineRunner(CFG, lambda i: None)
    runner.states[0] = state(tokens=0.0, tokens_ns=T0)
    bid, ask = order(99.5), order(100.5)
    intent = runner.tick(0, snap(), ctx(bid=bid, ask=ask))
    assert intent.guard == Guard.HOLD
    assert (intent.bid_action, intent.bid_px, intent.ask_action, intent.ask_px) == (
        Action.KEEP, 99.5, Action.KEEP, 100.5)


# ------------------------------------------------------------------ Inventory

def _inv(position: float):
    c = ctx(position=position)
    view = fetch_md(snap(), T0)
    sd = spread(view, state(), T0, CFG.spread)
    gd = guards(view, sd, state(), c, SPEC, CFG.guards)
    return inventory(sd, gd, c, SPEC, CFG.inventory)


def test_inventory_skews_prices_and_sizes_against_the_position():
    flat, long, short = _inv(0.0), _inv(5.0), _inv(-5.0)
    assert long.bid_px < flat.bid_px and long.ask_px < flat.ask_px
    assert short.bid_px > flat.bid_px and short.ask_px > flat.ask_px
    assert long.bid_qty < flat.bid_qty < long.ask_qty
    assert short.ask_qty < flat.ask_qty < short.bid_qty
    assert long.reservation == pytest.approx(flat.reservation * (1 - CFG.inventory.skew_bps * 0.5e-4))


def test_inventory_model_skew_uses_the_spread_model():
    cfg = config(spread={"model": "avellaneda_stoikov"}, inventory={"skew": "model"})
    st = state(anchor_ns=T0, anchor_mid=100.01, var_bps2=2.0, vol_samples=3)
    c = ctx(position=5.0)
    view = fetch_md(snap(), T0)
    sd = spread(view, st, T0, cfg.spread)
    gd = guards(view, sd, st, c, SPEC, cfg.guards)
    inv = inventory(sd, gd, c, SPEC, cfg.inventory)
    assert inv.reservation == pytest.approx(sd.fair * (1 - sd.model_skew_bps * 0.5 * 1e-4))


# ------------------------------------------------------------------ QueueAware

def _queue(c, s=None, cfg=CFG):
    s = s or snap()
    view = fetch_md(s, c.now_ns)
    sd = spread(view, state(), c.now_ns, cfg.spread)
    gd = guards(view, sd, state(), c, SPEC, cfg.guards)
    inv = inventory(sd, gd, c, SPEC, cfg.inventory)
    return inv, queue_aware(view, sd, inv, c, SPEC, cfg.queue)


def test_queue_keeps_an_order_within_tolerance_with_a_good_place():
    inv, _ = _queue(ctx())
    near = round_bid(inv.bid_px, 0.01, 2) - 0.01
    _, qd = _queue(ctx(bid=order(near, queue_ahead=0.5, level_qty=2.0)))
    assert qd.bid_keep and qd.bid_px == near
    _, short_level = _queue(ctx(bid=order(near, queue_ahead=1.9, level_qty=2.0)))
    assert short_level.bid_keep  # a short level: requeueing would gain nothing
    long_level = CFG.queue.max_join_queue * LINEAR.base_qty * 2
    _, bad_place = _queue(ctx(bid=order(near, queue_ahead=0.9 * long_level, level_qty=long_level)))
    assert not bad_place.bid_keep
    far = near - 0.05
    _, too_far = _queue(ctx(bid=order(far)))
    assert not too_far.bid_keep
    old = order(near, placed_ns=T0 - int(CFG.queue.max_order_age_ms * 1e6))
    _, too_old = _queue(ctx(bid=old))
    assert not too_old.bid_keep


def test_queue_steps_ahead_of_a_long_queue_when_edge_remains():
    cfg = config(spread={"model": "fixed", "fixed_half_spread_bps": 1.0, "min_half_spread_bps": 0.1},
                 queue={"min_edge_bps": 0.1, "max_join_queue": 10.0})
    # mid 100.015, half-spread 1 bps: targets 100.005 / 100.025 round to the touch
    long_queue = snap(bid=100.0, ask=100.03, bid_qty=50.0, ask_qty=50.0)
    _, qd = _queue(ctx(), long_queue, cfg)
    assert qd.bid_px == pytest.approx(100.01) and qd.ask_px == pytest.approx(100.02)
    short_queue = snap(bid=100.0, ask=100.03, bid_qty=5.0, ask_qty=5.0)
    _, qd2 = _queue(ctx(), short_queue, cfg)
    assert qd2.bid_px == pytest.approx(100.0) and qd2.ask_px == pytest.approx(100.03)
    no_edge = config(spread={"model": "fixed", "fixed_half_spread_bps": 1.0, "min_half_spread_bps": 0.1},
                     queue={"min_edge_bps": 1.0, "max_join_queue": 10.0})
    _, qd3 = _queue(ctx(), long_queue, no_edge)
    assert qd3.bid_px == pytest.approx(100.0) and qd3.ask_px == pytest.approx(100.03)


def test_queue_never_crosses_the_book():
    cfg = config(spread={"model": "fixed", "fixed_half_spread_bps": 0.1, "min_half_spread_bps": 0.0})
    # a skewed reservation would cross the ask without post-only clamping
    _, qd = _queue(ctx(position=-9.0), snap(bid=100.0, ask=100.01), cfg)
    assert qd.bid_px < 100.01 and qd.ask_px > 100.0


# ------------------------------------------------------------------ Emit

def test_rounding_directions_and_lots():
    assert round_bid(100.019, 0.01, 2) == 100.01
    assert round_ask(100.011, 0.01, 2) == 100.02
    assert round_bid(100.02, 0.01, 2) == 100.02 and round_ask(100.02, 0.01, 2) == 100.02
    assert round_lot(1.23456, 0.001, 3) == 1.234
    assert round_lot(0.0009, 0.001, 3) == 0.0


def _emit(qd_kw, c=None, spec=SPEC, guard=Guard.QUOTE):
    from quotepipe.workers.dto import GuardDecision, QueueDecision
    c = c or ctx()
    qd = QueueDecision(**{"bid_px": 99.987, "bid_qty": 1.2345, "bid_keep": False, "ask_px": 100.033,
                          "ask_qty": 1.2345, "ask_keep": False, **qd_kw})
    view = fetch_md(snap(), c.now_ns)
    sd = spread(view, state(), c.now_ns, CFG.spread)
    gd = GuardDecision(guard, 0, 10.0, False)
    out: list[QuoteIntent] = []
    intent, new_state = emit(qd, gd, sd, state(), c, spec, out.append)
    assert out == [intent]
    return intent, new_state


def test_emit_rounds_and_sizes():
    intent, st = _emit({})
    assert (intent.bid_action, intent.bid_px, intent.bid_qty) == (Action.NEW, 99.98, 1.234)
    assert (intent.ask_action, intent.ask_px, intent.ask_qty) == (Action.NEW, 100.04, 1.234)
    assert st.tokens == 8.0 and st.bid_target == 99.98


def test_emit_weight_scales_size_and_zero_weight_quotes_nothing():
    half, _ = _emit({}, ctx(weight=0.5))
    assert half.bid_qty == 0.617
    none, _ = _emit({}, ctx(weight=0.0))
    assert (none.bid_action, none.ask_action) == (Action.NONE, Action.NONE)
    runner = PipelineRunner(CFG, lambda i: None)
    pulled = runner.tick(0, snap(), ctx(weight=0.0, bid=order(99.9)))
    assert (pulled.bid_action, pulled.ask_action) == (Action.CANCEL, Action.NONE)


def test_emit_min_notional_linear_and_inverse():
    small, _ = _emit({"bid_qty": 0.04})  # 0.04 * 99.98 = 4 USD < 5
    assert small.bid_action == Action.NONE and small.ask_action == Action.NEW
    inv_spec = msgspec.structs.replace(INV_SPEC, min_notional=25.0)
    # inverse: notional = contracts x 10 USD, whatever the price
    inv, _ = _emit({"bid_qty": 2.0, "ask_qty": 3.0, "bid_px": 99.95, "ask_px": 100.05}, spec=inv_spec)
    assert inv.bid_action == Action.NONE and (inv.ask_action, inv.ask_qty) == (Action.NEW, 3.0)
    assert INV_SPEC.notional_usd(100.0, 3.0) == 30.0


def test_emit_compares_with_resting_orders():
    same = order(99.98, 1.234)
    other = order(99.90, 1.234)
    i1, _ = _emit({}, ctx(bid=same, ask=order(100.04, 1.0)))
    assert (i1.bid_action, i1.ask_action) == (Action.KEEP, Action.REPLACE)
    i2, _ = _emit({"bid_qty": 0.0}, ctx(bid=other))
    assert i2.bid_action == Action.CANCEL and i2.ask_action == Action.NEW


# ------------------------------------------------------------------ determinism

def test_same_inputs_three_times_give_identical_outputs():
    from quotepipe.gate.workload import build_workload

    wl = build_workload(CFG_SYN, limit=3000)
    runs = []
    for _ in range(3):
        out: list[QuoteIntent] = []
        runner = PipelineRunner(CFG_SYN, out.append)
        for slot, s, c in wl:
            runner.tick(slot, s, c)
        runs.append(msgspec.json.encode(out))
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) > 1000


CFG_SYN = config()


def test_stage_times_spans_total_and_deadline_misses_at_flush():
    """Sampled clock marks become per-stage durations; every tick's total is counted and
    checked against the deadline, sampled or not."""
    from quotepipe.domain.stages import STAGES
    from quotepipe.shm.catalog import WORKER_STATS
    from quotepipe.shm.stats import StatsBlock
    from quotepipe.workers.timing import BUFFER, StageTimes

    stats = StatsBlock.local(WORKER_STATS)
    times = StageTimes(stats, deadline_ns=100)
    ticks = [(1000, 1010, 1030, 1060, 1100, 1150, 1210), (5000, 5001, 5002, 5003, 5004, 5005, 5006)]
    for marks in ticks:
        times.totals[times.n] = marks[-1] - marks[0]
        times.n += 1
        times.sample(*marks)
    times.totals[times.n] = 150  # a tick that was not sampled: its total still counts
    times.n += 1
    times.flush()
    assert times.n == 0 and times.m == 0
    for k, name in enumerate(STAGES):
        h = stats.hist(name)
        assert h.count == 2 and h.sum_ns == sum(m[k + 1] - m[k] for m in ticks), name
    total = stats.hist("tick_total")
    assert total.count == 3 and total.sum_ns == 210 + 6 + 150
    assert times.deadline_misses == 2 and stats.counter("deadline_misses") == 2
    times.flush()  # nothing new: nothing counted twice
    assert stats.counter("deadline_misses") == 2 and total.count == 3

    legacy = StageTimes(StatsBlock.local(WORKER_STATS), stages=())
    for _ in range(BUFFER):
        legacy.totals[legacy.n] = 7
        legacy.n += 1
    legacy.flush()
    assert legacy.stats.hist("tick_total").sum_ns == 7 * BUFFER
    with pytest.raises(ValueError, match="sample_every"):
        StageTimes(stats, every=0)


@pytest.mark.parametrize("every", [1, 16])
def test_the_pipeline_times_every_tick_and_samples_the_stages(every):
    """Over a real chain: tick_total counts every tick, each stage about one in ``every``, and
    a workload that alternates two instruments gets both sampled (the countdown is jittered)."""
    from quotepipe.domain.stages import STAGES
    from quotepipe.shm.catalog import WORKER_STATS
    from quotepipe.shm.stats import StatsBlock

    cfg = config(stage_budgets={"sample_every": every})
    stats = StatsBlock.local(WORKER_STATS)
    runner = PipelineRunner(cfg, lambda _i: None, stats)
    sampled_slots = []
    n = 8000
    for k in range(n):
        slot = k % 2
        before = runner.times.m
        runner.tick(slot, snap(recv_ns=T0 + k * 1000), ctx(now=T0 + k * 1000))
        if runner.times.m > before:
            sampled_slots.append(slot)
    runner.times.flush()
    assert stats.hist("tick_total").count == n
    counts = {stats.hist(s).count for s in STAGES}
    assert len(counts) == 1
    m = counts.pop()
    if every == 1:
        assert m == n
    else:
        assert 0.8 * n / every < m < 1.2 * n / every
        assert 0.35 < sampled_slots.count(0) / len(sampled_slots) < 0.65


@pytest.mark.parametrize("mode", ["pipeline", "shadow", "legacy"])
def test_warming_the_chain_changes_nothing(mode):
    """``warm`` between ticks (the worker's, while it waits) leaves every intent, every state
    and every timing exactly as a run without it: it reruns the stages aside."""
    from quotepipe.shm.catalog import WORKER_STATS
    from quotepipe.shm.stats import StatsBlock
    from quotepipe.workers.shadow import make_runner

    cfg = config(stage_budgets={"sample_every": 1})
    runs = []
    for warm in (False, True):
        stats = StatsBlock.local(WORKER_STATS)
        out: list[QuoteIntent] = []
        runner = make_runner(mode, cfg, out.append, stats)
        for k in range(300):
            px = 100.0 + 0.01 * (k % 7)
            s, c = snap(bid=px, ask=px + 0.02, recv_ns=T0 + k * 10**7), ctx(now=T0 + k * 10**7,
                                                                          position=0.001 * (k % 3))
            runner.tick(k % 2, s, c)
            if warm:
                for _ in range(3):
                    runner.warm(k % 2, s, c)  # the engine's warm-up: the last tick's inputs
        runner.times.flush()
        states = getattr(getattr(runner, "pipeline", runner), "states", None)
        runs.append((out, states, stats.hist("tick_total").count, stats.hist("fetch_md").count))
    assert runs[0] == runs[1]
    assert runs[0][2] == 300


def test_rank_error_states_the_sampled_percentiles_accuracy():
    from quotepipe.workers.timing import rank_error

    assert rank_error(0.99, 10_000) == pytest.approx(0.00195, rel=0.01)
    assert rank_error(0.5, 100) == pytest.approx(0.098, rel=0.01)


def test_an_instruments_own_position_limit_in_its_units():
    """One guards.max_position (10 base orders) served BTC, ETH and 100-USD contracts alike."""
    raw = msgspec.to_builtins(LINEAR)
    cfg = msgspec.convert({**msgspec.to_builtins(config()), "instruments": [{**raw, "max_position": 2.5}]},
                          type(config()))
    spec = instrument_specs(cfg)[0]
    assert spec.max_position == 2.5 and spec.max_position != CFG.guards.max_position * LINEAR.base_qty
    assert run_guards(cfg=cfg, spec=spec, c=ctx(position=2.5)).reasons == Reason.POSITION_LIMIT
    assert run_guards(cfg=cfg, spec=spec, c=ctx(position=2.4999)).reasons == 0
    assert instrument_specs(config())[0].max_position == CFG.guards.max_position * LINEAR.base_qty  # default


def test_book_risk_flags_reduce_only_then_pull():
    from quotepipe.domain.guards import FLAG_BOOK_PULL, FLAG_BOOK_REDUCE

    gd = run_guards(c=ctx(flags=FLAG_BOOK_REDUCE, position=0.5))
    assert gd.guard == Guard.REDUCE_ONLY and gd.reasons == Reason.BOOK_RISK
    assert run_guards(c=ctx(flags=FLAG_BOOK_PULL)).guard == Guard.PULL
    # flattening quotes only the reducing side, never more than the position (the worker and
    # replay pass weight 1 during a flatten: the allocator does not shrink it)
    runner = PipelineRunner(CFG, lambda i: None)
    long = runner.tick(0, snap(), ctx(position=0.5, flags=FLAG_BOOK_REDUCE))
    assert (long.bid_action, long.ask_action) == (Action.NONE, Action.NEW) and long.ask_qty == 0.5
    flat = PipelineRunner(CFG, lambda i: None).tick(0, snap(), ctx(position=0.0, flags=FLAG_BOOK_REDUCE))
    assert (flat.bid_action, flat.ask_action) == (Action.NONE, Action.NONE)


def test_book_risk_state_machine():
    from quotepipe.config import RiskConfig
    from quotepipe.domain.risk import FLATTEN, OK, PULLED, BookRisk

    r = BookRisk(RiskConfig(max_drawdown_usd=10.0))
    assert not r.update(5.0, 100.0, flat=False) and r.state == OK
    assert not r.update(-4.0, 100.0, flat=False)  # 9 below the peak of 5
    assert r.update(-5.5, 100.0, flat=False) and r.state == FLATTEN and r.reason == 2
    assert not r.update(20.0, 50.0, flat=False) and r.state == FLATTEN  # latched: PnL back is not enough
    assert r.update(20.0, 0.0, flat=True) and r.state == PULLED
    r.reconfigure(RiskConfig(max_drawdown_usd=10.0))
    assert r.state == OK  # a reload releases it
    assert not BookRisk(RiskConfig()).enabled


def test_warming_the_tick_engine_changes_nothing():
    """The worker's warm-up reassembles the last tick's context and reruns the chain aside: the
    engine's intents, counts and gate decisions are those of a run without it."""
    from quotepipe.domain.shards import ShardMap
    from quotepipe.shm.catalog import WORKER_STATS
    from quotepipe.shm.stats import StatsBlock
    from quotepipe.workers.engine import TickEngine
    from quotepipe.workers.worker import VenueMirror

    cfg = config()
    runs = []
    for warm in (False, True):
        out: list[QuoteIntent] = []
        mirror = VenueMirror(len(cfg.instruments))
        engine = TickEngine(cfg, ShardMap.of(cfg), ["pipeline"] * ShardMap.of(cfg).count, mirror,
                            out.append, StatsBlock.local(WORKER_STATS))
        if warm:
            engine.warm()  # before any tick: nothing to reassemble
        for k in range(300):
            px = 100.0 + 0.01 * (k % 7)
            s = snap(bid=px, ask=px + 0.02, recv_ns=T0 + k * 10**7)
            rec = tuple(getattr(s, f) for f in s.__struct_fields__)
            mirror.position[k % 2] = 0.001 * (k % 3)
            engine.tick(k % 2, rec, T0 + k * 10**7, 1.0, 0, k // 50)
            if warm:
                for _ in range(3):
                    engine.warm()
        runs.append((out, engine.counter_totals(), engine.gate.skipped,
                     engine.runners["pipeline"].states))
    assert runs[0] == runs[1]
    assert runs[0][1]["ticks"] > 100


class _GateRule:
    """The tick gate's rule, written out plainly: the reference the compiled gate must follow."""

    def __init__(self, n: int, interval_ns: int) -> None:
        self.last: list[tuple | None] = [None] * n
        self.interval_ns = interval_ns

    def need(self, slot: int, l1: tuple, version: int, weight: float, now: int) -> bool:
        seen = self.last[slot]
        if seen is not None and seen[:3] == (l1, version, weight) and now - seen[3] < self.interval_ns:
            return False
        self.last[slot] = (l1, version, weight, now)
        return True

    def invalidate(self, slot: int) -> None:
        seen = self.last[slot]
        if seen is not None:
            self.last[slot] = (*seen[:3], -(1 << 62))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(0, 1), st.integers(0, 4),
                          st.sampled_from([0.0, 1.0, 0.5]),
                          st.sampled_from([0, 1, 4_000_000, 9_999_999, 10_000_000, 25_000_000]),
                          st.booleans()),
                max_size=60))
def test_the_tick_gate_runs_a_tick_exactly_when_an_input_changed_or_the_interval_passed(steps):
    """Each look changes one input of three slots (a price, a size, the venue version, the
    weight), moves time on, or invalidates: the gate answers as the rule does, and counts
    what it skipped."""
    gate, rule = TickGate(3, 10.0), _GateRule(3, 10_000_000)
    books = [[100.0, 1.0, 101.0, 2.0] for _ in range(3)]
    versions, now, skipped = [0, 0, 0], 1_700_000_000_000_000_000, 0
    for k, (slot, field, bump, version, weight, dt, invalidate) in enumerate(steps):
        books[slot][field] += bump * 0.5
        versions[slot] += version == 4
        now += dt
        if invalidate:
            gate.invalidate(slot)
            rule.invalidate(slot)
        l1 = tuple(books[slot])
        want = rule.need(slot, l1, versions[slot], weight, now)
        skipped += not want
        # the top alone, or followed by the rest of a book's L1 tuple or record, which it ignores
        assert gate.need(slot, l1 + (float(k),) * slot, versions[slot], weight, now) == want
    assert gate.skipped == skipped
    with pytest.raises(ValueError, match="l1"):
        gate.need(0, (100.0, 1.0, 101.0), 0, 1.0, now)
