"""The paper venue: queue position, trades through, latency, post-only, inverse PnL."""

from __future__ import annotations

import msgspec
import pytest

from quotepipe.config import parse_config
from quotepipe.domain.guards import Guard
from quotepipe.domain.instrument import instrument_specs
from quotepipe.domain.orders import BID, NEW, NONE, UNSEEN, Action, Fill, OrderEnd
from quotepipe.domain.snapshot import Snapshot
from quotepipe.venue.paper import PaperVenue
from quotepipe.venue.queue_models import ProbQueue, RiskAverseQueue
from quotepipe.workers.dto import InventoryDecision, QuoteIntent, SpreadDecision, TickContext
from quotepipe.workers.stages import fetch_md, queue_aware
from tests.chain_helpers import INVERSE, LINEAR, T0, config

MS = 1_000_000


def venue(**venue_cfg):
    cfg = config(venue={"entry_latency_ms": 5.0, "cancel_latency_ms": 5.0, **venue_cfg})
    fills: list[Fill] = []
    ends: list[OrderEnd] = []
    return PaperVenue(cfg, fills.append, ends.append), fills, ends


def intent(slot=0, t=T0, bid=(Action.NONE, 0.0, 0.0), ask=(Action.NONE, 0.0, 0.0)):
    return QuoteIntent(slot, t, bid[0], bid[1], bid[2], ask[0], ask[1], ask[2], 1.0, Guard.QUOTE, 0, 100.0)


def resting_bid(v, px=100.0, qty=1.0, level=5.0, slot=0):
    """Book 100.00 x 100.02 with ``level`` at the bid; our bid rests at ``px``."""
    v.on_book(slot, T0, 100.0, level, 100.02, 5.0)
    v.submit(intent(slot, T0, bid=(Action.NEW, px, qty)))
    v.on_book(slot, T0 + 6 * MS, 100.0, level, 100.02, 5.0)  # entry latency passed: it rests
    return v.resting(slot, 0)


def test_queue_ahead_is_consumed_by_trades_before_we_fill():
    v, fills, _ = venue()
    r = resting_bid(v)
    assert (r.queue_ahead, r.level_qty) == (5.0, 5.0)
    v.on_trade(0, T0 + 7 * MS, 100.0, 3.0, -1)
    assert fills == [] and v.resting(0, 0).queue_ahead == 2.0
    v.on_trade(0, T0 + 8 * MS, 100.0, 2.5, -1)
    assert len(fills) == 1 and fills[0].qty == pytest.approx(0.5) and fills[0].side == 1
    assert v.resting(0, 0).qty == pytest.approx(0.5)
    v.on_trade(0, T0 + 9 * MS, 100.0, 2.0, -1)  # fills what is left: a partial fill, then the rest
    assert sum(f.qty for f in fills) == pytest.approx(1.0)
    assert v.resting(0, 0) is None and v.position[0] == pytest.approx(1.0)


def test_a_trade_through_our_price_fills_us():
    v, fills, ends = venue()
    resting_bid(v, level=50.0)
    v.on_trade(0, T0 + 7 * MS, 99.99, 0.1, -1)
    assert [f.qty for f in fills] == [1.0]
    assert ends == [OrderEnd(0, 1, 1.0, 1.0, T0 + 7 * MS, 0.0)]  # swept through: no queue came off


def test_buyer_aggressor_does_not_fill_our_bid():
    v, fills, _ = venue()
    resting_bid(v, level=0.0)
    v.on_trade(0, T0 + 7 * MS, 99.0, 10.0, +1)
    assert fills == []


def test_cancel_latency_lets_a_fill_happen_before_the_cancel_lands():
    v, fills, ends = venue()
    resting_bid(v, level=0.0)
    v.submit(intent(t=T0 + 10 * MS, bid=(Action.CANCEL, 0.0, 0.0)))
    assert v.resting(0, 0) is None  # the chain no longer sees it as ours to manage
    v.on_trade(0, T0 + 12 * MS, 100.0, 0.4, -1)  # cancel lands at +15 ms
    assert [f.qty for f in fills] == [0.4]
    v.on_trade(0, T0 + 16 * MS, 100.0, 0.4, -1)
    assert len(fills) == 1 and v.open_orders(0) == 0
    assert ends[-1].filled == pytest.approx(0.4) and ends[-1].quoted == 1.0


def test_replace_is_a_new_order_at_the_back_of_its_level():
    v, fills, _ = venue()
    resting_bid(v, level=0.0)
    v.submit(intent(t=T0 + 10 * MS, bid=(Action.REPLACE, 100.0, 2.0)))
    v.on_book(0, T0 + 16 * MS, 100.0, 3.0, 100.02, 5.0)
    r = v.resting(0, 0)
    assert (r.qty, r.queue_ahead) == (2.0, 3.0)


def test_post_only_rejects_an_order_that_would_cross():
    v, fills, _ = venue()
    v.on_book(0, T0, 100.0, 5.0, 100.02, 5.0)
    v.submit(intent(bid=(Action.NEW, 100.02, 1.0)))
    v.on_book(0, T0 + 6 * MS, 100.0, 5.0, 100.02, 5.0)
    assert v.rejects[0] == 1 and v.resting(0, 0) is None and v.open_orders(0) == 0
    v.on_trade(0, T0 + 7 * MS, 99.0, 10.0, -1)
    assert fills == []


def test_inverse_pnl_in_coin_reported_in_usd():
    v, fills, _ = venue(fees={"binance-coinm": {"maker_bps": 0.0, "taker_bps": 0.0}})
    slot = 1  # INVERSE: 10 USD per contract, tick 0.1
    v.on_book(slot, T0, 60000.0, 0.0, 60000.1, 10.0)
    v.submit(intent(slot, T0, bid=(Action.NEW, 60000.0, 30.0)))
    v.on_book(slot, T0 + 6 * MS, 60000.0, 0.0, 60000.1, 10.0)
    v.on_trade(slot, T0 + 7 * MS, 59999.0, 100.0, -1)
    assert v.position[slot] == 30.0 and fills[0].qty == 30.0
    coin_pnl = 30 * INVERSE.contract_multiplier * (1 / 60000.0 - 1 / 61000.0)
    assert v.pnl_usd(slot, 61000.0) == pytest.approx(coin_pnl * 61000.0)
    assert v.pnl_usd(slot, 61000.0) == pytest.approx(300 * (61000 / 60000 - 1))
    assert v.volume[slot] == 300.0


def test_linear_pnl_and_maker_rebate():
    v, fills, _ = venue(fees={"binance-usdm": {"maker_bps": -1.0, "taker_bps": 2.0}})
    resting_bid(v, level=0.0)
    v.on_trade(0, T0 + 7 * MS, 99.9, 5.0, -1)
    rebate = 100.0 * 1.0 * 1e-4
    assert v.pnl_usd(0, 101.0) == pytest.approx(1.0 + rebate)
    assert fills[0].fee_bps == -1.0 and LINEAR.id.startswith("binance-usdm")


def test_queue_models_on_cancellations():
    # 10 ahead of us, 10 behind; 5 cancelled from the level, nothing traded
    assert RiskAverseQueue().advance(10.0, 20.0, 15.0, 0.0) == 10.0
    assert RiskAverseQueue().advance(10.0, 20.0, 8.0, 0.0) == 8.0  # the level shrank below us
    p = ProbQueue(3.0).advance(10.0, 20.0, 15.0, 0.0)
    assert p == pytest.approx(10.0 - 0.5 * 5.0)  # equal front and back: half from each
    front_heavy = ProbQueue(3.0).advance(18.0, 20.0, 15.0, 0.0)
    assert 13.0 <= front_heavy < 18.0 - 4.0  # mostly from the long front
    assert ProbQueue(3.0).advance(10.0, 20.0, 20.0, 0.0) == 10.0


def test_prob_model_advances_queue_on_depth_decrease_in_the_venue():
    for model, expect in (("risk_averse", 5.0), ("prob", None)):
        v, _, _ = venue(queue_model=model)
        resting_bid(v, level=5.0)
        v.on_book(0, T0 + 7 * MS, 100.0, 3.0, 100.02, 5.0)  # 2 cancelled at our level
        ahead = v.resting(0, 0).queue_ahead
        if expect is not None:
            assert ahead == 3.0  # risk averse: only the level bound applies
        else:
            assert ahead < 3.0 or ahead == pytest.approx(3.0)


class Depth:
    """A depth (L2) book of one instrument: price -> quantity; absent prices hold nothing."""

    def __init__(self, levels: dict[float, float]) -> None:
        self.levels = levels

    def qty_at(self, side: int, price: float) -> float | None:
        return self.levels.get(price, 0.0)


def test_an_order_behind_the_best_rereads_the_depth_only_when_it_moved():
    """``depth_moved=False`` (a bookTicker) keeps the depth an order behind the best last
    read; a depth update, or the best reaching the order's price, reads it again."""
    v, _, _ = venue()
    depth = Depth({99.99: 4.0})
    v.on_book(0, T0, 100.0, 5.0, 100.02, 5.0, depth)
    v.submit(intent(0, T0, bid=(Action.NEW, 99.99, 1.0)))
    v.on_book(0, T0 + 6 * MS, 100.0, 5.0, 100.02, 5.0, depth)
    assert (v.resting(0, 0).queue_ahead, v.resting(0, 0).level_qty) == (4.0, 4.0)
    depth.levels[99.99] = 1.0  # the depth shrank, but this update only moved the best
    v.on_book(0, T0 + 7 * MS, 100.0, 6.0, 100.02, 5.0, depth, depth_moved=False)
    assert v.resting(0, 0).level_qty == 4.0
    v.on_book(0, T0 + 8 * MS, 100.0, 6.0, 100.02, 5.0, depth)  # a depth update: read again
    assert v.resting(0, 0).level_qty == 1.0 and v.resting(0, 0).queue_ahead <= 1.0
    v.on_book(0, T0 + 9 * MS, 99.99, 2.5, 100.02, 5.0, depth, depth_moved=False)  # now the best
    assert v.resting(0, 0).level_qty == 2.5


# ------------------------------------------------------------------ whole lots

def test_partial_fills_are_whole_lots_and_the_rest_rests():
    """A trade for 2.3 lots at our level fills 2 (what is left of our order rests); 0.4 of a lot
    fills nothing. Fills used to be the trade's float remainder: 2.8e-17 ETH, 3.3e-8 BTC."""
    cfg = parse_config("venue: {entry_latency_ms: 0, cancel_latency_ms: 0}\ninstruments: [{id: "
                       "'binance-usdm:ETHUSDT', tick_size: 0.01, lot_size: 0.001, base_qty: 0.005}]\n")
    fills = []
    v = PaperVenue(cfg, fills.append)
    v.on_book(0, 1, 2500.00, 0.0, 2500.02, 1.0)  # nothing at the bid: we are first in the queue
    v.apply(0, 1, NEW, 2500.00, 0.005, NONE, 0.0, 0.0)
    v.advance(0, 2)
    v.on_book(0, 3, 2500.00, 0.0, 2500.02, 1.0)
    v.on_trade(0, 4, 2500.00, 0.0023, -1)
    assert [f.qty for f in fills] == [0.002] and v.position[0] == 0.002 and v.position_lots[0] == 2
    assert v.resting(0, BID).qty == 0.003
    v.on_trade(0, 5, 2500.00, 0.0004, -1)
    assert len(fills) == 1  # under a lot: no dust fill
    v.on_trade(0, 6, 2499.99, 7.77777, -1)  # through our price: the whole rest, 3 lots
    assert [f.qty for f in fills] == [0.002, 0.003] and v.position[0] == 0.005 and v.position_lots[0] == 5
    assert v.resting(0, BID) is None


def test_prices_compare_as_ticks_not_floats():
    """0.1 + 0.2 is not 0.3 as floats; as ticks of 0.1 it is 3: a trade at our price is one."""
    cfg = parse_config("venue: {entry_latency_ms: 0, cancel_latency_ms: 0}\ninstruments: [{id: "
                       "'binance-usdm:XUSDT', tick_size: 0.1, lot_size: 1, base_qty: 1}]\n")
    fills = []
    v = PaperVenue(cfg, fills.append)
    v.on_book(0, 1, 0.3, 0.0, 0.5, 1.0)
    v.apply(0, 1, NEW, 0.1 + 0.2, 2.0, NONE, 0.0, 0.0)  # 0.30000000000000004
    v.advance(0, 2)
    v.on_trade(0, 3, 0.3, 1.0, -1)
    assert [f.qty for f in fills] == [1.0]


@pytest.mark.realdata
def test_replays_of_the_recordings_fill_whole_lots_only(real_recordings):
    from quotepipe.config import default_config
    from quotepipe.replay import Replay

    cfg = default_config()
    replay = Replay(cfg, real_recordings)
    fills = []
    record = replay.venue.on_fill

    def on_fill(f):  # noqa: ANN001
        fills.append(f)
        record(f)

    replay.venue.on_fill = on_fill
    replay.run()
    assert fills
    lots = {i: inst.lot_size for i, inst in enumerate(cfg.instruments)}
    for f in fills:
        n = f.qty / lots[f.slot]
        assert abs(n - round(n)) < 1e-9 and round(n) >= 1, f
    for i, lot in lots.items():
        n = replay.venue.position[i] / lot
        assert abs(n - round(n)) < 1e-9 and round(n) == replay.venue.position_lots[i], (i, n)


def test_queue_edge_is_how_far_up_its_queue_an_order_came():
    """It was 0 or 1 by construction (0 whenever the order joined an existing level)."""
    cfg = parse_config("venue: {entry_latency_ms: 0, cancel_latency_ms: 0, queue_model: risk_averse}\n"
                       "instruments: [{id: 'binance-usdm:XUSDT', tick_size: 0.01, lot_size: 1, "
                       "base_qty: 2}]\n")
    fills, ends = [], []
    v = PaperVenue(cfg, fills.append, ends.append)
    v.on_book(0, 1, 100.00, 10.0, 100.02, 10.0)  # 10 ahead of us at the bid
    v.apply(0, 1, NEW, 100.00, 2.0, NONE, 0.0, 0.0)
    v.advance(0, 2)
    v.on_trade(0, 3, 100.00, 4.0, -1)  # 4 of the 10 traded: we are 40% up the queue
    v.apply(0, 4, Action.CANCEL, 0.0, 0.0, NONE, 0.0, 0.0)
    v.advance(0, 5)
    assert not fills and [e.queue_edge for e in ends] == [pytest.approx(0.4)]
    # the next one joins 10 deep too, and a trade of 11 clears the queue and fills one lot
    v.on_book(0, 6, 100.00, 10.0, 100.02, 10.0)
    v.apply(0, 6, NEW, 100.00, 2.0, NONE, 0.0, 0.0)
    v.advance(0, 7)
    v.on_trade(0, 8, 100.00, 11.0, -1)
    assert [f.qty for f in fills] == [1.0] and fills[0].queue_edge == 1.0
    # a third joins 10 deep and is filled by a sweep through its price with 10 still ahead
    v.apply(0, 9, Action.CANCEL, 0.0, 0.0, NONE, 0.0, 0.0)
    v.advance(0, 10)
    v.on_book(0, 11, 100.00, 10.0, 100.02, 10.0)
    v.apply(0, 11, NEW, 100.00, 2.0, NONE, 0.0, 0.0)
    v.advance(0, 12)
    v.on_trade(0, 13, 99.98, 50.0, -1)
    assert fills[-1].qty == 2.0 and fills[-1].queue_edge == 0.0  # nobody ahead had moved: no edge


def test_a_book_limit_flattens_every_position_with_reducing_fills_then_pulls():
    """The kill switch was per instrument and left the position open (75 contracts in a test)."""
    from quotepipe.replay import Replay

    cfg = parse_config("risk: {max_gross_notional_usd: 2500}\n")
    replay = Replay(cfg, limit=600_000)
    venue = replay.venue
    seen = {"at_breach": [], "after": [], "rejects_at_breach": 0}
    record = venue.on_fill

    def on_fill(f):  # noqa: ANN001
        if replay.risk.state and not seen["at_breach"]:
            seen["at_breach"] = list(venue.position_lots)
        if replay.risk.state:
            before = venue.position_lots[f.slot] - f.side * round(f.qty / venue.lot[f.slot])
            seen["after"].append((f.slot, f.side, before))
        record(f)

    venue.on_fill = on_fill
    s = replay.run()
    assert s["book_risk"]["state"] == "pulled" and s["book_risk"]["reason"] == "max_gross_notional_usd"
    assert max(abs(p) for p in seen["at_breach"]) >= 20, seen["at_breach"]  # a real position to work down
    assert seen["after"], "it was worked down by fills"
    for slot, side, before in seen["after"]:
        assert before != 0 and side == (-1 if before > 0 else 1), (slot, side, before)  # reducing only
    assert venue.flat()  # every position 0, or dust under its min_notional no order can work down
    for spec, lots in zip(venue.specs, venue.position_lots, strict=True):
        assert lots == 0 or spec.notional_usd(venue.bid[spec.slot], abs(lots) * spec.lot) < spec.min_notional
    assert [c["what"].split(" (")[0] for c in s["book_risk"]["changes"]] == ["book risk flatten",
                                                                             "book risk pulled"]


def test_an_order_behind_the_touch_of_an_l1_only_book_shows_its_level_unseen_and_is_kept():
    """Without depth the venue guesses the whole best level is ahead; that guess used to make
    the queue rule requeue the order on every move of the target (2.9x the intents of L2)."""
    v, _, _ = venue()
    r = resting_bid(v, px=99.98, level=500.0)  # two ticks behind the best bid, no depth: unseen
    assert r.level_qty == UNSEEN and r.queue_ahead == 500.0  # the guess stays for the queue model
    cfg = config()
    spec = instrument_specs(cfg)[0]
    view = fetch_md(Snapshot(100.0, 500.0, 100.02, 5.0, 0.0, 0.0, 0, 0, 0, T0, 0, 2, 1, 1), T0 + 7 * MS)
    sd = SpreadDecision(100.01, 100.01, 3.0, 0.0, 0.0, 0.0, 0, 0, 0.0)
    inv = InventoryDecision(0.0, 100.01, 99.981, 1.0, 0.0, 0.0)
    ctx = TickContext(T0 + 7 * MS, 0.0, 0.0, 1.0, 0, False, r, None)
    assert queue_aware(view, sd, inv, ctx, spec, cfg.queue).bid_keep
    seen = msgspec.structs.replace(r, level_qty=500.0)  # the same guess as if it were seen: requeued
    ctx = TickContext(T0 + 7 * MS, 0.0, 0.0, 1.0, 0, False, seen, None)
    assert not queue_aware(view, sd, inv, ctx, spec, cfg.queue).bid_keep
    v.on_book(0, T0 + 8 * MS, 99.98, 7.0, 100.0, 5.0)  # the best comes down to our price: in view
    assert v.resting(0, 0).level_qty == 7.0
