"""The configuration contract every quotepipe process reads.

One YAML file decoded straight into frozen ``msgspec.Struct`` types. Every field
has a default and a one-line description (``Meta(description=...)``), so a file
names only what differs from the default. Decoding is strict: a wrong type, an
unknown key or an out-of-range value is refused with the dotted path of the
field, what was expected, what was given, and the file.

Validation is pure: the facts of the host it is checked against (the CPU set,
taken once at start, before any pinning narrows it) are passed in, never read
here, so a reload is judged exactly as the start was.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml
from msgspec import Meta

__all__ = [
    "Config",
    "ConfigDiff",
    "ConfigError",
    "Instrument",
    "default_config",
    "diff_configs",
    "dump_config",
    "load_config",
    "parse_config",
    "cpu_plan",
    "shard_modes",
    "canary_warning",
    "candidate_config",
]


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every config section: immutable, keyword-only, strict."""


def _f(description: str, ge: float | None = None, gt: float | None = None, le: float | None = None,
       lt: float | None = None) -> Meta:
    return Meta(description=description, ge=ge, gt=gt, le=le, lt=lt)  # type: ignore[call-overload]


# ---------------------------------------------------------------- instruments

INSTRUMENT_ID = r"^[a-z][a-z0-9-]*:[A-Z0-9_]+$"
VENUES = ("binance-spot", "binance-usdm", "binance-coinm")


class Instrument(_Section, frozen=True, kw_only=True):
    id: Annotated[str, Meta(pattern=INSTRUMENT_ID,
                            description="instrument id <venue>:<SYMBOL>, e.g. binance-usdm:BTCUSDT")]
    tick_size: Annotated[float, _f("price increment", gt=0)]
    lot_size: Annotated[float, _f("quantity increment (contracts for inverse contracts)", gt=0)]
    min_notional: Annotated[float, _f("smallest order value accepted by the venue, in USD", ge=0)] = 0.0
    contract_multiplier: Annotated[
        float, _f("USD value of one contract for inverse contracts; 1 for linear", gt=0)] = 1.0
    inverse: Annotated[bool, Meta(description="inverse (coin-margined) contract")] = False
    base_qty: Annotated[float, _f("base order quantity per side, before skew and weight", gt=0)]
    ref_price: Annotated[
        float, _f("typical price: start price of the synthetic feed; 0 = 10000 ticks", ge=0)] = 0.0
    shard: Annotated[Annotated[int, Meta(ge=0)] | None,
                     Meta(description="worker shard; null = stable hash of the id")] = None
    max_position: Annotated[Annotated[float, Meta(gt=0)] | None, Meta(description=(
        "position limit in this instrument's own units (coins, contracts); beyond it REDUCE_ONLY; "
        "null = guards.max_position x base_qty"))] = None

    @property
    def venue(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def symbol(self) -> str:
        return self.id.split(":", 1)[1]


DEFAULT_INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument(id="binance-spot:BTCUSDT", tick_size=0.01, lot_size=0.00001, min_notional=5.0,
               base_qty=0.002, ref_price=60000.0),
    Instrument(id="binance-spot:ETHUSDT", tick_size=0.01, lot_size=0.0001, min_notional=5.0,
               base_qty=0.05, ref_price=2700.0),
    Instrument(id="binance-usdm:BTCUSDT", tick_size=0.1, lot_size=0.001, min_notional=100.0,
               base_qty=0.005, ref_price=60000.0),
    Instrument(id="binance-usdm:ETHUSDT", tick_size=0.01, lot_size=0.001, min_notional=20.0,
               base_qty=0.1, ref_price=2700.0),
    Instrument(id="binance-coinm:BTCUSD_PERP", tick_size=0.1, lot_size=1.0,
               contract_multiplier=100.0, inverse=True, base_qty=3.0, ref_price=60000.0),
    Instrument(id="binance-coinm:ETHUSD_PERP", tick_size=0.01, lot_size=1.0,
               contract_multiplier=10.0, inverse=True, base_qty=30.0, ref_price=2700.0),
)


# ------------------------------------------------------------------- sections

INSTANCE_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class InstanceConfig(_Section, frozen=True, kw_only=True):
    name: Annotated[str, Meta(pattern=INSTANCE_NAME,
                              description="instance name, part of every shared-memory name")] = "default"


class SyntheticFeedConfig(_Section, frozen=True, kw_only=True):
    seed: Annotated[int, Meta(ge=0, description="random seed; same seed, same feed")] = 7
    rate_hz: Annotated[float, _f("book updates per second over all instruments", gt=0)] = 2000.0
    vol_bps: Annotated[float, _f("per-update mid volatility in bps", ge=0)] = 0.05
    spread_ticks: Annotated[int, Meta(ge=1, description="market spread in ticks")] = 1
    trade_prob: Annotated[float, _f("probability that an update carries a trade", ge=0, le=1)] = 0.03
    sweep_bps: Annotated[float, _f(
        "mean depth (bps past the touch, exponential) a trade sweeps to", ge=0)] = 1.5
    toxic: Annotated[list[str], Meta(description=(
        "instrument ids whose trades predict the mid (ids not configured are unused)"))] = (
        msgspec.field(default_factory=lambda: ["binance-usdm:ETHUSDT", "binance-coinm:ETHUSD_PERP"]))
    toxicity: Annotated[float, _f("probability that the mid follows a toxic trade", ge=0, le=1)] = 0.9
    benign_toxicity: Annotated[
        float, _f("probability that the mid follows a trade elsewhere", ge=0, le=1)] = 0.0
    events: Annotated[int, Meta(ge=0, description=(
        "the daemon's synthetic feed ends after this many events (0: endless); replay's "
        "--events limits a replay"))] = 0


class BinanceFeedConfig(_Section, frozen=True, kw_only=True):
    """The live Binance feed (``marketdata.live``): one combined-stream connection per venue."""

    spot_ws: Annotated[str, Meta(description="spot WebSocket base URL")] = "wss://stream.binance.com:9443"
    usdm_ws: Annotated[str, Meta(description="USD-M futures WebSocket base URL")] = "wss://fstream.binance.com"
    coinm_ws: Annotated[str, Meta(description="COIN-M futures WebSocket base URL")] = "wss://dstream.binance.com"
    spot_rest: Annotated[str, Meta(description="spot REST base URL")] = "https://api.binance.com"
    usdm_rest: Annotated[str, Meta(description="USD-M REST base URL")] = "https://fapi.binance.com"
    coinm_rest: Annotated[str, Meta(description="COIN-M REST base URL")] = "https://dapi.binance.com"
    streams: Annotated[list[Literal["bookTicker", "depth", "trade", "aggTrade"]], Meta(
        description="streams per instrument")] = msgspec.field(
            default_factory=lambda: ["bookTicker", "depth", "trade"])
    depth_ms: Annotated[Literal[100, 250, 500], Meta(description="depth diff interval, ms")] = 100
    snapshot_limit: Annotated[int, Meta(ge=5, le=1000, description="levels of a REST depth snapshot")] = 1000
    reconnect_min_s: Annotated[float, _f("first reconnect delay (doubles, jittered), s", gt=0)] = 0.5
    reconnect_max_s: Annotated[float, _f("longest reconnect delay, s", gt=0)] = 30.0
    max_connection_s: Annotated[float, _f(
        "reconnect before the venue's 24 h cut after this long, s", gt=0)] = 23.5 * 3600


class FeedConfig(_Section, frozen=True, kw_only=True):
    kind: Annotated[Literal["synthetic", "replay", "binance"],
                    Meta(description="where market data comes from")] = "synthetic"
    paths: Annotated[list[str], Meta(description="recording files for kind=replay")] = []
    speed: Annotated[float, _f("replay pace: recorded speed x this; 0 = as fast as possible",
                               ge=0)] = 1.0
    venue: Annotated[Literal["auto", "binance-spot", "binance-usdm", "binance-coinm"],
                     Meta(description="venue of the recordings; auto = recognise it")] = "auto"
    synthetic: Annotated[SyntheticFeedConfig,
                         Meta(description="synthetic feed parameters")] = SyntheticFeedConfig()
    binance: Annotated[BinanceFeedConfig,
                       Meta(description="live Binance feed (kind=binance)")] = BinanceFeedConfig()


class MdConfig(_Section, frozen=True, kw_only=True):
    cpu: Annotated[Annotated[int, Meta(ge=0)] | None, Meta(description=(
        "core of the market-data process; null = core 0 on a host with 2+ cores"))] = None


class WorkersConfig(_Section, frozen=True, kw_only=True):
    count: Annotated[int, Meta(ge=1, le=256, description="worker processes = shards")] = 1
    cpus: Annotated[list[Annotated[int, Meta(ge=0)]] | None, Meta(description=(
        "core per worker, in shard order; null = cores after the market-data core, "
        "unpinned when none are left"))] = None
    isolate: Annotated[bool, Meta(description=(
        "keep the venue, scoreboard and supervisor off the pinned workers' cores "
        "(when any other core is left)"))] = True
    busy_poll: Annotated[bool, Meta(description="spin on the ring before backing off")] = True
    spin_us: Annotated[int, Meta(ge=0, description=(
        "busy-poll this long after the last update before backing off to sleeps"))] = 100_000
    idle_sleep_us: Annotated[int, Meta(ge=1, description="sleep when idle")] = 200
    warm_us: Annotated[int, Meta(ge=0, le=1_000_000, description=(
        "while busy-polling an empty ring, rerun the last tick's reads, context and chain, the "
        "results thrown away, this often (0: never): at ~1k updates/s a cold tick takes about "
        "twice as long"))] = 50


class PipelineConfig(_Section, frozen=True, kw_only=True):
    enabled: Annotated[bool, Meta(description="false: legacy QuoteLoop everywhere (rollback)")] = True
    mode: Annotated[Literal["legacy", "shadow", "pipeline"],
                    Meta(description="mode of shards outside the canary")] = "pipeline"
    canary_mode: Annotated[Literal["legacy", "shadow", "pipeline"],
                           Meta(description="mode of the canary shards")] = "pipeline"
    canary_shards: Annotated[list[int], Meta(description="shards in the canary (canary_mode)")] = []
    canary_percent: Annotated[
        float, _f("percent of shards in the canary, lowest ids first: round(count x percent / 100) "
                  "shards, at least one when the percent is above 0 (a warning says when that "
                  "differs from the percent asked)", ge=0, le=100)] = 0.0
    shard_modes: Annotated[dict[int, Literal["legacy", "shadow", "pipeline"]], Meta(description=(
        "mode per shard id, over everything else (e.g. {0: legacy, 1: shadow})"))] = {}
    candidate: Annotated[dict[str, dict[str, Any]], Meta(description=(
        "settings of the stage sections (spread, guards, inventory, queue) that only the pipeline "
        "chain runs with, in shadow and pipeline shards: the change a rollout trials, which shadow "
        "mode then reports against legacy on the config in force"))] = {}
    shadow_report: Annotated[str, Meta(description=(
        "shadow mode: JSON-lines file of each shard's first shadow_log_first mismatches "
        "(inputs, both intents, the fields that differ); empty = none"))] = ""
    shadow_log_first: Annotated[int, Meta(ge=0, description=(
        "shadow mode: mismatches kept with their inputs"))] = 20
    max_tick_interval_ms: Annotated[float, _f(
        "re-run an instrument's chain at least this often (event time) even when its top of book, "
        "orders, position and weight are unchanged", gt=0)] = 100.0


class StageBudgetsConfig(_Section, frozen=True, kw_only=True):
    fetch_md_us: Annotated[float, _f("FetchMD budget, µs", gt=0)] = 3.0
    spread_us: Annotated[float, _f("Spread budget, µs", gt=0)] = 3.0
    guards_us: Annotated[float, _f("Guards budget, µs", gt=0)] = 3.0
    inventory_us: Annotated[float, _f("Inventory budget, µs", gt=0)] = 3.0
    queue_aware_us: Annotated[float, _f("QueueAware budget, µs", gt=0)] = 3.0
    emit_us: Annotated[float, _f("Emit budget, µs", gt=0)] = 5.0
    tick_total_us: Annotated[float, _f("whole-chain budget, µs", gt=0)] = 20.0
    deadline_us: Annotated[float, _f("a tick slower than this is a deadline miss, µs", gt=0)] = 100.0
    sample_every: Annotated[int, Meta(ge=1, le=1_000_000, description=(
        "time each stage on one tick in this many, on average (1: every tick); every tick's total "
        "and its deadline are always timed. A stage's percentile p from m sampled ticks is within "
        "p ± 1.96·sqrt(p(1-p)/m) in rank (95%)"))] = 16


class SpreadConfig(_Section, frozen=True, kw_only=True):
    model: Annotated[Literal["fixed", "vol_adaptive", "avellaneda_stoikov", "glft"],
                     Meta(description="half-spread model")] = "vol_adaptive"
    fair_price: Annotated[Literal["mid", "microprice"], Meta(description="fair price")] = "mid"
    fixed_half_spread_bps: Annotated[float, _f("fixed model: half-spread, bps", gt=0)] = 2.0
    base_half_spread_bps: Annotated[float, _f("vol_adaptive: base half-spread, bps", ge=0)] = 1.0
    min_half_spread_bps: Annotated[float, _f("floor of every model's half-spread, bps", ge=0)] = 0.5
    vol_mult: Annotated[float, _f("vol_adaptive: half-spread per bps of sigma", ge=0)] = 0.5
    vol_interval_ms: Annotated[float, _f("event-time interval of a sigma sample, ms", gt=0)] = 1000.0
    vol_alpha: Annotated[float, _f("EWMA weight of a new sigma sample", gt=0, le=1)] = 0.05
    gamma: Annotated[float, _f("risk aversion (avellaneda_stoikov, glft)", gt=0)] = 0.1
    kappa: Annotated[float, _f("avellaneda_stoikov: order-arrival decay per bps", gt=0)] = 0.5
    horizon_s: Annotated[float, _f("avellaneda_stoikov: horizon in seconds", gt=0)] = 60.0
    glft_a: Annotated[float, _f("glft: order-arrival intensity A", gt=0)] = 1.0
    glft_k: Annotated[float, _f("glft: arrival decay k per bps", gt=0)] = 0.5
    arrival_fit: Annotated[bool, Meta(description=(
        "glft, avellaneda_stoikov: use A and k fitted online from the trades' distance from the mid "
        "(the scoreboard), glft_a/glft_k/kappa until the fit has fit_min_steps steps with trades"))] = True
    fit_step_ms: Annotated[float, _f("arrival fit: one observation step (its deepest trade), ms",
                                     gt=0)] = 100.0
    fit_window_s: Annotated[float, _f("arrival fit: time constant of its exponential forgetting, s",
                                      gt=0)] = 600.0
    fit_min_steps: Annotated[int, Meta(ge=3, description=(
        "arrival fit: steps with trades before it is used"))] = 300

    def fitted_arrival(self) -> bool:
        """Whether the model reads A and k and takes them from the online fit."""
        return self.arrival_fit and self.model in ("glft", "avellaneda_stoikov")


class GuardsConfig(_Section, frozen=True, kw_only=True):
    stale_ms: Annotated[float, _f("snapshot older than this pulls quotes, ms", gt=0)] = 3000.0
    max_market_spread_bps: Annotated[float, _f("wider market spread pulls quotes", gt=0)] = 30.0
    vol_halt_bps: Annotated[float, _f("sigma above this pulls quotes, bps", gt=0)] = 40.0
    max_position: Annotated[float, _f(
        "default position limit in base order quantities (an instrument's own max_position, in its "
        "units, overrides it); beyond it REDUCE_ONLY", gt=0)] = 10.0
    max_loss_usd: Annotated[float, _f(
        "realised + unrealised loss that pulls quotes until a reload", gt=0)] = 500.0
    max_actions_per_s: Annotated[float, _f("order-action token refill per second", gt=0)] = 20.0
    action_burst: Annotated[float, _f("order-action token bucket size", ge=1)] = 40.0
    blacklist: Annotated[list[str], Meta(description="instrument ids never quoted")] = []


class InventoryConfig(_Section, frozen=True, kw_only=True):
    skew: Annotated[Literal["linear", "model"], Meta(description=(
        "reservation shift: linear skew_bps*q, or the spread model's own skew"))] = "linear"
    skew_bps: Annotated[float, _f("reservation shift at the position limit, bps", ge=0)] = 4.0
    size_skew: Annotated[float, _f("size skew factor: bid*(1-f*q), ask*(1+f*q)", ge=0, le=1)] = 1.0
    max_size_mult: Annotated[float, _f("largest size after skew, in base quantities", ge=1)] = 2.0


class QueueConfig(_Section, frozen=True, kw_only=True):
    refresh_tolerance_ticks: Annotated[int, Meta(ge=0, description=(
        "keep a resting order this close to the target"))] = 2
    refresh_tolerance_bps: Annotated[float, _f(
        "also keep it when within this many bps of the target (whichever is wider)", ge=0)] = 1.0
    good_queue_fraction: Annotated[float, _f(
        "queue place is good when queue ahead <= this x level quantity (or the level is no longer "
        "than max_join_queue: requeueing would gain nothing)", ge=0, le=1)] = 0.5
    max_join_queue: Annotated[float, _f(
        "a level with more than this many base quantities ahead is stepped ahead of", gt=0)] = 50.0
    min_edge_bps: Annotated[float, _f("edge to fair kept when stepping ahead, bps", ge=0)] = 0.5
    max_order_age_ms: Annotated[float, _f("refresh a resting order older than this, ms", gt=0)] = 30000.0


class VenueFees(_Section, frozen=True, kw_only=True):
    maker_bps: Annotated[float, _f("maker fee in bps (negative = rebate)", ge=-10, le=100)] = 0.0
    taker_bps: Annotated[float, _f("taker fee in bps", ge=-10, le=100)] = 4.0


class VenueConfig(_Section, frozen=True, kw_only=True):
    kind: Annotated[Literal["paper"], Meta(description="venue: the paper venue")] = "paper"
    entry_latency_ms: Annotated[float, _f("event-time delay before an order rests, ms", ge=0)] = 5.0
    cancel_latency_ms: Annotated[float, _f("event-time delay before a cancel lands, ms", ge=0)] = 5.0
    queue_model: Annotated[Literal["risk_averse", "prob"],
                           Meta(description="queue-position model")] = "prob"
    prob_exponent: Annotated[float, _f("prob model: power-law exponent n", gt=0)] = 3.0
    cancel_on_silence_ms: Annotated[float, _f(
        "dead-man's switch: a worker silent this long has its orders cancelled (like an exchange's "
        "cancel-on-disconnect), before the supervisor's heartbeat_timeout_ms kills it, ms", gt=0)] = 500.0
    fees: Annotated[dict[str, VenueFees], Meta(description="fees per venue")] = msgspec.field(
        default_factory=lambda: {
            "binance-spot": VenueFees(maker_bps=0.0, taker_bps=4.0),
            "binance-usdm": VenueFees(maker_bps=-0.5, taker_bps=2.5),
            "binance-coinm": VenueFees(maker_bps=-0.5, taker_bps=2.5),
        })


class ScoreWeights(_Section, frozen=True, kw_only=True):
    net_bps: Annotated[float, _f("weight of net markout", ge=0)] = 0.5
    fill_rate: Annotated[float, _f("weight of fill rate", ge=0)] = 0.1
    slippage: Annotated[float, _f("weight of (low) slippage", ge=0)] = 0.1
    queue_edge: Annotated[float, _f("weight of queue edge", ge=0)] = 0.1
    adverse: Annotated[float, _f("weight of (low) adverse selection", ge=0)] = 0.2


class ScoreboardConfig(_Section, frozen=True, kw_only=True):
    enabled: Annotated[bool, Meta(description="compute per-symbol metrics and scores")] = True
    alpha: Annotated[float, _f("EMA weight of a new fill", gt=0, le=1)] = 0.01
    markout_horizon_s: Annotated[float, _f("markout horizon H, event-time seconds", gt=0)] = 5.0
    prior_fills: Annotated[float, _f("score shrinkage prior k, in fills", ge=0)] = 20.0
    score_scale_bps: Annotated[float, _f("bps that move a metric's score from 0.5 to 0.73", gt=0)] = 2.0
    weights: Annotated[ScoreWeights, Meta(description="score weights")] = ScoreWeights()


class AllocatorConfig(_Section, frozen=True, kw_only=True):
    enabled: Annotated[bool, Meta(description="false: every weight is 1")] = True
    temperature: Annotated[float, _f("softmax temperature T", gt=0)] = 0.3
    min_weight: Annotated[float, _f("lowest weight of an active instrument", gt=0, le=1)] = 0.3
    max_weight: Annotated[float, _f("highest weight", ge=1)] = 2.5
    hysteresis: Annotated[float, _f("republish only moves larger than this", ge=0)] = 0.1
    max_step: Annotated[float, _f("largest move per publication", gt=0)] = 0.5
    interval_ms: Annotated[float, _f("event-time interval between allocations, ms", gt=0)] = 1000.0
    blacklist_net_bps: Annotated[float, _f("net_bps EMA below this starts the blacklist clock")] = -5.0
    blacklist_after_s: Annotated[float, _f("sustained time below threshold before blacklist", gt=0)] = 1800.0
    cooldown_s: Annotated[float, _f("blacklist duration before probation", gt=0)] = 3600.0


class SupervisorConfig(_Section, frozen=True, kw_only=True):
    max_restarts: Annotated[int, Meta(ge=0, description=(
        "restarts of one worker allowed within restart_window_s; one more halts its shard"))] = 3
    restart_window_s: Annotated[float, _f("window of max_restarts, seconds", gt=0)] = 60.0
    heartbeat_timeout_ms: Annotated[float, _f(
        "a child silent this long is killed and handled as dead, ms", ge=200)] = 2000.0
    startup_timeout_s: Annotated[float, _f(
        "time a (re)started child has to beat for the first time, seconds", gt=0)] = 30.0
    shutdown_timeout_s: Annotated[float, _f(
        "graceful stop: pull quotes, cancel, confirm and exit within this, seconds", gt=0)] = 5.0
    scoreboard_nice: Annotated[int, Meta(ge=0, le=19, description=(
        "niceness of the scoreboard process (low priority)"))] = 10


class RiskConfig(_Section, frozen=True, kw_only=True):
    """Book-wide limits (``domain.risk``): a breach flattens every instrument, then pulls."""

    max_loss_usd: Annotated[float, _f("total loss of the book that flattens it, USD; 0 = none",
                                      ge=0)] = 0.0
    max_drawdown_usd: Annotated[float, _f("fall of total PnL from its peak that flattens the book, "
                                          "USD; 0 = none", ge=0)] = 0.0
    max_gross_notional_usd: Annotated[float, _f("sum of |position| x price over the book that "
                                                "flattens it, USD; 0 = none", ge=0)] = 0.0


class RolloutConfig(_Section, frozen=True, kw_only=True):
    """The gates of a rollout phase, as ``quotepipe canary`` judges them."""

    max_p95_regression_pct: Annotated[float, _f(
        "pipeline shards' tick_total p95 may exceed the legacy shards' by at most this, %", ge=0)] = 3.0
    max_deadline_miss_pct: Annotated[float, _f(
        "ticks over stage_budgets.deadline_us, at most this share of a canary group's ticks, %",
        ge=0, le=100)] = 2.0
    min_weight_ratio: Annotated[float, _f(
        "no allocator death spiral: the canary's mean weight at least this times the control's",
        ge=0, le=1)] = 0.5
    min_ticks: Annotated[int, Meta(ge=0, description=(
        "ticks each group needs before its latency is compared"))] = 1000


class MetricsConfig(_Section, frozen=True, kw_only=True):
    listen: Annotated[str, Meta(description="Prometheus /metrics listen address")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535, description="Prometheus port; 0 = disabled")] = 9464


class Config(_Section, frozen=True, kw_only=True):
    instance: Annotated[InstanceConfig, Meta(description="instance identity")] = InstanceConfig()
    instruments: Annotated[list[Instrument], Meta(description="instruments quoted")] = msgspec.field(
        default_factory=lambda: list(DEFAULT_INSTRUMENTS))
    feed: Annotated[FeedConfig, Meta(description="market-data feed")] = FeedConfig()
    md: Annotated[MdConfig, Meta(description="market-data process")] = MdConfig()
    workers: Annotated[WorkersConfig, Meta(description="worker processes")] = WorkersConfig()
    pipeline: Annotated[PipelineConfig, Meta(description="stage chain vs legacy")] = PipelineConfig()
    stage_budgets: Annotated[StageBudgetsConfig,
                             Meta(description="latency budgets")] = StageBudgetsConfig()
    spread: Annotated[SpreadConfig, Meta(description="Spread stage")] = SpreadConfig()
    guards: Annotated[GuardsConfig, Meta(description="Guards stage")] = GuardsConfig()
    inventory: Annotated[InventoryConfig, Meta(description="Inventory stage")] = InventoryConfig()
    queue: Annotated[QueueConfig, Meta(description="QueueAware stage")] = QueueConfig()
    venue: Annotated[VenueConfig, Meta(description="paper venue")] = VenueConfig()
    symbol_scoreboard: Annotated[ScoreboardConfig,
                                 Meta(description="per-symbol scoreboard")] = ScoreboardConfig()
    dynamic_allocator: Annotated[AllocatorConfig,
                                 Meta(description="weight allocator")] = AllocatorConfig()
    supervisor: Annotated[SupervisorConfig,
                          Meta(description="restarts, heartbeats, stop")] = SupervisorConfig()
    metrics: Annotated[MetricsConfig, Meta(description="Prometheus exporter")] = MetricsConfig()
    rollout: Annotated[RolloutConfig, Meta(description="rollout gates (quotepipe canary)")] = RolloutConfig()
    risk: Annotated[RiskConfig, Meta(description="book-wide risk limits")] = RiskConfig()

    def instrument(self, instrument_id: str) -> Instrument:
        for inst in self.instruments:
            if inst.id == instrument_id:
                return inst
        raise KeyError(instrument_id)


# --------------------------------------------------------------------- errors

class ConfigError(ValueError):
    """A config was refused. ``str()`` names the file and the dotted field path."""

    def __init__(self, message: str, source: str | None = None) -> None:
        self.message = message
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


# ------------------------------------------------------------------- loading

class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-5`` as a float (YAML 1.1 needs ``1.0e-5``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+][0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def load_config(path: str | os.PathLike[str], host_cpus: Collection[int] | None = None) -> Config:
    """Read, decode and validate a config file; raise ``ConfigError`` naming it.

    ``host_cpus``: the cores configured CPUs must be among (None: not checked)."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", source) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, expected a YAML file", source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line}", source) from None
    return parse_config(text, source, host_cpus)


def parse_config(text: str, source: str = "<config>", host_cpus: Collection[int] | None = None) -> Config:
    try:
        node = yaml.compose(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
        if node is not None:
            problem = _node_problem(node)
            if problem:
                raise ConfigError(problem, source)
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"YAML syntax error: {where}{problem}", source) from None
    except RecursionError:
        raise ConfigError(f"YAML nested more than {MAX_DEPTH} levels deep", source) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping of sections at the top level, got {_show(raw)}",
                          source)
    raw = _with_default_fees(raw)
    try:
        cfg = msgspec.convert(raw, Config, strict=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(str(exc), raw), source) from None
    problem = validate(cfg, host_cpus) or _candidate_problem(cfg, raw)
    if problem:
        raise ConfigError(problem, source)
    return cfg


CANDIDATE_SECTIONS = ("spread", "guards", "inventory", "queue")


def _candidate_problem(cfg: Config, raw: dict[str, Any]) -> str | None:
    """``pipeline.candidate`` names only stage sections, and merged onto them it is a valid config."""
    for name in cfg.pipeline.candidate:
        if name not in CANDIDATE_SECTIONS:
            return (f"pipeline.candidate.{name}: expected one of the stage sections "
                    f"({', '.join(CANDIDATE_SECTIONS)})")
    if not cfg.pipeline.candidate:
        return None
    try:
        candidate_config(cfg)
    except msgspec.ValidationError as exc:
        merged = {**raw, **{k: {**raw.get(k, {}), **v} for k, v in cfg.pipeline.candidate.items()}}
        return "pipeline.candidate: " + _explain(str(exc), merged)
    return None


def candidate_config(cfg: Config) -> Config:
    """The config the pipeline chain runs with: ``cfg`` with ``pipeline.candidate`` merged onto
    its stage sections (``cfg`` itself when there is no candidate)."""
    if not cfg.pipeline.candidate:
        return cfg
    changes = {name: msgspec.convert({**msgspec.to_builtins(getattr(cfg, name)), **fields},
                                     type(getattr(cfg, name)), strict=True)
               for name, fields in cfg.pipeline.candidate.items()}
    return msgspec.structs.replace(cfg, **changes)


MAX_DEPTH = 16  #: no config section nests deeper than 4; anything past this is not a config


def _node_problem(node: yaml.Node, path: str = "", depth: int = 0) -> str | None:
    """A duplicate key (YAML keeps the last one silently) or absurd nesting, with its path."""
    if depth > MAX_DEPTH:
        return f"{path or '(top level)'}: YAML nested more than {MAX_DEPTH} levels deep"
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            where = f"{path}.{name}" if path else name
            if name in seen:
                return (f"{where}: duplicate key (lines {seen[name]} and {key.start_mark.line + 1}); "
                        "YAML would keep only the last")
            seen[name] = key.start_mark.line + 1
            problem = _node_problem(value, where, depth + 1)
            if problem:
                return problem
    elif isinstance(node, yaml.SequenceNode):
        for n, item in enumerate(node.value):
            problem = _node_problem(item, f"{path}[{n}]", depth + 1)
            if problem:
                return problem
    return None


def _with_default_fees(raw: dict[str, Any]) -> dict[str, Any]:
    """``venue.fees`` names only the venues (and fields) it changes: the others keep their
    defaults, so one venue's line does not drop the rest's rebates."""
    venue = raw.get("venue")
    if not isinstance(venue, dict) or not isinstance(venue.get("fees"), dict):
        return raw
    fees: dict[str, Any] = venue["fees"]
    merged: dict[str, Any] = msgspec.to_builtins(VenueConfig().fees)
    for name, given in fees.items():
        base = merged.get(name, {})
        merged[name] = {**base, **given} if isinstance(given, dict) else given
    return {**raw, "venue": {**venue, "fees": merged}}


def _non_finite(value: Any, path: str) -> str | None:
    """The dotted path of the first ``.inf`` or ``.nan`` in a config, with what it holds."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path}: expected a finite number, got {value}"
    if isinstance(value, dict):
        for k, v in value.items():
            found = _non_finite(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(value, list):
        for n, v in enumerate(value):
            found = _non_finite(v, f"{path}[{n}]")
            if found:
                return found
    return None


def default_config() -> Config:
    return Config()


def dump_config(cfg: Config) -> str:
    """The config as YAML that ``load_config`` reads back to an equal value."""
    return yaml.safe_dump(msgspec.to_builtins(cfg), sort_keys=False, default_flow_style=False)


# ---------------------------------------------------------- cross-field checks

def validate(cfg: Config, host_cpus: Collection[int] | None = None) -> str | None:
    """Cross-field checks msgspec cannot express; the first problem, or None.

    CPUs are checked against ``host_cpus`` when given (the host's CPU set as taken at
    start); a pure function of its arguments."""
    ids = [i.id for i in cfg.instruments]
    if not ids:
        return "instruments: expected at least one instrument, got an empty list"
    infinite = _non_finite(msgspec.to_builtins(cfg), "")
    if infinite:
        return infinite
    seen: set[str] = set()
    for n, inst in enumerate(cfg.instruments):
        if inst.id in seen:
            return f"instruments[{n}].id: duplicate instrument id {inst.id!r}"
        seen.add(inst.id)
        if inst.venue not in VENUES:
            return (f"instruments[{n}].id: unknown venue {inst.venue!r} in {inst.id!r} "
                    f"(expected one of: {', '.join(VENUES)})")
        if inst.max_position is not None and inst.max_position < inst.base_qty:
            return (f"instruments[{n}].max_position: {inst.max_position} is less than one base order "
                    f"({inst.base_qty}): the instrument could only ever reduce")
        if inst.base_qty < inst.lot_size * (1 - 1e-9):
            return (f"instruments[{n}].base_qty: {inst.base_qty} is less than one lot "
                    f"(lot_size {inst.lot_size}): every order would round to 0 and never quote")
        if inst.shard is not None and inst.shard >= cfg.workers.count:
            return (f"instruments[{n}].shard: expected a shard id < workers.count "
                    f"({cfg.workers.count}), got {inst.shard}")
        if inst.inverse and inst.contract_multiplier == 1.0:
            return (f"instruments[{n}].contract_multiplier: an inverse contract needs its USD "
                    f"value per contract (e.g. 100), got 1.0")
    da = cfg.dynamic_allocator
    if not da.min_weight <= 1.0 <= da.max_weight:
        return ("dynamic_allocator: expected min_weight <= 1 <= max_weight, got "
                f"min_weight={da.min_weight}, max_weight={da.max_weight}")
    host = set(host_cpus) if host_cpus is not None else None
    if host is not None and cfg.md.cpu is not None and cfg.md.cpu not in host:
        return f"md.cpu: expected one of this host's CPUs {sorted(host)}, got {cfg.md.cpu}"
    if cfg.workers.cpus is not None:
        if len(cfg.workers.cpus) != cfg.workers.count:
            return (f"workers.cpus: expected one CPU per worker ({cfg.workers.count}), "
                    f"got {len(cfg.workers.cpus)}")
        for n, cpu in enumerate(cfg.workers.cpus):
            if host is not None and cpu not in host:
                return (f"workers.cpus[{n}]: expected one of this host's CPUs {sorted(host)}, "
                        f"got {cpu}")
            if cpu in cfg.workers.cpus[:n]:
                return (f"workers.cpus[{n}]: CPU {cpu} is already worker "
                        f"{cfg.workers.cpus.index(cpu)}'s: two pinned workers on one core halve both")
            if cpu == cfg.md.cpu:
                return f"workers.cpus[{n}]: CPU {cpu} is md.cpu: the market-data core is its own"
    if cfg.venue.cancel_on_silence_ms >= cfg.supervisor.heartbeat_timeout_ms:
        return (f"venue.cancel_on_silence_ms: expected less than supervisor.heartbeat_timeout_ms "
                f"({cfg.supervisor.heartbeat_timeout_ms:g}): the orders must go before the worker is killed, "
                f"got {cfg.venue.cancel_on_silence_ms:g}")
    for venue_name in cfg.venue.fees:
        if venue_name not in VENUES:
            return f"venue.fees.{venue_name}: unknown venue (expected one of: {', '.join(VENUES)})"
    for n, shard in enumerate(cfg.pipeline.canary_shards):
        if not 0 <= shard < cfg.workers.count:
            return (f"pipeline.canary_shards[{n}]: expected a shard id in "
                    f"[0, {cfg.workers.count - 1}], got {shard}")
    for shard in cfg.pipeline.shard_modes:
        if not 0 <= shard < cfg.workers.count:
            return (f"pipeline.shard_modes.{shard}: expected a shard id in "
                    f"[0, {cfg.workers.count - 1}], got {shard}")
    for n, inst_id in enumerate(cfg.guards.blacklist):
        if inst_id not in seen:
            return f"guards.blacklist[{n}]: {inst_id!r} is not in instruments"
    if cfg.feed.kind == "replay" and not cfg.feed.paths:
        return "feed.paths: expected at least one recording for feed.kind=replay, got []"
    if cfg.metrics.port and not cfg.metrics.listen:
        return "metrics.listen: expected an address, got an empty string"
    return None


# ------------------------------------------------------------- error messages

_AT = re.compile(r"^(?P<msg>.*) - at `\$(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<key>[^`]*)`$")


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for m in re.finditer(r"\.([^.\[]+)|\[(\d+)\]|\[(?:'|\")?([^\]'\"]*)(?:'|\")?\]", path):
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(int(m.group(2)))
        else:
            parts.append(m.group(3))
    return parts


def _dotted(parts: list[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _value_at(raw: Any, parts: list[str | int]) -> Any:
    for p in parts:
        try:
            raw = raw[p]
        except (KeyError, IndexError, TypeError):
            return None
    return raw


def _type_at(parts: list[str | int]) -> msgspec.inspect.Type:
    t: msgspec.inspect.Type = msgspec.inspect.type_info(Config)
    for p in parts:
        while isinstance(t, msgspec.inspect.Metadata):
            t = t.type
        if isinstance(t, msgspec.inspect.UnionType):
            t = next((u for u in t.types if not isinstance(u, msgspec.inspect.NoneType)), t)
        if isinstance(t, msgspec.inspect.StructType) and isinstance(p, str):
            t = next(f.type for f in t.fields if f.name == p)
        elif isinstance(t, msgspec.inspect.ListType | msgspec.inspect.DictType):
            t = t.item_type if isinstance(t, msgspec.inspect.ListType) else t.value_type
    return t


def _describe(t: msgspec.inspect.Type) -> str:
    """'a number >= 1.0', 'one of "a", "b"', 'a mapping', ... for an inspect type."""
    ins = msgspec.inspect
    if isinstance(t, ins.Metadata):
        return _describe(t.type)
    if isinstance(t, ins.UnionType):
        parts = [_describe(u) for u in t.types if not isinstance(u, ins.NoneType)]
        has_null = any(isinstance(u, ins.NoneType) for u in t.types)
        return " or ".join(parts + (["null"] if has_null else []))
    limits = ""
    for attr, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        v = getattr(t, attr, None)
        if v is not None:
            limits += f"{' and' if limits else ''} {op} {v}"
    if isinstance(t, ins.FloatType):
        return "a number" + limits
    if isinstance(t, ins.IntType):
        return "an integer" + limits
    if isinstance(t, ins.BoolType):
        return "true or false"
    if isinstance(t, ins.StrType):
        return "a string" + (f" matching {t.pattern}" if t.pattern else "")
    if isinstance(t, ins.LiteralType):
        return "one of " + ", ".join(f'"{v}"' for v in t.values)
    if isinstance(t, ins.ListType):
        return f"a list of {_describe(t.item_type).removeprefix('a ').removeprefix('an ')}s"
    if isinstance(t, ins.DictType | ins.StructType):
        return "a mapping"
    return type(t).__name__


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _explain(message: str, raw: Any) -> str:
    m = _AT.match(message)
    parts = _split_path(m.group("path")) if m else []
    detail = m.group("msg") if m else message
    unknown = _UNKNOWN.match(detail)
    if unknown:
        key = unknown.group("key")
        t = _type_at(parts)
        while isinstance(t, msgspec.inspect.Metadata):
            t = t.type
        known = ", ".join(f.name for f in getattr(t, "fields", ()))
        return f"{_dotted([*parts, key])}: unknown key (expected one of: {known})"
    missing = _MISSING.match(detail)
    if missing:
        return f"{_dotted([*parts, missing.group('key')])}: required field is missing"
    where = _dotted(parts) or "(top level)"
    expected = _describe(_type_at(parts))
    return f"{where}: expected {expected}, got {_show(_value_at(raw, parts))}"


# ------------------------------------------------------------------- cores and modes

def cpu_plan(cfg: Config, host_cpus: Collection[int]) -> tuple[int | None, list[int | None]]:
    """Cores of the market-data process and of each worker (None: unpinned), on a host
    whose CPU set is ``host_cpus``.

    Defaults: market data on the first core of a host with 2+ cores, workers on the
    cores after it, one each, unpinned when none are left (a 1-core host pins nothing).
    """
    cpus = sorted(host_cpus)
    md = cfg.md.cpu if cfg.md.cpu is not None else (cpus[0] if len(cpus) >= 2 else None)
    if cfg.workers.cpus is not None:
        return md, list(cfg.workers.cpus)
    free = [c for c in cpus if c != md] if md is not None else []
    return md, [free[s] if s < len(free) else None for s in range(cfg.workers.count)]


def canary_count(n_shards: int, percent: float) -> int:
    """Shards a ``canary_percent`` makes: round half up, at least one above 0%, at most all."""
    if percent <= 0:
        return 0
    return min(n_shards, max(1, math.floor(n_shards * percent / 100.0 + 0.5)))


def shard_modes(cfg: Config) -> list[str]:
    """Each shard's mode: ``pipeline.mode``, then the canary (``canary_percent`` of the lowest
    ids, and ``canary_shards``) in ``canary_mode``, then ``shard_modes`` over all of it.
    ``pipeline.enabled: false`` is the rollback: legacy everywhere."""
    n = cfg.workers.count
    p = cfg.pipeline
    if not p.enabled:
        return ["legacy"] * n
    canary = set(p.canary_shards) | set(range(canary_count(n, p.canary_percent)))
    return [p.shard_modes.get(s, p.canary_mode if s in canary else p.mode) for s in range(n)]


def canary_warning(cfg: Config) -> str | None:
    """What to say when the canary realised is not the percent asked for."""
    n, pct = cfg.workers.count, cfg.pipeline.canary_percent
    k = canary_count(n, pct)
    if k * 100.0 / n == pct or not cfg.pipeline.enabled:
        return None
    return (f"pipeline.canary_percent {pct:g} of {n} shard{'s' if n != 1 else ''} is {k} shard"
            f"{'s' if k != 1 else ''} ({k * 100.0 / n:.4g}%): shards are whole")


# ------------------------------------------------------------------ reloading

#: Top-level sections and fields a SIGHUP may change without a restart.
RELOADABLE = (
    "pipeline", "stage_budgets", "spread", "guards", "inventory", "queue",
    "symbol_scoreboard", "dynamic_allocator", "rollout", "risk",
)


class ConfigDiff(msgspec.Struct, frozen=True):
    reloadable: list[str]
    restart_only: list[str]

    @property
    def needs_restart(self) -> bool:
        return bool(self.restart_only)


def _leaf_diff(a: Any, b: Any, prefix: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            _leaf_diff(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else str(key), out)
    elif a != b:
        out.append(prefix)


def diff_configs(old: Config, new: Config) -> ConfigDiff:
    """Dotted paths of every changed field, split into reloadable and restart-only."""
    changed: list[str] = []
    _leaf_diff(msgspec.to_builtins(old), msgspec.to_builtins(new), "", changed)
    reloadable = [c for c in changed if c.split(".", 1)[0] in RELOADABLE]
    restart = [c for c in changed if c.split(".", 1)[0] not in RELOADABLE]
    return ConfigDiff(reloadable=reloadable, restart_only=restart)
