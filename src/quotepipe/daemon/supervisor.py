"""The supervisor: starts, watches, restarts and stops every other process.

Modelled on a pre-fork arbiter. Signal handlers only queue the signal and
wake the loop (a self-pipe); the one loop handles them in order, reaps dead
children, kills silent ones, restarts what may be restarted, answers the
systemd watchdog, and, on a terminal, redraws the live screen (``daemon.screen``)
with every process's log lines printed above it:

- SIGHUP: reload the config file; refused (the old config keeps running) when
  it does not parse, or changes a field that needs a restart.
- SIGTERM / SIGINT: graceful stop. Halt flag -> workers pull their quotes ->
  the venue cancels every order of every shard and confirms -> children exit
  -> segments unlinked -> exit 0, within ``supervisor.shutdown_timeout_s``.
  A second SIGTERM / SIGINT forces it (children killed, segments unlinked, exit 1).

A worker that dies (any signal, any exception) or stops beating is replaced
once the venue confirms that its instruments' orders are cancelled; more than
``max_restarts`` deaths in ``restart_window_s`` halt its shard instead. The
scoreboard is restarted the same way (the weights in force stay published).
The market-data process and the venue hold state that cannot be rebuilt (the
feed's position and the books; positions and orders): losing either stops the
instance cleanly with exit 1 (2 when market data refused the feed).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import msgspec

from quotepipe.config import (
    Config,
    ConfigError,
    canary_warning,
    cpu_plan,
    diff_configs,
    load_config,
    shard_modes,
)
from quotepipe.daemon import sdnotify
from quotepipe.daemon.child import ROLES, child_argv
from quotepipe.daemon.view import InstanceView
from quotepipe.runtime.cpu import host_cpus, pin, pinning_warning, restrict
from quotepipe.runtime.lifeline import set_process_name
from quotepipe.runtime.silence import SilenceWatch
from quotepipe.shm.catalog import (
    SLOT_MD,
    SLOT_SCOREBOARD,
    SLOT_SUPERVISOR,
    SLOT_VENUE,
    SUPERVISOR_STATS,
    Attached,
    create_instance_segments,
    worker_slot,
)
from quotepipe.shm.control import Role
from quotepipe.shm.segment import SegmentSet
from quotepipe.shm.stats import CounterTotals

log = logging.getLogger("quotepipe.supervisor")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
LOOP_S = 0.05
#: the most of one loop gap credited to a child's silence: a longer gap is this process's own stall
SILENCE_CREDIT_NS = int(4 * LOOP_S * 1e9)
CANCEL_WAIT_S = 2.0  # a restart waits this long at most for the venue's confirmation


class ReloadOutcome(msgspec.Struct, frozen=True):
    """What the last SIGHUP came to, for ``quotepipe reload`` (the ``reload`` blob)."""

    result: str   #: ok | refused | unchanged
    reason: str
    epoch: int    #: the config epoch in force after it


class MetricsUnavailable(RuntimeError):
    """The metrics address cannot be bound: a start-up error (exit 2), nothing started."""


class Child:
    """One supervised process and its restart history."""

    def __init__(self, role: str, index: int, proc_slot: int, cpu: int | None) -> None:
        self.role = role
        self.index = index
        self.proc_slot = proc_slot
        self.cpu = cpu
        self.popen: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.deaths: collections.deque[float] = collections.deque()
        self.state = "new"   # running | restarting (waiting for the venue) | halted | exited
        self.cancel_request = 0
        self.cancel_deadline = 0.0
        self.killed = False  #: SIGKILLed as silent, not reaped yet

    @property
    def name(self) -> str:
        return f"worker {self.index}" if self.role == "worker" else self.role

    @property
    def pid(self) -> int:
        return self.popen.pid if self.popen else 0


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    def __init__(self, cfg: Config, config_path: str | None = None, duration_s: float | None = None,
                 live: bool = False) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.duration_s = duration_s
        self.live = live
        #: on a terminal: the live screen, and one pipe every child's log lines come through, so that
        #: they print above the screen instead of under its redraw (``daemon.screen``)
        self.screen: Any = None
        self._log_r: int | None = None
        self._log_w: int | None = None
        self._log_rest = b""
        self._saved_handlers: list[logging.Handler] = []
        self.segments = SegmentSet(cfg.instance.name)
        self.signals: collections.deque[int] = collections.deque()
        self.children: list[Child] = []
        self.exit_code = EXIT_OK
        self.stop_reason = ""
        self.stopping = False
        self.forced = False
        self.ready_at = 0.0
        self.stopped_at = 0.0
        self.summary: dict[str, Any] = {}
        self._wake_r, self._wake_w = os.pipe()
        self._metrics_server: Any = None
        self.helper_cpus: set[int] | None = None
        #: the host's CPU set, taken once before this process narrows its own affinity: the one
        #: set that start-up and every reload validate against
        self.all_cpus: set[int] = set(host_cpus())
        self.silence = SilenceWatch([], lambda slot: 0, SILENCE_CREDIT_NS)  # the children's, at start
        self.silent_kills = 0
        self.reloads = {"ok": 0, "refused": 0, "unchanged": 0}

    # ------------------------------------------------------------------ start
    def run(self) -> int:
        """Run until the duration ends, a stop signal, or a fatal child death; the exit code."""
        from quotepipe.shm.segment import InstanceRunning

        set_process_name("qp-supervisor", f"quotepipe: supervisor [{self.cfg.instance.name}]")
        try:
            self.segments.claim()
        except InstanceRunning as exc:
            log.error("refused: %s", exc)
            return EXIT_FAILED
        try:
            create_instance_segments(self.cfg, self.segments)
            return self._run()
        except MetricsUnavailable as exc:
            log.error("refused: %s", exc)
            return EXIT_BAD_INPUT
        finally:
            self._stop_metrics()
            self.segments.unlink_all()
            self._close_screen()
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _open_screen(self) -> None:
        """The live screen (``quotepipe run`` on a terminal): this process's log records and the
        children's stderr lines go above it."""
        from quotepipe.daemon.screen import Screen

        self.screen = screen = Screen()
        self._log_r, self._log_w = os.pipe()
        os.set_blocking(self._log_r, False)

        class ToScreen(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                screen.log(self.format(record))

        root = logging.getLogger()
        self._saved_handlers = root.handlers[:]
        handler = ToScreen()
        if root.handlers:
            handler.setFormatter(root.handlers[0].formatter)
        root.handlers = [handler]

    def _drain_logs(self, final: bool = False) -> None:
        if self._log_r is None:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            while chunk := os.read(self._log_r, 65536):
                self._log_rest += chunk
        *lines, self._log_rest = self._log_rest.split(b"\n")
        if final and self._log_rest:
            lines.append(self._log_rest)
            self._log_rest = b""
        for line in lines:
            self.screen.log(line.decode(errors="replace"))

    def _close_screen(self) -> None:
        if self.screen is None:
            return
        if self._log_w is not None:
            os.close(self._log_w)
            self._log_w = None
        self._drain_logs(final=True)
        self.screen.stop()
        logging.getLogger().handlers = self._saved_handlers
        if self._log_r is not None:
            os.close(self._log_r)
            self._log_r = None
        self.screen = None

    def _run(self) -> int:
        cfg = self.cfg
        shm = Attached(cfg)
        self.control = control = shm.control()
        self.config_block = shm.config_block(writable=True)
        self.shards = shm.shards
        control.epoch = 1
        for shard, mode in enumerate(shard_modes(cfg)):
            control.set_mode(shard, mode)
        control.set_proc(SLOT_SUPERVISOR, Role.SUPERVISOR, 0, os.getpid(), None)
        self.view = InstanceView(cfg)
        if self.live:
            self._open_screen()
        self._install_signals()
        self._start_metrics()
        warning = canary_warning(cfg)
        if warning:
            log.warning("%s", warning)
        md_cpu, worker_cpus = cpu_plan(cfg, self.all_cpus)
        sharing = pinning_warning(md_cpu, worker_cpus, sorted(self.all_cpus))
        if sharing:
            log.warning("%s", sharing)
        # the venue, scoreboard and supervisor stay off the workers' cores, so they never preempt them
        others = self.all_cpus - {c for c in worker_cpus if c is not None}
        self.helper_cpus = others if cfg.workers.isolate and others else None
        restrict(self.helper_cpus)
        self.children = [Child("venue", 0, SLOT_VENUE, None),
                         Child("scoreboard", 0, SLOT_SCOREBOARD, None)]
        self.children += [Child("worker", s, worker_slot(s), worker_cpus[s])
                          for s in range(cfg.workers.count)]
        self.children.append(Child("md", 0, SLOT_MD, md_cpu))
        self.silence = SilenceWatch([c.proc_slot for c in self.children], control.heartbeat,
                                    SILENCE_CREDIT_NS)
        self.stats = shm.stats("stats.supervisor", SUPERVISOR_STATS)
        self.reload_outcomes = shm.reload_outcomes(writable=True)
        self.totals = CounterTotals(self.stats)
        for child in self.children:
            self._spawn(child)
        log.info("instance %r: %d processes started (md cpu %s, workers %s); waiting for heartbeats",
                 cfg.instance.name, len(self.children) + 1, md_cpu, worker_cpus)
        if self._wait_ready():
            self.ready_at = time.monotonic()
            sdnotify.notify(f"READY=1\nMAINPID={os.getpid()}\nSTATUS={self._status_line()}")
            log.info("ready: every process beats%s", f"; running for {self.duration_s:g} s"
                     if self.duration_s else "; SIGTERM or Ctrl-C stops")
            self._loop()
        self._stop()
        return self.exit_code

    def _spawn(self, child: Child) -> None:
        self.control.clear_line(child.proc_slot)
        self.silence.restart(child.proc_slot)
        argv = child_argv(child.role, self.cfg.instance.name, child.proc_slot, child.index, child.cpu,
                          child.restarts, os.getpid())
        child.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, close_fds=True, stderr=self._log_w)
        child.state = "running"
        child.killed = False
        if child.cpu is not None:
            pin(child.cpu, child.popen.pid)
        else:  # an unpinned worker may use any core; the helpers only the non-worker ones
            restrict(self.all_cpus if child.role == "worker" else self.helper_cpus, child.popen.pid)
        if child.role == "scoreboard":
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, child.popen.pid, self.cfg.supervisor.scoreboard_nice)
        self.control.set_proc(child.proc_slot, ROLES[child.role], child.index, child.popen.pid, child.cpu,
                              child.restarts)

    def _wait_ready(self) -> bool:
        limit_ms = self.cfg.supervisor.startup_timeout_s * 1000
        while True:
            self._wait(LOOP_S)
            self._handle_signals()
            self._reap()
            if self.stopping:
                return False
            self._look()
            running = [c for c in self.children if c.state == "running"]
            if all(self.silence.beat(c.proc_slot) for c in running):
                return True
            late = [c.name for c in running if self.silence.silent_ms(c.proc_slot) > limit_ms]
            if late:
                self._begin_stop(EXIT_FAILED, f"{', '.join(late)} did not start within "
                                              f"{self.cfg.supervisor.startup_timeout_s:g} s")
                return False

    def _look(self) -> None:
        """The heartbeats, judged on this process's own running time; its own stalls published."""
        watch = self.silence
        stalls = watch.stalls
        watch.look(time.monotonic_ns())
        if watch.stalls != stalls:
            log.warning("supervisor: this process did not run for %.0f ms (a host stall?); children are "
                        "judged on the time it ran", watch.last_gap_ns / 1e6)
        self.totals.publish_all({"stalls": watch.stalls, "silent_kills": self.silent_kills,
                                 **{f"reloads_{k}": n for k, n in self.reloads.items()}})
        self.stats.set_gauge("loop_gap_max_ms", watch.gap_max_ns / 1e6)

    # ------------------------------------------------------------------ signals
    def _install_signals(self) -> None:
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)

        def queue(signum: int, frame: object) -> None:
            self.signals.append(signum)
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"s")

        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, queue)

    def _wait(self, timeout: float) -> None:
        fds = [self._wake_r] if self._log_r is None else [self._wake_r, self._log_r]
        with contextlib.suppress(InterruptedError):
            ready, _, _ = select.select(fds, [], [], timeout)
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            if self._log_r is not None and self._log_r in ready:
                self._drain_logs()

    def _handle_signals(self) -> None:
        while self.signals:
            sig = self.signals.popleft()
            if sig == signal.SIGCHLD:
                continue  # reaped below, on every turn
            if sig == signal.SIGHUP:
                self._reload()
            elif sig in (signal.SIGTERM, signal.SIGINT):
                name = signal.Signals(sig).name
                if self.stopping:
                    self.forced = True
                    log.warning("%s again: forcing the stop", name)
                else:
                    self._begin_stop(EXIT_OK, f"{name} received")

    def _begin_stop(self, code: int, reason: str) -> None:
        if not self.stopping:
            self.stopping = True
            self.exit_code = code
            self.stop_reason = reason
            log.info("stopping: %s", reason)

    # ------------------------------------------------------------------ loop
    def _loop(self) -> None:
        watchdog = sdnotify.watchdog_period_s()
        next_watchdog = next_live = 0.0
        while not self.stopping:
            self._wait(LOOP_S)
            self._handle_signals()
            if self.stopping:
                break
            self._reap()
            self._check_heartbeats()
            self._progress_restarts()
            now = time.monotonic()
            if watchdog and now >= next_watchdog:
                next_watchdog = now + watchdog
                sdnotify.notify("WATCHDOG=1")
            if self.screen is not None and now >= next_live:
                next_live = now + 1.0
                self.screen.update(self.view.collect())
            if self.duration_s and now - self.ready_at >= self.duration_s:
                self._begin_stop(EXIT_OK, f"--duration {self.duration_s:g} s reached")

    def _reap(self) -> None:
        for child in self.children:
            if child.state != "running" or child.popen is None:
                continue
            code = child.popen.poll()
            if code is None:
                continue
            self._on_death(child, code)

    def _on_death(self, child: Child, code: int) -> None:
        how = describe_exit(code)
        if self.stopping:
            child.state = "exited"
            return
        if child.role in ("md", "venue"):
            child.state = "exited"
            log.error("%s (pid %d) died: %s; it cannot be restarted without losing its state: stopping",
                      child.name, child.pid, how)
            self._begin_stop(EXIT_BAD_INPUT if child.role == "md" and code == 2 else EXIT_FAILED,
                             f"{child.name} died ({how})")
            return
        now = time.monotonic()
        cfg = self.cfg.supervisor
        child.deaths.append(now)
        while child.deaths and now - child.deaths[0] > cfg.restart_window_s:
            child.deaths.popleft()
        if child.role == "worker":
            child.cancel_request = self.control.request_cancel(child.index)
            child.cancel_deadline = now + CANCEL_WAIT_S
        if len(child.deaths) > cfg.max_restarts:
            child.state = "halted"
            if child.role == "worker":
                self.control.set_shard_halted(child.index, True)
                log.error("%s (pid %d) died: %s; %d deaths within %g s (supervisor.max_restarts %d): "
                          "shard %d HALTED, its orders cancelled; fix the cause and restart the instance",
                          child.name, child.pid, how, len(child.deaths), cfg.restart_window_s,
                          cfg.max_restarts, child.index)
            else:
                log.error("%s (pid %d) died: %s; %d deaths within %g s: not restarted again; the weights "
                          "in force stay published", child.name, child.pid, how, len(child.deaths),
                          cfg.restart_window_s)
            return
        child.state = "restarting"
        log.warning("%s (pid %d) died: %s; restarting%s", child.name, child.pid, how,
                    " once the venue has cancelled its orders" if child.role == "worker" else "")

    def _progress_restarts(self) -> None:
        for child in self.children:
            if child.state != "restarting":
                continue
            if child.role == "worker" and self.control.cancel_ack(child.index) < child.cancel_request:
                if time.monotonic() < child.cancel_deadline:
                    continue
                log.warning("venue did not confirm the cancels of shard %d within %g s; restarting anyway",
                            child.index, CANCEL_WAIT_S)
            child.restarts += 1
            self._spawn(child)
            log.warning("%s restarted as pid %d (restart %d)", child.name, child.pid, child.restarts)

    def _check_heartbeats(self) -> None:
        """Kill a child that made no progress for the time-out while this process was running."""
        cfg = self.cfg.supervisor
        self._look()
        watch = self.silence
        for child in self.children:
            if (child.state != "running" or child.popen is None or child.killed
                    or child.popen.poll() is not None):
                continue
            silent = watch.silent_ms(child.proc_slot)
            if watch.beat(child.proc_slot) == 0:
                if silent > cfg.startup_timeout_s * 1000:
                    log.error("%s (pid %d) never beat within %g s: killing it", child.name, child.pid,
                              cfg.startup_timeout_s)
                    self._kill_silent(child)
            elif silent > cfg.heartbeat_timeout_ms:
                log.error("%s (pid %d) silent for %.0f ms (supervisor.heartbeat_timeout_ms %g): killing it",
                          child.name, child.pid, silent, cfg.heartbeat_timeout_ms)
                self._kill_silent(child)

    def _kill_silent(self, child: Child) -> None:
        """SIGKILL, once: the death is then handled (restart or stop) when it is reaped."""
        assert child.popen is not None
        child.killed = True
        self.silent_kills += 1
        child.popen.kill()

    # ------------------------------------------------------------------ reload
    def _reload(self) -> None:
        """SIGHUP: judge the file, apply it or refuse it; either way the outcome is published
        (the ``reload`` blob for ``quotepipe reload``, the counters, systemd's STATUS)."""
        sdnotify.notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
        result, reason = self._judge_reload()
        self.reloads[result] += 1
        epoch = self.control.epoch
        self.reload_outcomes.write(msgspec.json.encode(ReloadOutcome(result, reason, epoch)),
                                   self.reload_outcomes.tag + 1)
        status = self._status_line()
        if result == "refused":
            status = f"reload refused ({reason}); epoch {epoch} runs on; {status}"
        sdnotify.notify(f"READY=1\nSTATUS={status}")

    def _judge_reload(self) -> tuple[str, str]:
        """(``ok`` | ``refused`` | ``unchanged``, why); applies the new config when ok."""
        epoch = self.control.epoch
        if not self.config_path:
            log.warning("SIGHUP: running the embedded default config, there is no file to reload")
            return "unchanged", "running the embedded default config: there is no file to reload"
        try:
            new = load_config(self.config_path, self.all_cpus)
        except ConfigError as exc:
            log.error("reload refused, config epoch %d keeps running: %s", epoch, exc)
            return "refused", str(exc)
        diff = diff_configs(self.cfg, new)
        if diff.needs_restart:
            why = f"these fields need a restart: {', '.join(diff.restart_only)}"
            log.error("reload refused, config epoch %d keeps running: %s", epoch, why)
            return "refused", why
        if not diff.reloadable:
            log.info("reload: %s unchanged; config epoch %d keeps running", self.config_path, epoch)
            return "unchanged", f"{self.config_path} unchanged"
        warning = canary_warning(new)
        if warning:
            log.warning("reload: %s", warning)
        epoch += 1
        self.config_block.write(new, epoch, self.shards)  # reloads never move instruments
        for shard, mode in enumerate(shard_modes(new)):
            self.control.set_mode(shard, mode)
        self.control.epoch = epoch  # last: children look at the epoch, then read the rest
        self.cfg = new
        log.info("reload: config epoch %d: %s", epoch, ", ".join(diff.reloadable))
        return "ok", ", ".join(diff.reloadable)

    def _status_line(self) -> str:
        """systemd's STATUS=: the epoch, each shard's mode, how many shards quote."""
        modes = [self.control.mode(k) for k in range(self.cfg.workers.count)]
        runs: list[str] = []
        first = 0
        for k in range(1, len(modes) + 1):  # runs of one mode: "0:legacy 1-3:pipeline"
            if k == len(modes) or modes[k] != modes[first]:
                span = str(first) if k - 1 == first else f"{first}-{k - 1}"
                runs.append(f"{span}:{modes[first]}")
                first = k
        halted = sum(self.control.shard_halted(k) for k in range(len(modes)))
        return (f"quoting, epoch {self.control.epoch}, shards {' '.join(runs)}, "
                f"{len(modes) - halted}/{len(modes)} shards quoting")

    # ------------------------------------------------------------------ stop
    def _stop(self) -> None:
        """Halt -> workers pull quotes -> venue cancels and confirms -> children exit."""
        cfg = self.cfg.supervisor
        control = self.control
        start = time.monotonic()
        deadline = start + cfg.shutdown_timeout_s
        self.stopped_at = start
        sdnotify.notify("STOPPING=1")
        control.halt_all = True
        workers = [c for c in self.children if c.role == "worker" and c.state == "running"]
        venue_up = any(c.role == "venue" and c.state == "running" for c in self.children)
        # 1. the workers pull their quotes (CANCEL intents on their rings)
        self._wait_for(lambda: all(control.halt_seen(w.proc_slot) for w in workers if w.state == "running"),
                       start + 0.6 * cfg.shutdown_timeout_s, "workers to pull their quotes")
        # 2. the venue cancels what is left of every shard, lands the cancels, and confirms
        if venue_up:
            requests = {s: control.request_cancel(s) for s in range(self.cfg.workers.count)}
            confirmed = self._wait_for(
                lambda: all(control.cancel_ack(s) >= r for s, r in requests.items()),
                start + 0.8 * cfg.shutdown_timeout_s, "the venue to confirm the cancels")
            if confirmed:
                log.info("venue confirmed: every order cancelled")
        # the final summary, while the children are still attached and counters are settled
        control.shutdown = True
        self._wait_for(lambda: all(c.popen is None or c.popen.poll() is not None for c in self.children),
                       deadline, "children to exit")
        for c in self.children:
            if c.popen is not None and c.popen.poll() is None:
                if not self.forced:
                    log.error("%s (pid %d) did not exit in time: killing it", c.name, c.pid)
                c.popen.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    c.popen.wait(timeout=2)
        if self.forced and self.exit_code == EXIT_OK:
            self.exit_code = EXIT_FAILED
        self.summary = self._summary()
        log.info("stopped in %.2f s (%s); exit %d", time.monotonic() - start, self.stop_reason,
                 self.exit_code)

    def _wait_for(self, done: Any, deadline: float, what: str) -> bool:
        while not done():
            if self.forced:
                self._kill_all()
                return False
            if time.monotonic() >= deadline:
                log.warning("gave up waiting for %s", what)
                return False
            self._wait(0.01)
            self._handle_signals()
            self._reap()
        return True

    def _kill_all(self) -> None:
        for c in self.children:
            if c.popen is not None and c.popen.poll() is None:
                c.popen.kill()

    def _summary(self) -> dict[str, Any]:
        s = self.view.collect()
        if self.ready_at:
            wall = (self.stopped_at or time.monotonic()) - self.ready_at
            s["wall_s"] = round(wall, 3)
            s["events_per_s"] = round(s["events"] / wall, 1) if wall > 0 else 0.0
        s["exit_code"] = self.exit_code
        s["stop_reason"] = self.stop_reason
        s["open_orders_at_exit"] = s["venue"]["open_orders"]
        return s

    # ------------------------------------------------------------------ metrics
    def _start_metrics(self) -> None:
        m = self.cfg.metrics
        if not m.port:
            return
        from quotepipe.daemon.metrics import start_metrics_server

        try:
            self._metrics_server = start_metrics_server(m.listen, m.port, InstanceView(self.cfg))
        except OSError as exc:  # an instance nobody can watch does not start
            raise MetricsUnavailable(
                f"metrics: cannot listen on {m.listen} port {m.port} ({exc.strerror or exc}); another "
                f"instance may hold it: give each instance its own metrics.port (0 disables /metrics)"
            ) from None
        log.info("metrics: http://%s/metrics", f"[{m.listen}]:{m.port}" if ":" in m.listen
                 else f"{m.listen}:{m.port}")

    def _stop_metrics(self) -> None:
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
            self._metrics_server = None


def missing_recordings(cfg: Config) -> list[str]:
    return [p for p in cfg.feed.paths if not Path(p).exists()] if cfg.feed.kind == "replay" else []
