"""The compiled stages (``workers/stages/*.pyx``) against the Python stages they replaced.

The legacy loop is the behavioural reference (test_legacy_equivalence, shadow);
these hold the compiled code to the exact floats of the Python stages of commit
``REFERENCE`` (the last with them), stage by stage, on the real recordings under
every spread model, and check what compiling added: Python's ``round`` in C, the
struct-field readers, the values' behaviour as immutable values.
"""

from __future__ import annotations

import itertools
import pickle
import subprocess
import sys
import types
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quotepipe.config import Config
from quotepipe.domain.instrument import instrument_specs
from quotepipe.gate.workload import build_workload
from quotepipe.workers import stages
from quotepipe.workers.decisions import GuardDecision, InstrumentState, MarketView, QueueDecision
from quotepipe.workers.stages.emit import round_to

from .chain_helpers import T0, config, ctx, snap
from .conftest import REPO

REFERENCE = "f73e459"  #: the last commit with the Python stages
STAGES = ("fetch_md", "spread", "guards", "inventory", "queue_aware", "emit")


def _git_show(path: str) -> str:
    r = subprocess.run(["git", "show", f"{REFERENCE}:{path}"], cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"commit {REFERENCE} is not in this checkout ({r.stderr.strip()}): a shallow clone")
    return r.stdout


def _python_reference() -> tuple[types.ModuleType, dict[str, object]]:
    """The reference's msgspec DTOs and its six stage functions, built from its sources."""
    dto = types.ModuleType("reference_dto")
    exec(_git_show("src/quotepipe/workers/dto.py"), dto.__dict__)
    sys.modules["reference_dto"] = dto
    fns = {}
    for name in STAGES:
        module = types.ModuleType(f"reference_{name}")
        src = _git_show(f"src/quotepipe/workers/stages/{name}.py")
        exec(src.replace("from quotepipe.workers.dto import", "from reference_dto import"), module.__dict__)
        fns[name] = getattr(module, name)
    return dto, fns


def _fields(v: object) -> tuple:
    return tuple(getattr(v, f) for f in v.__struct_fields__)  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", ["fixed", "vol_adaptive", "avellaneda_stoikov", "glft"])
def test_each_compiled_stage_gives_the_python_stages_floats(model, real_recordings):
    ref_dto, ref = _python_reference()
    base = Config()
    compared = 0
    for fair, skew in itertools.product(("mid", "microprice"), ("linear", "model")):
        cfg = msgspec.structs.replace(
            base, spread=msgspec.structs.replace(base.spread, model=model, fair_price=fair),
            inventory=msgspec.structs.replace(base.inventory, skew=skew))
        specs = instrument_specs(cfg)
        new_states = [InstrumentState() for _ in specs]
        old_states = [ref_dto.InstrumentState() for _ in specs]
        for slot, s, c in build_workload(cfg, [str(p) for p in real_recordings], 6000):
            spec, now = specs[slot], c.now_ns
            old_c = ref_dto.TickContext(*_fields(c))
            v, ov = stages.fetch_md(s, now), ref["fetch_md"](s, now)
            sd, osd = (stages.spread(v, new_states[slot], now, cfg.spread),
                       ref["spread"](ov, old_states[slot], now, cfg.spread))
            gd, ogd = (stages.guards(v, sd, new_states[slot], c, spec, cfg.guards),
                       ref["guards"](ov, osd, old_states[slot], old_c, spec, cfg.guards))
            inv, oinv = (stages.inventory(sd, gd, c, spec, cfg.inventory),
                         ref["inventory"](osd, ogd, old_c, spec, cfg.inventory))
            qd, oqd = (stages.queue_aware(v, sd, inv, c, spec, cfg.queue),
                       ref["queue_aware"](ov, osd, oinv, old_c, spec, cfg.queue))
            intent, new_states[slot] = stages.emit(qd, gd, sd, new_states[slot], c, spec, list().append)
            old_intent, old_states[slot] = ref["emit"](oqd, ogd, osd, old_states[slot], old_c, spec,
                                                       list().append)
            for new, old in ((v, ov), (sd, osd), (gd, ogd), (inv, oinv), (qd, oqd),
                             (new_states[slot], old_states[slot])):
                assert _fields(new) == _fields(old), (type(new).__name__, new, old)
            # the intent as the replay hash sees it: types too (an int stays an int)
            assert msgspec.json.encode(intent) == msgspec.json.encode(old_intent)
            compared += 1
    assert compared > 15_000


@given(st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 25))
def test_round_to_is_pythons_round(x, digits):
    got, want = round_to(x, digits), round(x, digits)
    assert got == want or (got != got and want != want)
    assert str(got) == str(want)  # the sign of a zero too


@given(st.integers(-10**9, 10**9), st.sampled_from([(0.01, 2), (0.1, 1), (1e-05, 5), (0.25, 3), (0.001, 3)]))
def test_round_to_on_the_grid(k, step):
    tick, digits = step
    for x in (k * tick, k * tick * (1 + 1e-15), (k + 0.5) * tick):
        assert str(round_to(x, digits)) == str(round(x, digits))


def test_stages_refuse_an_input_of_another_type():
    """The compiled readers trust a struct's field offsets: anything else is refused by name."""
    cfg = config()
    with pytest.raises(TypeError, match="expected Snapshot, got dict"):
        stages.fetch_md({"bid_px": 1.0}, T0)  # type: ignore[arg-type]
    view = stages.fetch_md(snap(), T0)
    with pytest.raises(TypeError, match="expected SpreadConfig, got GuardsConfig"):
        stages.spread(view, InstrumentState(), T0, cfg.guards)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        stages.spread(snap(), InstrumentState(), T0, cfg.spread)  # type: ignore[arg-type]


def test_int_fields_are_read_as_python_arithmetic_reads_them():
    """A struct field holds whatever it was given: an int where a float is declared reads as its
    float, a bool as its truth."""
    as_ints = stages.fetch_md(snap(bid=100, ask=101, bid_qty=5, ask_qty=5), T0)
    as_floats = stages.fetch_md(snap(bid=100.0, ask=101.0, bid_qty=5.0, ask_qty=5.0), T0)
    assert as_ints == as_floats
    spec = instrument_specs(config())[0]
    sd = stages.spread(as_floats, InstrumentState(), T0, config().spread)
    a = stages.guards(as_floats, sd, InstrumentState(), ctx(weight=1, halted=0), spec,  # type: ignore[arg-type]
                      config().guards)
    b = stages.guards(as_floats, sd, InstrumentState(), ctx(weight=1.0, halted=False), spec,
                      config().guards)
    assert a == b


def _fresh(text: str) -> str:
    """An equal string that is not the interned one (``is_choice``'s identity misses)."""
    copy = "".join(list(text))
    assert copy == text and copy is not sys.intern(text)
    return copy


@pytest.mark.parametrize("model", ["fixed", "vol_adaptive", "avellaneda_stoikov", "glft"])
def test_a_config_choice_reads_by_its_text_not_only_by_identity(model):
    """msgspec hands a ``Literal`` field the interned literal, which the compiled stages test by
    identity first; a config built by other means, with an equal string that is another object,
    must choose the same model, fair price and skew."""
    st = InstrumentState(anchor_ns=T0, anchor_mid=100.01, var_bps2=2.0, vol_samples=3)
    view = stages.fetch_md(snap(bid_qty=1.0, ask_qty=3.0), T0)
    spec = instrument_specs(config())[0]
    for fair, skew in itertools.product(("mid", "microprice"), ("linear", "model")):
        interned = config(spread={"model": model, "fair_price": fair}, inventory={"skew": skew})
        spread_cfg = msgspec.structs.replace(interned.spread, model=_fresh(model), fair_price=_fresh(fair))
        fresh = msgspec.structs.replace(interned, spread=spread_cfg, inventory=msgspec.structs.replace(
            interned.inventory, skew=_fresh(skew)))
        decided = []
        for cfg in (interned, fresh):
            sd = stages.spread(view, st, T0, cfg.spread)
            gd = stages.guards(view, sd, st, ctx(position=2.0), spec, cfg.guards)
            decided.append((sd, stages.inventory(sd, gd, ctx(position=2.0), spec, cfg.inventory)))
        assert decided[0] == decided[1], (model, fair, skew)


INT64 = st.integers(-(2**63), 2**63 - 1)
#: where a 30-bit digit starts or ends, and the ends of the range: the fast reader's cases
EDGES = st.sampled_from([0, 1, -1, 2**30 - 1, 2**30, -(2**30), 2**60 - 1, 2**60, -(2**60), 2**62,
                         2**63 - 1, -(2**63) + 1, -(2**63)])


@given(st.one_of(INT64, EDGES), st.one_of(INT64, EDGES))
def test_a_ns_time_is_read_exactly_whatever_its_size(now, recv):
    """``fields.int64_of`` reads an int of up to three 30-bit digits from its digits and leaves the
    rest to ``PyLong_AsLongLong``: both paths give the int itself (the age is their difference,
    in C's wrapping arithmetic, as before)."""
    view = stages.fetch_md(snap(recv_ns=recv), now)
    want = (now - recv + 2**63) % 2**64 - 2**63
    assert view.age_ns == want


def test_a_ns_time_out_of_range_or_not_an_int_is_refused():
    """Beyond a C long long, or not an int at all, is an error, as PyLong_AsLongLong makes it;
    what has an ``__index__`` (a numpy integer, a bool) reads as that int."""
    import numpy as np

    for big in (2**63, -(2**63) - 1, 2**200):
        with pytest.raises(OverflowError):
            stages.fetch_md(snap(), big)
        with pytest.raises(OverflowError):
            stages.fetch_md(snap(recv_ns=big), T0)
    with pytest.raises(TypeError):
        stages.fetch_md(snap(), 1.5)  # type: ignore[arg-type]
    assert stages.fetch_md(snap(recv_ns=0), np.int64(T0)).age_ns == T0  # type: ignore[arg-type]
    assert stages.fetch_md(snap(recv_ns=0), True).age_ns == 1


def test_the_chain_values_are_immutable_values():
    v = MarketView(1.0, 2.0, 3.0, 4.0, 2.0, 5, 1, 0)
    with pytest.raises(AttributeError):
        v.bid_px = 9.0  # type: ignore[misc]
    assert v == MarketView(1.0, 2.0, 3.0, 4.0, 2.0, 5, 1, 0)
    assert v != MarketView(1.0, 2.0, 3.0, 4.0, 2.0, 6, 1, 0)
    assert hash(v) == hash(MarketView(1.0, 2.0, 3.0, 4.0, 2.0, 5, 1, 0))
    assert pickle.loads(pickle.dumps(v)) == v
    assert repr(QueueDecision(1.0, 2.0, True, 3.0, 4.0, False)) == (
        "QueueDecision(bid_px=1.0, bid_qty=2.0, bid_keep=True, ask_px=3.0, ask_qty=4.0, ask_keep=False)")
    gd = GuardDecision(2, 0, 1.0, False)
    assert gd.guard.name == "PULL" and gd.guard_code == 2
    with pytest.raises(ValueError):
        GuardDecision(9, 0, 1.0, False)
    s = InstrumentState(killed=True, ticks=3)
    assert s.unkilled() == InstrumentState(ticks=3)


def test_every_extension_is_built_from_its_current_source():
    """An extension module shadows its ``.py`` or ``.pyx``: one built before its source last
    changed runs old code while the tests read the new. ``make ext`` (before ``make test``)
    rebuilds; this says so when it was skipped."""
    import quotepipe

    package = REPO / "src" / "quotepipe"
    built = sorted(package.rglob("*.so"))
    assert built, f"no compiled extension under {package}: run make ext"
    stale = []
    for so in built:
        stem = so.name.split(".", 1)[0]
        sources = [so.with_name(stem + ext) for ext in (".pyx", ".py")]
        source = next(s for s in sources if s.exists())
        if source.stat().st_mtime > so.stat().st_mtime:
            stale.append(f"{so.relative_to(package)} is older than {source.name}")
    assert Path(quotepipe.__file__).parent == package
    assert not stale, "; ".join(stale) + ": run make ext"
