"""The legacy QuoteLoop and the stage chain give identical intents; shadow mode counts differences.

The legacy loop is the frozen reference of the old behaviour: these tests are pinned to the
feature set it has (the config space ``configs`` draws: four spread models, mid or microprice,
linear or model skew, the guard, queue and inventory settings below). A quoting feature added
to the pipeline later is not added to legacy nor drawn here; shadow mode reports the
differences it makes, which is its job.
"""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quotepipe.domain.snapshot import Snapshot
from quotepipe.gate.workload import build_workload
from quotepipe.workers.dto import QuoteIntent, TickContext
from quotepipe.workers.legacy import LegacyRunner
from quotepipe.workers.pipeline import PipelineRunner
from quotepipe.workers.shadow import ShadowRunner, make_runner
from tests.chain_helpers import T0, config, ctx, order, snap

pos = st.floats(0.01, 50.0)

configs = st.builds(
    lambda model, fair, skew, half, base, minh, vmult, vint, valpha, stale, mspread, vhalt, maxpos,
    maxloss, rate, burst, tol, good, join, edge, age, sskew, smult: config(
        spread={"model": model, "fair_price": fair, "fixed_half_spread_bps": half,
                "base_half_spread_bps": base, "min_half_spread_bps": minh, "vol_mult": vmult,
                "vol_interval_ms": vint, "vol_alpha": valpha},
        guards={"stale_ms": stale, "max_market_spread_bps": mspread, "vol_halt_bps": vhalt,
                "max_position": maxpos, "max_loss_usd": maxloss, "max_actions_per_s": rate,
                "action_burst": burst},
        queue={"refresh_tolerance_ticks": tol, "good_queue_fraction": good, "max_join_queue": join,
               "min_edge_bps": edge, "max_order_age_ms": age},
        inventory={"skew": skew, "size_skew": sskew, "max_size_mult": smult}),
    st.sampled_from(["fixed", "vol_adaptive", "avellaneda_stoikov", "glft"]),
    st.sampled_from(["mid", "microprice"]), st.sampled_from(["linear", "model"]),
    pos, st.floats(0.0, 10.0), st.floats(0.0, 5.0), st.floats(0.0, 5.0), st.floats(1.0, 5000.0),
    st.floats(0.01, 1.0), st.floats(1.0, 10_000.0), st.floats(1.0, 200.0), st.floats(1.0, 200.0),
    st.floats(0.5, 20.0), st.floats(1.0, 1000.0), st.floats(0.5, 100.0), st.floats(1.0, 50.0),
    st.integers(0, 5), st.floats(0.0, 1.0), st.floats(0.1, 100.0), st.floats(0.0, 5.0),
    st.floats(1.0, 60_000.0), st.floats(0.0, 1.0), st.floats(1.0, 4.0))

prices = st.one_of(st.integers(9_900, 10_100).map(lambda t: t / 100), st.sampled_from(
    [0.0, -1.0, float("nan"), float("inf")]))
sizes = st.one_of(st.floats(0.001, 100.0), st.sampled_from([0.0, float("nan")]))


@st.composite
def resting(draw, ticks: int) -> object:
    if draw(st.booleans()):
        return None
    return order(draw(st.integers(9_900, 10_100)) / 100, draw(st.floats(0.001, 5.0)),
                 draw(st.floats(0.0, 20.0)), draw(st.floats(0.0, 40.0)),
                 T0 + draw(st.integers(-120_000, ticks)) * 1_000_000)


@st.composite
def tick_inputs(draw) -> list[tuple[int, Snapshot, TickContext]]:
    out = []
    t = 0
    for _ in range(draw(st.integers(1, 25))):
        t += draw(st.integers(0, 3000))
        now = T0 + t * 1_000_000
        s = snap(draw(prices), draw(prices), draw(sizes), draw(sizes),
                 now - draw(st.integers(0, 20_000)) * 1_000_000, draw(st.sampled_from([0, 1, 2, 3])))
        c = ctx(now, draw(st.floats(-30.0, 30.0)), draw(st.floats(-2000.0, 100.0)),
                draw(st.sampled_from([0.0, 0.3, 1.0, 1.7, 2.5])), draw(st.sampled_from([0, 0, 0, 1, 2])),
                draw(st.booleans()) and draw(st.booleans()), draw(resting(t)), draw(resting(t)))
        out.append((draw(st.integers(0, 1)), s, c))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs, ticks=tick_inputs())
def test_pipeline_and_legacy_give_identical_intents(cfg, ticks):
    new: list[QuoteIntent] = []
    old: list[QuoteIntent] = []
    pipeline = PipelineRunner(cfg, new.append)
    legacy = LegacyRunner(cfg, old.append)
    for slot, s, c in ticks:
        assert pipeline.tick(slot, s, c) == legacy.tick(slot, s, c), (slot, s, c)
    assert msgspec.json.encode(new) == msgspec.json.encode(old)


def test_identical_on_the_synthetic_workload_in_every_spread_model():
    for model in ("fixed", "vol_adaptive", "avellaneda_stoikov", "glft"):
        cfg = config(spread={"model": model}, inventory={"skew": "model"})
        wl = build_workload(cfg, limit=4000)
        shadow = ShadowRunner(cfg, lambda i: None)
        for slot, s, c in wl:
            shadow.tick(slot, s, c)
        assert shadow.mismatches == 0, shadow.first[:1]


def test_shadow_emits_legacy_and_reports_differences_with_inputs():
    # the pipeline side runs a candidate spread (pipeline.candidate): every quoting tick differs
    cfg = config(pipeline={"shadow_log_first": 3, "candidate": {
        "spread": {"model": "fixed", "fixed_half_spread_bps": 7.0}}})
    emitted: list[QuoteIntent] = []
    shadow = make_runner("shadow", cfg, emitted.append)
    legacy_only: list[QuoteIntent] = []
    reference = LegacyRunner(cfg, legacy_only.append)
    for k in range(10):
        s = snap(recv_ns=T0 + k)
        c = ctx(now=T0 + k)
        shadow.tick(0, s, c)
        reference.tick(0, s, c)
    assert emitted == legacy_only  # shadow emits legacy's intents
    assert shadow.mismatches == 10
    assert len(shadow.first) == 3
    first = shadow.first[0]
    assert first.snapshot == snap(recv_ns=T0) and first.context == ctx(now=T0)
    assert "bid_px" in first.fields and first.legacy.bid_px != first.pipeline.bid_px
