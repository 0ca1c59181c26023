"""The ``quotepipe`` command line. A command is listed here only once it works."""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from quotepipe.config import (
    INSTANCE_NAME,
    Config,
    ConfigError,
    canary_warning,
    cpu_plan,
    dump_config,
    load_config,
    shard_modes,
)
from quotepipe.domain.shards import ShardMap
from quotepipe.runtime.cpu import host_cpus, pinning_warning

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class UsageError(Exception):
    """Bad input found after parsing: a message, exit 2, no traceback."""


def config_summary(cfg: Config, source: str) -> str:
    modes = shard_modes(cfg)
    shards = {s: [cfg.instruments[i].id for i in slots]
              for s, slots in enumerate(ShardMap.of(cfg).by_shard())}
    lines = [
        f"config OK: {source}",
        f"  instance    {cfg.instance.name}",
        f"  instruments {len(cfg.instruments)}",
        f"  feed        {cfg.feed.kind}"
        + (f" ({len(cfg.feed.paths)} recordings, speed {cfg.feed.speed:g})"
           if cfg.feed.kind == "replay" else ""),
        f"  spread      {cfg.spread.model} on {cfg.spread.fair_price}",
        f"  allocator   {'on' if cfg.dynamic_allocator.enabled else 'off'}, "
        f"scoreboard {'on' if cfg.symbol_scoreboard.enabled else 'off'}",
    ]
    for shard, ids in shards.items():
        lines.append(f"  shard {shard:<5} {modes[shard]:<8} {', '.join(ids) or '(no instruments)'}")
    for warning in (canary_warning(cfg), pinning_warning(*cpu_plan(cfg, host_cpus()), host_cpus())):
        if warning:
            lines.append(f"  warning: {warning}")
    return "\n".join(lines)


def writable_file(option: str, path: str) -> None:
    """Refuse, before any work, an output file that cannot be written (exit 2)."""
    import os

    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{option}: {path} is a folder, expected a file")
    if not os.path.isdir(folder):
        raise UsageError(f"{option}: folder {folder} does not exist")
    if not os.access(path if os.path.exists(path) else folder, os.W_OK):
        raise UsageError(f"{option}: {path} cannot be written (permission denied)")


def writable_dir(option: str, path: str) -> Path:
    """A folder to write into, made if absent (its parent must exist); refused with exit 2."""
    import os

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{option}: {path} exists and is not a folder")
    if not p.exists():
        parent = p.resolve().parent
        if not parent.is_dir():
            raise UsageError(f"{option}: folder {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise UsageError(f"{option}: cannot create {path} (permission denied)")
        p.mkdir()
    elif not os.access(p, os.W_OK):
        raise UsageError(f"{option}: {path} cannot be written (permission denied)")
    return p


def write_json(path: str, data: object) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = load_config(args.path, host_cpus())
    if args.json:
        modes = shard_modes(cfg)
        print(json.dumps({"ok": True, "path": args.path, "instance": cfg.instance.name,
                          "instruments": [i.id for i in cfg.instruments], "feed": cfg.feed.kind,
                          "shards": [{"shard": s, "mode": modes[s],
                                      "instruments": [cfg.instruments[i].id for i in slots]}
                                     for s, slots in enumerate(ShardMap.of(cfg).by_shard())],
                          "warning": canary_warning(cfg),
                          "pinning_warning": pinning_warning(*cpu_plan(cfg, host_cpus()), host_cpus())},
                         indent=2))
        return EXIT_OK
    print(config_summary(cfg, args.path))
    return EXIT_OK


def result(args: argparse.Namespace, text: str, data: dict[str, Any], error: bool = False) -> None:
    """A command's one-line result, as text (to stderr when it is an error) or, with ``--json``,
    as a JSON object on stdout."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2))
    else:
        print(text, file=sys.stderr if error else sys.stdout)


def cmd_config_default(args: argparse.Namespace) -> int:
    from quotepipe.config_reference import commented_yaml

    sys.stdout.write(dump_config(Config()) if args.bare else commented_yaml(Config()))
    return EXIT_OK


def cmd_config_reference(args: argparse.Namespace) -> int:
    from quotepipe.config_reference import config_reference

    sys.stdout.write(config_reference())
    return EXIT_OK


def cmd_config_schema(args: argparse.Namespace) -> int:
    from quotepipe.config_reference import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def cmd_data_inspect(args: argparse.Namespace) -> int:
    from quotepipe.marketdata.inspect import format_table, inspect_recordings
    from quotepipe.marketdata.recording import UnusableRecording

    try:
        report = inspect_recordings(args.paths, args.venue)
    except (FileNotFoundError, UnusableRecording) as exc:
        print(f"quotepipe: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    import contextlib
    import os

    from quotepipe.config import default_config
    from quotepipe.marketdata.feed import UnknownInstrument
    from quotepipe.marketdata.recording import UnusableRecording
    from quotepipe.replay import Replay, format_summary

    # replay pins nothing: a config written for another host's cores replays here too
    cfg = load_config(args.config) if args.config else default_config()
    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        print(f"quotepipe: recording not found: {missing[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.events is not None and args.events < 0:
        raise UsageError(f"--events: expected a count >= 0, got {args.events}")
    for option, path in (("--quotes-out", args.quotes_out), ("--summary-json", args.summary_json)):
        if path:
            writable_file(option, path)
    if not args.interval > 0:
        raise UsageError(f"--interval: expected seconds > 0, got {args.interval}")
    out = writable_dir("--out", args.out) if args.out else None
    with contextlib.ExitStack() as stack:
        quotes = stack.enter_context(open(args.quotes_out, "wb")) if args.quotes_out else None
        try:
            replay = Replay(cfg, args.paths or None, allocator=not args.no_allocator, quotes_out=quotes,
                            limit=args.events, progress=sys.stderr.isatty() and not args.json,
                            out=out, interval_s=args.interval)
            summary = replay.run()
        except (UnknownInstrument, UnusableRecording) as exc:
            print(f"quotepipe: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary))
        if out is not None:
            print(f"run directory: {out} ({', '.join(summary['run']['files'])})")
    if args.summary_json:
        write_json(args.summary_json, summary)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from quotepipe.results.report import NotARunDirectory, make_report

    dirs = [Path(d) for d in args.dirs]
    if len({d.resolve() for d in dirs}) != len(dirs):
        raise UsageError("report: the same run directory is given twice")
    out = writable_dir("--out", args.out or str(dirs[0] / "report" if len(dirs) == 1 else "report"))
    try:
        files = make_report(dirs, out)
    except NotARunDirectory as exc:
        print(f"quotepipe: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps({"files": [str(f) for f in files]}, indent=2))
    else:
        print(f"report: {out / 'report.html'} ({len(files) - 1} plots)")
    return EXIT_OK


def duration_s(option: str, text: str) -> float:
    """``90``, ``30s``, ``10m``, ``1h`` -> seconds (> 0)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"{option}: expected a duration like 90, 30s, 10m or 1h, got {text!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def cmd_record(args: argparse.Namespace) -> int:
    from quotepipe.config import default_config
    from quotepipe.marketdata.recorder import Recorder

    cfg = load_config(args.config) if args.config else default_config()
    rotate = duration_s("--rotate", args.rotate)
    duration = duration_s("--duration", args.duration) if args.duration else None
    out = writable_dir("--out", args.out)
    summary = Recorder(cfg, out, rotate, duration, progress=sys.stderr.isatty()).run()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"recorded {summary['frames']:,} messages into {len(summary['files'])} files under {out} "
              f"({summary['ws_reconnects']} reconnects, {summary['malformed']} malformed frames skipped)")
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    import os
    import time

    from quotepipe.marketdata.simulator import Simulator

    missing = [p for p in args.paths if not os.path.isfile(p)]
    if missing:
        print(f"quotepipe: recording not found: {missing[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.speed < 0:
        raise UsageError(f"--speed: expected >= 0, got {args.speed}")
    sim = Simulator(args.paths, speed=args.speed, host=args.host, port=args.port, loop_forever=True).start()
    print(f"simulating Binance on {args.host}:{sim.port}; point a config at it with:\n{sim.feed_yaml()}",
          flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        sim.stop()
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import logging
    import os

    from quotepipe.config import default_config
    from quotepipe.daemon.supervisor import Supervisor, missing_recordings
    from quotepipe.replay import format_summary

    cfg = load_config(args.config, host_cpus()) if args.config else default_config()
    from quotepipe.shm.ordering import store_order_problem

    problem = store_order_problem()
    if problem:
        print(f"quotepipe: {problem}", file=sys.stderr)
        return EXIT_FAILED
    missing = missing_recordings(cfg)
    if missing:
        print(f"quotepipe: feed.paths: recording not found: {missing[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.duration is not None and args.duration <= 0:
        print(f"quotepipe: --duration: expected seconds > 0, got {args.duration:g}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from quotepipe.daemon.child import LOG_LEVEL_ENV

    level = args.log_level or "INFO"
    os.environ[LOG_LEVEL_ENV] = level  # the children log at the same level
    logging.basicConfig(level=level, stream=sys.stderr, force=True, format=(
        f"%(asctime)s quotepipe[supervisor pid {os.getpid()}] %(levelname)s %(message)s"))
    sup = Supervisor(cfg, args.config, args.duration, live=sys.stdout.isatty() and not args.json)
    code = sup.run()
    s = sup.summary
    if s and args.json:
        print(json.dumps(s, indent=2))
    elif s:
        print(format_summary(s))
        m = s["md_to_intent"]
        print(f"md->intent p50 {m['p50_us']} us, p99 {m['p99_us']} us ({m['count']:,} intents); "
              f"restarts {s['restarts']}; ring overruns {s['ring_overruns']}; "
              f"deadline misses {s['deadline_misses']}; open orders at exit {s['open_orders_at_exit']}")
    if s and args.summary_json:
        write_json(args.summary_json, s)
    return code


class NotRunning(Exception):
    """The instance a command names is not running, or may not be read: a message, exit 1."""


def running_instance(args: argparse.Namespace) -> tuple[str, int]:
    """The instance ``--instance`` or ``-c`` names (default: "default") and its supervisor's pid;
    ``NotRunning`` (exit 1) when it does not run or may not be read."""
    from quotepipe.shm.segment import SegmentError, owner_alive, read_owner, segment_name

    instance = args.instance or (load_config(args.config).instance.name if args.config else "default")
    if not re.fullmatch(INSTANCE_NAME, instance):
        raise UsageError(f"--instance: expected a name matching {INSTANCE_NAME}, got {instance!r}")
    try:
        owner = read_owner(segment_name(instance, "control"))
    except SegmentError as exc:
        raise NotRunning(f"cannot read instance {instance!r}: {exc}; run as that user or root") from None
    if owner is None:
        raise NotRunning(f"instance {instance!r} is not running (no shared memory)")
    if not owner_alive(*owner):
        raise NotRunning(f"instance {instance!r} is not running (stale shared memory of pid {owner[0]}; "
                         "the next start removes it)")
    return instance, owner[0]


def cmd_reload(args: argparse.Namespace) -> int:
    """SIGHUP to the supervisor, then wait for its verdict: exit 0 applied or unchanged, 1 refused
    (the reason printed; the old config runs on). ``systemctl reload`` fails when this does."""
    import os
    import signal
    import time

    import msgspec

    from quotepipe.daemon.supervisor import ReloadOutcome
    from quotepipe.shm.catalog import Attached
    from quotepipe.shm.segment import SegmentError

    instance, pid = running_instance(args)
    try:
        outcomes = Attached.from_config_block(instance).reload_outcomes()
    except SegmentError as exc:
        raise NotRunning(f"cannot attach to instance {instance!r}: {exc}") from None
    before = outcomes.tag
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + args.timeout
    while outcomes.tag == before:
        if time.monotonic() > deadline:
            print(f"quotepipe: instance {instance!r} (pid {pid}) gave no verdict within {args.timeout:g} s",
                  file=sys.stderr)
            return EXIT_FAILED
        time.sleep(0.02)
    got = outcomes.read()
    assert got is not None
    outcome = msgspec.json.decode(got[1], type=ReloadOutcome)
    data = {"instance": instance, "result": outcome.result, "epoch": outcome.epoch, "reason": outcome.reason}
    if outcome.result == "refused":
        result(args, f"quotepipe: reload refused, config epoch {outcome.epoch} runs on: {outcome.reason}",
               data, error=True)
        return EXIT_FAILED
    result(args, f"reload {outcome.result}: config epoch {outcome.epoch}" + (
        f" ({outcome.reason})" if outcome.reason else ""), data)
    return EXIT_OK


def cmd_halt(args: argparse.Namespace) -> int:
    """``quotepipe halt`` / ``resume``: the operator's halt flags of a running instance. The
    workers pull (or restore) the quotes on their next turn; a halt waits until the venue has
    no open order left for the instruments it covers."""
    import time

    from quotepipe.shm.catalog import Attached
    from quotepipe.shm.segment import SegmentError

    halt = args.halt
    instance, _ = running_instance(args)
    try:
        shm = Attached.from_config_block(instance)
        control = shm.control(writable=True)
        venue = shm.venue_table()
    except SegmentError as exc:
        raise NotRunning(f"cannot attach to instance {instance!r}: {exc}") from None
    ids = [i.id for i in shm.cfg.instruments]
    if args.instrument:
        if args.instrument not in ids:
            raise UsageError(f"--instrument: {args.instrument!r} is not an instrument of {instance!r} "
                             f"(one of: {', '.join(ids)})")
        scope, target = "instrument", ids.index(args.instrument)
        covered = [target]
    elif args.shard is not None:
        if not 0 <= args.shard < shm.shards.count:
            raise UsageError(f"--shard: expected a shard in [0, {shm.shards.count - 1}], got {args.shard}")
        scope, target = "shard", args.shard
        covered = list(shm.shards.slots(target))
    else:
        scope, target, covered = "all", 0, list(range(len(ids)))
    control.set_operator_halt(scope, target, halt)
    what = {"all": "every instrument", "shard": f"shard {target}", "instrument": args.instrument}[scope]
    data: dict[str, Any] = {"instance": instance, "action": "halt" if halt else "resume", "scope": scope,
                            "instruments": [ids[s] for s in covered]}
    if not halt:
        result(args, f"resumed {what} (quotes return on the workers' next turn, unless halted otherwise)",
               data)
        return EXIT_OK
    deadline = time.monotonic() + args.timeout

    def open_orders() -> int:
        return sum(row.open_orders for row in (venue.read(s) for s in covered) if row is not None)

    while open_orders():
        if time.monotonic() > deadline:
            result(args, f"quotepipe: {what} halted, but {open_orders()} orders were still open after "
                   f"{args.timeout:g} s", {**data, "open_orders": open_orders()}, error=True)
            return EXIT_FAILED
        time.sleep(0.02)
    result(args, f"halted {what}: quotes pulled, no open order left ({len(covered)} instruments)",
           {**data, "open_orders": 0})
    return EXIT_OK


def cmd_canary(args: argparse.Namespace) -> int:
    """Canary shards beside control shards, and the phase's gates: exit 0 healthy, 1 not."""
    from quotepipe.daemon.canary import format_report, report
    from quotepipe.daemon.view import InstanceView
    from quotepipe.shm.segment import SegmentError

    instance, _ = running_instance(args)
    try:
        rep = report(InstanceView(instance=instance))
    except SegmentError as exc:
        raise NotRunning(f"cannot attach to instance {instance!r}: {exc}") from None
    print(json.dumps(rep, indent=2) if args.json else format_report(rep))
    return EXIT_OK if rep["healthy"] else EXIT_FAILED


def cmd_status(args: argparse.Namespace) -> int:
    from quotepipe.daemon.view import InstanceView, format_status
    from quotepipe.shm.segment import SegmentError

    instance, _ = running_instance(args)
    try:
        view = InstanceView(instance=instance)
        s = view.collect()
    except SegmentError as exc:
        print(f"quotepipe: cannot attach to instance {instance!r}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.watch:
        if args.json:
            raise UsageError("--watch draws a screen: it does not go with --json")
        if not args.interval > 0:
            raise UsageError(f"--interval: expected seconds > 0, got {args.interval}")
        return watch_status(view, instance, args.interval)
    print(json.dumps(s, indent=2) if args.json else format_status(s))
    return EXIT_OK


def watch_status(view: Any, instance: str, interval: float) -> int:
    """``status --watch``: the live screen until Ctrl-C (exit 0) or the instance stops (exit 0)."""
    import os
    import time

    from quotepipe.daemon.screen import Screen

    screen = Screen()
    pid = view.control.proc(0).pid
    try:
        while True:
            screen.update(view.collect())
            time.sleep(interval)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                screen.stop()
                print(f"instance {instance!r} stopped")
                return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        screen.stop()


def _cores(text: str | None) -> list[int | None]:
    """``--cores 2,3`` or ``2-5``; default: the last core this process may use (off core 0)."""
    if not text:
        return [host_cpus()[-1]]
    out: list[int | None] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        if not lo.strip().isdigit() or (hi and not hi.strip().isdigit()):
            raise UsageError(f"--cores: expected core numbers like 2,3 or 2-5, got {text!r}")
        out.extend(range(int(lo), int(hi or lo) + 1))
    missing = [c for c in out if c not in host_cpus()]
    if missing:
        raise UsageError(f"--cores: {missing} not among this host's CPUs {host_cpus()}")
    return out


def _progress() -> Callable[[str], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(text: str) -> None:
        sys.stderr.write(f"\r\x1b[K{text}")
        sys.stderr.flush()
    return show


def gate_input(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The gate's bad input (a ref that does not resolve, no valgrind) is a user error: exit 2."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from quotepipe.gate.runner import GateError

        try:
            return command(args)
        except GateError as exc:
            raise UsageError(str(exc)) from None
    return run


@gate_input
def cmd_bench(args: argparse.Namespace) -> int:
    from quotepipe.config import default_config
    from quotepipe.gate.bench import run_bench
    from quotepipe.gate.report import format_bench

    cfg = load_config(args.config) if args.config else default_config()
    if args.replicates < 1 or args.ticks < 0:
        print("quotepipe: --replicates must be >= 1 and --ticks >= 0", file=sys.stderr)
        return EXIT_BAD_INPUT
    cores = _cores(args.cores)
    report = run_bench(cfg, args.paths, args.replicates, args.ticks, cores,
                       events=None if args.paths else args.events, progress=_progress())
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(format_bench(report))
    if args.json:
        write_json(args.json, report)
    return EXIT_FAILED if report["over_budget"] else EXIT_OK


@gate_input
def cmd_gate(args: argparse.Namespace) -> int:
    import msgspec

    from quotepipe.config import default_config
    from quotepipe.gate import ab, host
    from quotepipe.gate.decide import EXIT_CODES
    from quotepipe.gate.report import format_gate

    cfg = load_config(args.config) if args.config else default_config()
    if args.host_check:
        checks = host.host_check([c for c in _cores(args.cores) if c is not None])
        ok = host.can_resolve_wall_time(checks)
        if args.json:
            write_json(args.json, {"can_gate_wall_time": ok, "checks": msgspec.to_builtins(checks)})
        for c in checks:
            print(f"{'ok ' if c.ok else 'NO '} {c.name}: {c.detail}"
                  + ("" if c.ok else f"\n    to fix: {c.advice}"))
        print("this host can gate wall time at 3%" if ok else
              "this host cannot gate wall time at 3%: wall-time verdicts here are inconclusive; "
              "use --counter instructions")
        return EXIT_OK if ok else 3
    counter = args.counter
    threshold = args.threshold if args.threshold is not None else (2.0 if counter == "instructions" else 3.0)
    if threshold <= 0:
        print("quotepipe: --threshold: expected a percentage > 0", file=sys.stderr)
        return EXIT_BAD_INPUT
    events = None if args.paths else args.events
    if args.baseline or args.current:
        if not (args.baseline and args.current):
            print("quotepipe: --baseline and --current go together", file=sys.stderr)
            return EXIT_BAD_INPUT
        files = []
        for path in (args.baseline, args.current):
            try:
                data = json.loads(open(path, encoding="utf-8").read())  # noqa: SIM115
            except (OSError, ValueError) as exc:
                print(f"quotepipe: {path}: cannot read a bench report: {exc}", file=sys.stderr)
                return EXIT_BAD_INPUT
            if not isinstance(data, dict) or data.get("kind") != "quotepipe-bench":
                print(f"quotepipe: {path}: not a quotepipe bench report (quotepipe bench --json)",
                      file=sys.stderr)
                return EXIT_BAD_INPUT
            files.append(data)
        report = ab.compare_files(files[0], files[1], threshold, cfg)
    elif args.against:
        progress = _progress()
        if counter == "instructions":
            report = ab.instruction_gate(cfg, args.against, args.paths, events, args.ticks or 3000,
                                         threshold, progress)
        else:
            report = ab.wall_gate(cfg, args.against, args.paths, events, args.ticks, _cores(args.cores),
                                  threshold, args.max_replicates, args.seed, progress)
        if sys.stderr.isatty():
            sys.stderr.write("\n")
    else:
        print("quotepipe gate: give --against REF, --baseline FILE --current FILE, or --host-check",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    print(format_gate(report))
    if args.json:
        write_json(args.json, report)
    return EXIT_CODES[report["verdict"]]


def workload_arguments(p: argparse.ArgumentParser) -> None:
    """What ``bench`` and ``gate`` measure on, and where."""
    p.add_argument("paths", nargs="*", metavar="PATH", help="recordings for the workload; none: synthetic")
    p.add_argument("-c", "--config", help="YAML config (budgets, chain settings)")
    p.add_argument("--events", type=int, default=20_000, metavar="N",
                   help="synthetic events the workload is built from (default 20,000)")
    p.add_argument("--cores", metavar="LIST", help="cores to pin replicates to, in turn (default: the last)")


def instance_arguments(p: argparse.ArgumentParser) -> None:
    """Which running instance a command reads (``running_instance``): ``-c CONFIG`` or ``--instance``."""
    who = p.add_mutually_exclusive_group()
    who.add_argument("-c", "--config", help="the instance named in this config")
    who.add_argument("--instance", metavar="NAME", help="instance name (default: default)")


def build_parser() -> argparse.ArgumentParser:
    from quotepipe import __version__

    parser = argparse.ArgumentParser(
        prog="quotepipe",
        description="Shared-memory, low-latency market-making quote daemon.",
    )
    parser.add_argument("--version", action="version", version=f"quotepipe {__version__}")
    parser.add_argument("--log-level", choices=LOG_LEVELS, type=str.upper, metavar="LEVEL",
                        help=f"one of {', '.join(LOG_LEVELS)} (default: INFO for run, WARNING otherwise)")
    parser.add_argument("-v", "--verbose", dest="log_level", action="store_const", const="DEBUG",
                        help="--log-level DEBUG")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("check-config", help="validate a config file and summarise it")
    p.add_argument("path", help="YAML config file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("config", help="config helpers")
    config_sub = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    d = config_sub.add_parser("default", help="print the embedded default config as YAML, each field "
                              "under a comment with its description")
    d.add_argument("--bare", action="store_true", help="without the comments")
    d.set_defaults(func=cmd_config_default)
    d = config_sub.add_parser("reference", help="print the config reference (docs/CONFIG.md) as Markdown")
    d.set_defaults(func=cmd_config_reference)
    d = config_sub.add_parser("schema", help="print the JSON Schema of a config file, for editors")
    d.set_defaults(func=cmd_config_schema)

    p = sub.add_parser("data", help="market-data recordings")
    data_sub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    d = data_sub.add_parser("inspect", help="per-instrument message counts, times and book mode")
    d.add_argument("paths", nargs="+", metavar="PATH", help="recordings (gzip or plain)")
    d.add_argument("--json", action="store_true", help="print JSON instead of a table")
    d.add_argument("--venue", default="auto",
                   choices=["auto", "binance-spot", "binance-usdm", "binance-coinm"],
                   help="venue of the recordings (default: recognise it)")
    d.set_defaults(func=cmd_data_inspect)

    p = sub.add_parser("replay", help="backtest: recordings (or the synthetic scenario) through "
                       "books, chain, paper venue, scoreboard and allocator on event time")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="recordings to merge; none: the embedded synthetic scenario")
    p.add_argument("-c", "--config", help="YAML config (default: the embedded default)")
    p.add_argument("--quotes-out", metavar="FILE", help="write one JSON line per intent that acts")
    p.add_argument("--summary-json", metavar="FILE", help="write the summary as JSON")
    p.add_argument("--no-allocator", action="store_true", help="keep every weight at 1")
    p.add_argument("--events", type=int, default=None, metavar="N",
                   help="stop after N events (synthetic default: 1,000,000)")
    p.add_argument("--out", metavar="DIR", help=(
        "write a run directory: summary.json (with figures), fills.csv, quotes.jsonl, timeseries.csv, "
        "equity.csv, latency.json; `quotepipe report DIR` plots it"))
    p.add_argument("--interval", type=float, default=1.0, metavar="S",
                   help="--out: sample the book every S seconds of event time (default 1)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("report", help="plots of run directories (`replay --out`): PNGs and one HTML page, "
                       "runs side by side")
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="run directories written by `quotepipe replay --out`")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="where the report goes (default: DIR/report for one run, ./report for several)")
    p.add_argument("--json", action="store_true", help="print the files written as JSON")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("record", help="record the live Binance feed (feed.binance of the config) into "
                       "gzip recordings that replay and data inspect read")
    p.add_argument("-c", "--config", help="YAML config: its instruments and feed.binance (default: embedded)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the recordings (made if absent)")
    p.add_argument("--rotate", default="1h", metavar="T", help="start new files every T (90, 30s, 10m, 1h)")
    p.add_argument("--duration", metavar="T", help="stop after T (default: until Ctrl-C)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("simulate", help="a local Binance simulator (WebSocket + REST on 127.0.0.1) that "
                       "plays recordings, for tests and demos")
    p.add_argument("paths", nargs="+", metavar="PATH", help="recordings to play")
    p.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--speed", type=float, default=1.0, help="recorded pace x this (0: as fast as read)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("run", help="the daemon: market data, workers, paper venue and scoreboard as "
                       "supervised processes over shared memory, in the foreground")
    p.add_argument("-c", "--config", help="YAML config (default: the embedded default, synthetic feed)")
    p.add_argument("--duration", type=float, metavar="S", help="stop gracefully after S seconds")
    p.add_argument("--summary-json", metavar="FILE", help="write the exit summary as JSON")
    p.add_argument("--json", action="store_true", help="print the exit summary as JSON instead of a table")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="attach read-only to a running instance and print its table")
    instance_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--watch", action="store_true",
                   help="the live screen, redrawn every --interval seconds, until Ctrl-C")
    p.add_argument("--interval", type=float, default=1.0, metavar="S", help="--watch: redraw period")
    p.set_defaults(func=cmd_status)

    for name, verb in (("halt", "pull the quotes of"), ("resume", "quote again")):
        p = sub.add_parser(name, help=f"{verb} instruments of a running instance (the operator's halt "
                           "flags): one instrument, one shard, or all")
        instance_arguments(p)
        scope = p.add_mutually_exclusive_group()
        scope.add_argument("--instrument", metavar="ID", help="one instrument, e.g. binance-usdm:BTCUSDT")
        scope.add_argument("--shard", type=int, metavar="N", help="every instrument of shard N")
        scope.add_argument("--all", action="store_true", help="every instrument (the default)")
        p.add_argument("--timeout", type=float, default=10.0,
                       help="halt: seconds to wait for the open orders to go")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.set_defaults(func=cmd_halt, halt=name == "halt")

    p = sub.add_parser("canary", help="a running instance's shards side by side by mode, and the rollout "
                       "phase's gates (rollout: in the config): exit 0 healthy, 1 not")
    instance_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_canary)

    p = sub.add_parser("reload", help="reload a running instance's config (SIGHUP) and wait for the verdict: "
                       "exit 0 applied or unchanged, 1 refused (the old config runs on)")
    instance_arguments(p)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the verdict")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_reload)

    p = sub.add_parser("bench", help="stage latency of the chain in fresh pinned processes (replicates)")
    workload_arguments(p)
    p.add_argument("--replicates", type=int, default=5, metavar="N", help="fresh processes (default 5)")
    p.add_argument("--ticks", type=int, default=0, metavar="N", help="ticks per replicate (default: all)")
    p.add_argument("--json", metavar="OUT", help="write the bench report as JSON")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("gate", help="the perf gate: pass, fail (regression named) or inconclusive")
    workload_arguments(p)
    p.add_argument("--against", metavar="REF", help="A/B: this git ref against the working tree")
    p.add_argument("--counter", choices=["wall", "instructions"], default="wall",
                   help="wall time (a tuned host) or instruction counts under valgrind (CI)")
    p.add_argument("--baseline", metavar="FILE", help="compare two bench reports: the reference")
    p.add_argument("--current", metavar="FILE", help="compare two bench reports: the candidate")
    p.add_argument("--threshold", type=float, default=None, metavar="PCT",
                   help="regression threshold in percent (default 3, instructions 2)")
    p.add_argument("--host-check", action="store_true", help="can this host gate wall time at 3%%?")
    p.add_argument("--ticks", type=int, default=0, metavar="N",
                   help="ticks per replicate (default: all; instructions: 3000)")
    p.add_argument("--max-replicates", type=int, default=15, metavar="N",
                   help="wall time: at most this many replicates a side (default 15)")
    p.add_argument("--seed", type=int, default=None, help="wall time: seed of the interleaving order")
    p.add_argument("--json", metavar="OUT", help="write the report as JSON")
    p.set_defaults(func=cmd_gate)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import logging

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level or "WARNING", stream=sys.stderr,
                        format="quotepipe: %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"quotepipe: config error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UsageError as exc:  # a bad option value the parser could not see, or bad gate input
        print(f"quotepipe: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NotRunning as exc:
        print(f"quotepipe: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # e.g. `quotepipe config default | head`
        return EXIT_OK
