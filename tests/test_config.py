from __future__ import annotations

import msgspec
import pytest

from quotepipe.config import (
    Config,
    ConfigError,
    default_config,
    diff_configs,
    dump_config,
    load_config,
    parse_config,
    shard_modes,
)
from quotepipe.domain.shards import shard_of
from quotepipe.runtime.cpu import host_cpus
from tests.conftest import run_cli


def write(tmp_path, text: str):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_default_round_trips_and_passes_check_config(tmp_path):
    cfg = default_config()
    text = dump_config(cfg)
    assert parse_config(text) == cfg
    out = run_cli("config", "default")
    assert out.returncode == 0
    path = write(tmp_path, out.stdout)
    assert load_config(path) == cfg
    check = run_cli("check-config", str(path))
    assert check.returncode == 0, check.stderr
    assert "config OK" in check.stdout
    assert "binance-coinm:BTCUSD_PERP" in check.stdout


def test_default_instruments_match_the_shared_data_readme():
    by_id = {i.id: i for i in default_config().instruments}
    expected = {
        "binance-spot:BTCUSDT": (0.01, 0.00001, False, 1.0),
        "binance-spot:ETHUSDT": (0.01, 0.0001, False, 1.0),
        "binance-usdm:BTCUSDT": (0.1, 0.001, False, 1.0),
        "binance-usdm:ETHUSDT": (0.01, 0.001, False, 1.0),
        "binance-coinm:BTCUSD_PERP": (0.1, 1.0, True, 100.0),
        "binance-coinm:ETHUSD_PERP": (0.01, 1.0, True, 10.0),
    }
    assert set(by_id) == set(expected)
    for iid, (tick, lot, inverse, mult) in expected.items():
        inst = by_id[iid]
        assert (inst.tick_size, inst.lot_size, inst.inverse, inst.contract_multiplier) == (
            tick, lot, inverse, mult)


def test_partial_file_takes_every_other_default(tmp_path):
    cfg = load_config(write(tmp_path, "pipeline: {enabled: false}\n"))
    assert cfg.pipeline.enabled is False
    assert msgspec.structs.replace(cfg, pipeline=Config().pipeline) == Config()
    assert shard_modes(cfg) == ["legacy"]


def test_every_field_has_a_description():
    def walk(t, path):
        for f in t.fields:
            ft = f.type
            assert isinstance(ft, msgspec.inspect.Metadata), f"{path}{f.name} lacks Meta"
            assert (ft.extra_json_schema or {}).get("description"), f"{path}{f.name}"
            inner = ft.type
            if isinstance(inner, msgspec.inspect.StructType):
                walk(inner, f"{path}{f.name}.")
    walk(msgspec.inspect.type_info(Config), "")


def test_scientific_floats_are_numbers(tmp_path):
    cfg = load_config(write(tmp_path, "instruments:\n- {id: 'binance-spot:X', tick_size: 1e-2,"
                                      " lot_size: 1e-5, base_qty: 1}\n"))
    assert cfg.instruments[0].lot_size == 1e-5


BAD = [
    ("wrong type", "dynamic_allocator: {max_weight: high}",
     'dynamic_allocator.max_weight: expected a number >= 1, got "high"'),
    ("unknown key", "spread: {modle: fixed}", "spread.modle: unknown key"),
    ("unknown section", "sprad: {}", "sprad: unknown key"),
    ("out of range", "feed: {speed: -2}", "feed.speed: expected a number >= 0, got -2"),
    ("bad enum", "spread: {model: magic}", 'spread.model: expected one of'),
    ("cross-field weights", "dynamic_allocator: {min_weight: 1.0, max_weight: 1.0}\n"
     "pipeline: {canary_shards: [1]}", "pipeline.canary_shards[0]: expected a shard id"),
    ("zero tick", "instruments: [{id: 'binance-spot:X', tick_size: 0, lot_size: 1, base_qty: 1}]",
     "instruments[0].tick_size: expected a number > 0, got 0"),
    ("missing cpu", "workers: {cpus: [4096]}", "workers.cpus[0]: expected one of this host's CPUs"),
    ("missing md cpu", "md: {cpu: 4096}", "md.cpu: expected one of this host's CPUs"),
    ("workers >= 1", "workers: {count: 0}", "workers.count: expected an integer >= 1"),
    ("budget > 0", "stage_budgets: {emit_us: 0}", "stage_budgets.emit_us: expected a number > 0"),
    ("explicit shard", "instruments: [{id: 'binance-spot:X', tick_size: 1, lot_size: 1, "
     "base_qty: 1, shard: 2}]", "instruments[0].shard: expected a shard id < workers.count"),
    ("duplicate id", "instruments: [{id: 'binance-spot:X', tick_size: 1, lot_size: 1, base_qty: 1},"
     " {id: 'binance-spot:X', tick_size: 1, lot_size: 1, base_qty: 1}]", "duplicate instrument"),
    ("missing field", "instruments: [{id: 'binance-spot:X', tick_size: 1, lot_size: 1}]",
     "instruments[0].base_qty: required field is missing"),
    ("yaml syntax", "spread: {model: [fixed\n", "YAML syntax error: line"),
    ("top level list", "- 1\n", "expected a mapping of sections"),
    ("blacklist id", "guards: {blacklist: ['binance-spot:NOPE']}", "guards.blacklist[0]"),
]


@pytest.mark.parametrize("name,text,message", BAD, ids=[b[0] for b in BAD])
def test_bad_config_is_refused_with_its_path(tmp_path, name, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, host_cpus())
    assert message in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("name,text,message", [BAD[0], BAD[1], BAD[3], BAD[5], BAD[14]],
                         ids=["wrong type", "unknown key", "out of range", "cross-field", "yaml"])
def test_check_config_exits_2_naming_the_field(tmp_path, name, text, message):
    path = write(tmp_path, text)
    out = run_cli("check-config", str(path))
    assert out.returncode == 2
    assert message in out.stderr and str(path) in out.stderr
    assert out.stdout == ""


def test_check_config_missing_file_exits_2(tmp_path):
    out = run_cli("check-config", str(tmp_path / "nope.yaml"))
    assert out.returncode == 2
    assert "nope.yaml: file not found" in out.stderr


def test_min_weight_above_one_is_refused():
    with pytest.raises(ConfigError, match=r"dynamic_allocator.min_weight: expected a number > 0 "
                                          r"and <= 1, got 1.5"):
        parse_config("dynamic_allocator: {min_weight: 1.5}")


def test_diff_tells_reloadable_from_restart_only():
    old = default_config()
    new = parse_config("pipeline: {mode: shadow, canary_percent: 50}\n"
                       "spread: {vol_mult: 2.0}\nguards: {stale_ms: 100}\n"
                       "dynamic_allocator: {temperature: 0.5}\n"
                       "symbol_scoreboard: {alpha: 0.1}\n")
    d = diff_configs(old, new)
    assert set(d.reloadable) == {"pipeline.mode", "pipeline.canary_percent", "spread.vol_mult",
                                 "guards.stale_ms", "dynamic_allocator.temperature",
                                 "symbol_scoreboard.alpha"}
    assert d.restart_only == [] and not d.needs_restart

    new2 = parse_config("instance: {name: other}\nworkers: {count: 2, cpus: [0, 1]}\n"
                        "instruments: [{id: 'binance-spot:X', tick_size: 1, lot_size: 1,"
                        " base_qty: 1}]\nspread: {model: fixed}\n")
    d2 = diff_configs(old, new2)
    assert set(d2.restart_only) == {"instance.name", "workers.count", "workers.cpus", "instruments"}
    assert d2.reloadable == ["spread.model"] and d2.needs_restart
    assert diff_configs(old, old) == diff_configs(new, new)
    assert not diff_configs(old, old).reloadable


def test_shards_are_stable_and_canary_applies():
    cfg = parse_config("workers: {count: 4}\npipeline: {mode: legacy, canary_shards: [3],"
                       " canary_percent: 25}\n")
    assert shard_modes(cfg) == ["pipeline", "legacy", "legacy", "pipeline"]
    first = [shard_of(i, 4) for i in cfg.instruments]
    assert first == [shard_of(i, 4) for i in parse_config(dump_config(cfg)).instruments]
    assert all(0 <= s < 4 for s in first)
    assert len(set(first)) > 1  # six ids spread over several shards


def test_validation_is_pure_host_cpus_are_passed_in():
    """The CPU check uses the CPU set it is given (the supervisor's, taken at start), never the
    caller's current affinity: a supervisor narrowed to core 0 still accepts workers on 1."""
    text = "workers: {count: 2, cpus: [1, 2]}\n"
    assert parse_config(text, host_cpus=[0, 1, 2]).workers.cpus == [1, 2]
    with pytest.raises(ConfigError, match=r"workers.cpus\[1\]: expected one of this host's CPUs \[0, 1\]"):
        parse_config(text, host_cpus=[0, 1])
    assert parse_config(text).workers.cpus == [1, 2]  # no host given: not checked


INST = "{id: 'binance-spot:X', tick_size: 1, lot_size: 1, base_qty: 1}"
REFUSED = [
    ("duplicate key", "workers: {count: 2}\nguards:\n  stale_ms: 5\n  stale_ms: 9\n",
     "guards.stale_ms: duplicate key (lines 3 and 4)"),
    ("duplicate section", "spread: {model: fixed}\nspread: {model: glft}\n", "spread: duplicate key"),
    ("unknown venue", "instruments: [{id: 'kraken:XBTUSD', tick_size: 1, lot_size: 1, base_qty: 1}]",
     "instruments[0].id: unknown venue 'kraken'"),
    ("lot above base", "instruments: [{id: 'binance-spot:X', tick_size: 1, lot_size: 2, base_qty: 1}]",
     "instruments[0].base_qty: 1.0 is less than one lot"),
    ("two workers one cpu", "workers: {count: 2, cpus: [1, 1]}",
     "workers.cpus[1]: CPU 1 is already worker 0's"),
    ("worker on md core", "md: {cpu: 1}\nworkers: {count: 1, cpus: [1]}", "workers.cpus[0]: CPU 1 is md.cpu"),
    ("inf speed", "feed: {speed: .inf}", "feed.speed: expected a finite number, got inf"),
    ("inf timeout", "supervisor: {heartbeat_timeout_ms: .inf}",
     "supervisor.heartbeat_timeout_ms: expected a finite number"),
    ("nan threshold", "dynamic_allocator: {blacklist_net_bps: .nan}",
     "dynamic_allocator.blacklist_net_bps: expected a finite number, got nan"),
    ("inf tick", f"instruments: [{INST.replace('tick_size: 1', 'tick_size: .inf')}]",
     "instruments[0].tick_size: expected a finite number"),
    ("deep yaml", "a: " + "[" * 200 + "]" * 200, "nested more than 16 levels"),
    ("very deep yaml", "a: " + "[" * 20000 + "]" * 20000, "nested more than 16 levels"),
    ("fees of an unknown venue", "venue: {fees: {kraken: {maker_bps: 1}}}",
     "venue.fees.kraken: unknown venue"),
]


@pytest.mark.parametrize("name,text,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_config_mistakes_are_refused_with_their_path(tmp_path, name, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, [0, 1, 2, 3])
    assert message in str(err.value) and str(path) in str(err.value), str(err.value)


def test_non_utf8_and_folder_configs_exit_2_without_a_traceback(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("guards: {blacklist: []}\n# caf\xe9\n".encode("latin-1"))
    for target, message in ((path, "not UTF-8 text: byte 0xe9 on line 2"), (tmp_path, "is a folder")):
        r = run_cli("check-config", str(target))
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run_cli("check-config", str(write(tmp_path, "a: " + "[" * 50000 + "]" * 50000)))
    assert r.returncode == 2 and "nested" in r.stderr and "Traceback" not in r.stderr, r.stderr[-500:]


def test_fees_for_one_venue_keep_the_other_venues_rebates():
    cfg = parse_config("venue: {fees: {binance-spot: {taker_bps: 7.5}}}\n")
    assert cfg.venue.fees["binance-spot"].taker_bps == 7.5
    assert cfg.venue.fees["binance-spot"].maker_bps == 0.0
    assert cfg.venue.fees["binance-usdm"].maker_bps == -0.5  # not dropped
    assert cfg.venue.fees["binance-coinm"].maker_bps == -0.5
    assert parse_config(dump_config(cfg)) == cfg


def test_an_instrument_limit_under_one_base_order_is_refused(tmp_path):
    path = write(tmp_path, "instruments: [{id: 'binance-spot:X', tick_size: 1, lot_size: 1, base_qty: 2, "
                           "max_position: 1}]\n")
    with pytest.raises(ConfigError, match=r"instruments\[0\].max_position: 1.0 is less than one base order"):
        load_config(path)


def test_config_default_comments_every_field_and_parses_back(tmp_path):
    from quotepipe.config_reference import commented_yaml

    text = commented_yaml(Config())
    assert parse_config(text) == Config()
    assert "# replay pace: recorded speed x this; 0 = as fast as possible" in text
    assert "#   tick_size: price increment" in text  # the instruments' fields, in the comment
    r = run_cli("config", "default")
    assert r.returncode == 0 and r.stdout == text
    path = tmp_path / "c.yaml"
    path.write_text(r.stdout)
    assert run_cli("check-config", str(path)).returncode == 0


def test_the_config_reference_is_current_and_the_schema_validates_the_default():
    """docs/CONFIG.md is generated (`quotepipe config reference > docs/CONFIG.md`)."""
    from quotepipe.config_reference import config_reference, json_schema
    from tests.conftest import REPO

    assert (REPO / "docs" / "CONFIG.md").read_text() == config_reference(), (
        "docs/CONFIG.md is stale: run `quotepipe config reference > docs/CONFIG.md`")
    for section in ("spread", "guards", "risk", "rollout", "venue"):
        assert f"## `{section}`" in config_reference()
    schema = json_schema()
    cfg_def = schema["$defs"]["Config"]
    assert set(cfg_def["properties"]) == set(Config.__struct_fields__)
    assert run_cli("--version").stdout.startswith("quotepipe ")


def test_log_level_is_one_option_for_every_command():
    assert run_cli("--log-level", "bogus", "config", "default").returncode == 2
    r = run_cli("-v", "config", "schema")
    assert r.returncode == 0 and r.stdout.startswith("{")
