"""The online order-arrival fit (``scoreboard.arrival``) and its way into the spread stage."""

from __future__ import annotations

import math
import random

import pytest

from quotepipe.config import SpreadConfig, parse_config
from quotepipe.domain.snapshot import Snapshot
from quotepipe.scoreboard.arrival import ArrivalFit
from quotepipe.workers.dto import InstrumentState
from quotepipe.workers.pipeline import PipelineRunner
from quotepipe.workers.stages import fetch_md, spread

STEP_NS = 100_000_000


def simulate(fit: ArrivalFit, mid: float, a: float, k_per_bps: float, steps: int, seed: int = 7) -> None:
    """Steps whose deepest trade reaches ``delta`` bps with probability ``a * exp(-k * delta)``:
    exactly the log-linear intensity the fit assumes."""
    rng = random.Random(seed)
    fit.on_mid(0, mid)
    for n in range(steps):
        t = n * STEP_NS + 1
        u = rng.random()
        if u < a:
            delta_bps = -math.log(u / a) / k_per_bps
            side = 1 if n % 2 else -1
            fit.on_trade(t, mid * (1 + side * delta_bps * 1e-4), side)
    fit.advance(steps * STEP_NS + 1)


@pytest.mark.parametrize(("mid", "tick", "k"),
                         [(100.0, 0.001, 1.5), (60_000.0, 0.1, 3.0), (2.5, 0.0001, 0.4)])
def test_the_fit_recovers_a_known_intensity(mid, tick, k):
    cfg = SpreadConfig(fit_min_steps=100, vol_interval_ms=1000.0, fit_step_ms=100.0, fit_window_s=1e6)
    fit = ArrivalFit(cfg, tick)
    simulate(fit, mid, 0.3, k, 20_000)
    got = fit.refit(20_000 * STEP_NS + 1)
    assert got.fitted
    assert got.k == pytest.approx(k, rel=0.1)
    # A per vol_interval_ms: 10 steps of 100 ms, each reached by a trade with probability 0.3
    assert got.a == pytest.approx(3.0, rel=0.15)
    assert got.r2 > 0.9


def test_the_fit_waits_for_its_warm_up_and_for_a_decaying_line():
    cfg = SpreadConfig(fit_min_steps=500)
    fit = ArrivalFit(cfg, 0.01)
    simulate(fit, 100.0, 0.3, 1.0, 1_000)
    assert not fit.refit(1_000 * STEP_NS + 1).fitted  # about 300 steps with trades, under 500
    flat = ArrivalFit(SpreadConfig(fit_min_steps=3), 0.01)
    flat.on_mid(0, 100.0)
    for n in range(2_000):  # every trade at the touch: no line through one bin
        flat.on_trade(n * STEP_NS + 1, 100.005, 1)
    assert not flat.refit(2_000 * STEP_NS + 1).fitted


def test_empty_steps_count_as_observed_time():
    """A quiet hour lowers the intensity: the steps without trades count."""
    cfg = SpreadConfig(fit_min_steps=10, fit_window_s=1e6)
    busy, quiet = ArrivalFit(cfg, 0.001), ArrivalFit(cfg, 0.001)
    simulate(busy, 100.0, 0.3, 1.5, 5_000)
    simulate(quiet, 100.0, 0.3, 1.5, 5_000)
    quiet.advance(10_000 * STEP_NS + 1)  # as many steps again, without a trade
    a_busy = busy.refit(5_000 * STEP_NS + 1).a
    a_quiet = quiet.refit(10_000 * STEP_NS + 1).a
    assert a_quiet == pytest.approx(a_busy / 2, rel=0.05)


def test_the_pipeline_quotes_glft_with_the_fitted_intensity():
    cfg = parse_config("spread: {model: glft, glft_a: 1.0, glft_k: 0.5, gamma: 0.1, "
                       "min_half_spread_bps: 0}\n")
    runner = PipelineRunner(cfg, lambda intent: None)
    view = fetch_md(Snapshot(100.0, 5.0, 100.01, 5.0, 0.0, 0.0, 0, 0, 0, 1_000, 0, 1, 1, 1), 1_000)
    state = InstrumentState()
    before = spread(view, state, 1_000, runner.spread_cfgs[0])
    runner.set_arrival(0, (2.0, 3.0))
    assert runner.spread_cfgs[0].glft_k == 3.0 and runner.spread_cfgs[0].glft_a == 2.0
    assert runner.spread_cfgs[1] is cfg.spread  # the other instruments keep the config's
    after = spread(view, state, 1_000, runner.spread_cfgs[0])
    g = 0.1
    assert after.half_spread_bps == pytest.approx(math.log1p(g / 3.0) / g)  # c1 at sigma 0, with k = 3
    assert before.half_spread_bps == pytest.approx(math.log1p(g / 0.5) / g)
    runner.configure(cfg)  # a reload keeps the fit
    assert runner.spread_cfgs[0].glft_k == 3.0
    runner.set_arrival(0, None)
    assert runner.spread_cfgs[0] is cfg.spread


def test_a_model_that_ignores_a_and_k_or_a_fit_turned_off_keeps_the_config():
    for text in ("spread: {model: vol_adaptive}\n", "spread: {model: glft, arrival_fit: false}\n"):
        runner = PipelineRunner(parse_config(text), lambda intent: None)
        runner.set_arrival(0, (2.0, 3.0))
        assert runner.spread_cfgs[0] is runner.spread_cfg
