"""The bubblewrap backend: namespaces, a read-only root, a per-run cgroup.

Like the docker backend it starts sandboxes ahead of need (sandboxes.pool):
the runner imports pytest inside its cgroup, then waits for its job; the wall
clock starts when the job is sent, and CPU used before that is subtracted.

bwrap itself runs as uid 65534 (unprivileged user namespaces), so the sandbox
is nobody on the host too, not root in a user namespace. Before exec the child
joins the run's cgroup and takes rlimits for open files, file size and core
size. What the sandbox sees and may do (bwrap's command line, its mounts, the
seccomp program, the child's set-up before exec) is in bwrap_confinement.py;
this module owns the processes: the cgroup, spawning, the pools of started
sandboxes, the job's delivery, the wall clock, output capture and teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from sandboxes import cgroups, image, owners, seccomp
from sandboxes.backends.bwrap_confinement import child_setup, invocation, seccomp_program
from sandboxes.backends.bwrap_confinement import command as bwrap_command
from sandboxes.base import (
    DEFAULT_MODE,
    Limits,
    RunResult,
    Sandbox,
    SandboxConfig,
    register_backend,
)
from sandboxes.pool import Reaper, WarmPool, probe_run
from sandboxes.staging import (
    BUILD_HINT,
    CANDIDATE_UID,
    READY_TIMEOUT_S,
    SANDBOX_UID,
    Capture,
    Pumped,
    RunnerNotStarted,
    Stage,
    assemble,
    await_output,
    await_ready,
    call_timeout,
    candidate_modules,
    drain,
    error_result,
    not_started,
    pump,
    sweep_stages,
)


@dataclass
class Started:
    proc: subprocess.Popen[bytes]
    stage: Stage
    group: cgroups.RunCgroup | None
    link_fd: int | None = None  # split execution: its end of the link, as numbered inside


@dataclass
class Pair:
    """Split execution: the judge (pytest, trusted tests) and the candidate process,
    each in its own sandbox, joined by a socket pair made before either started."""

    judge: Started
    candidate: Started


@dataclass
class Exchange:
    """How far a job got with the runner, filled in as it goes: an error midway keeps
    what had happened (a job never delivered is the sandbox's fault, never the
    candidate's: `assemble` decides on `delivered`)."""

    started: float
    delivered: bool = False
    pumped: Pumped = field(default_factory=Pumped)
    ended: float | None = None


def _deliver_and_pump(proc: subprocess.Popen[bytes], job: str, out: Capture, err: Capture,
                      wall_s: float, ex: Exchange) -> None:
    """Hand the runner its job on stdin and collect its output until it exits or the
    wall limit passes (the pidfd tells an exit even when a child keeps the pipes)."""
    assert proc.stdin and proc.stdout and proc.stderr
    ex.started = time.monotonic()
    with contextlib.suppress(BrokenPipeError):
        proc.stdin.write(job.encode())
        proc.stdin.close()
        ex.delivered = True
    pidfd = os.pidfd_open(proc.pid)
    try:
        ex.pumped = pump({"stdout": proc.stdout.fileno(), "stderr": proc.stderr.fileno()},
                         {"stdout": out, "stderr": err}, ex.started + wall_s,
                         lambda: proc.poll() is not None, pidfd)
        ex.ended = time.monotonic()
    finally:
        os.close(pidfd)


def _exit_status(rc: int) -> tuple[int | None, int | None]:
    """(exit code, signal) from a Popen return code; 129..192 is a signal the sandbox's
    init passed on as 128 + its number."""
    exit_code, sig = (None, -rc) if rc < 0 else (rc, None)
    if exit_code is not None and 128 < exit_code < 193:
        sig = exit_code - 128
    return exit_code, sig


class BwrapSandbox(Sandbox):
    name: ClassVar[str] = "bwrap"

    def __init__(self, config: SandboxConfig, pool_size: int | None = None) -> None:
        super().__init__(config)
        self._swept = False
        self.pool: WarmPool[Started] = WarmPool(self._start, self._discard, pool_size)
        self.split_pool: WarmPool[Pair] = WarmPool(self._start_pair, self._discard_pair,
                                                   pool_size)
        self.reaper = Reaper()

    @property
    def rootfs(self) -> Path | None:
        paths = image.paths_for(self.config.sandbox_dir)
        return paths.rootfs if paths.rootfs_ready() else None

    def _isolation(self, group: cgroups.RunCgroup | None) -> str:
        return "full" if group is not None and seccomp_program() is not None else "degraded"

    def missing_hint(self) -> str:
        """What to do when the runner cannot start (empty when the rootfs is built)."""
        if self.rootfs is not None:
            return ""
        return (f"no sandbox rootfs is built in {self.config.sandbox_dir}, so bwrap ran on "
                f"the host's system dirs, whose Python cannot run the tests; {BUILD_HINT}")

    def isolation(self) -> str:
        full = cgroups.version() is not None and seccomp_program() is not None
        return "full" if full else "degraded"

    def image_name(self) -> str:
        root = self.rootfs
        return f"rootfs:{image.content_version()}" if root else "host-system-dirs"

    def check(self) -> tuple[bool, str]:
        if shutil.which("bwrap") is None:
            return False, "bubblewrap is not installed (apt-get install -y bubblewrap)"
        probe, failure = probe_run(self, self.pool, wall_s=20)
        if failure is not None:
            return False, failure
        where = "rootfs " + image.content_version() if self.rootfs else "host system dirs"
        filtered, filter_detail = seccomp.available()
        if probe.isolation == "degraded":
            why = "no cgroup can be made here" if filtered else filter_detail
            return True, f"isolation degraded ({why}); {where}"
        return True, f"isolation full (cgroup v{cgroups.version()}, {filter_detail}); {where}"

    def command(self, stage: Stage, limits: Limits, candidate: bool = False) -> list[str]:
        """bwrap's command line for this backend's rootfs (bwrap_confinement.command)."""
        return bwrap_command(self.rootfs, stage, limits, candidate)

    def _start(self, limits: Limits, link: socket.socket | None = None,
               candidate: bool = False) -> Started:
        """A sandbox whose runner has imported pytest and waits for its job on stdin
        (`candidate`: the candidate process of split execution, as its own uid)."""
        stage = Stage.empty()
        group: cgroups.RunCgroup | None = None
        try:
            name = f"{owners.local_tag()}-{secrets.token_hex(6)}"
            try:
                group = cgroups.create(name, limits.memory_mb << 20, limits.pids, limits.cpus)
            except OSError:
                group = None
            fds = (link.fileno(),) if link is not None else ()
            with invocation(self.rootfs, stage, limits, candidate) as (argv, extra):
                proc = subprocess.Popen(  # noqa: S603 - bwrap, a descriptor, the runner's argv
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, env={}, close_fds=True,
                    pass_fds=(*fds, *extra),
                    preexec_fn=child_setup(group.procs_files if group else [],  # noqa: PLW1509
                                           limits, CANDIDATE_UID if candidate else SANDBOX_UID),
                )
        except BaseException:
            if group is not None:
                group.remove()
            stage.remove()
            raise
        return Started(proc, stage, group, fds[0] if fds else None)

    def _start_pair(self, limits: Limits) -> Pair:
        judge_end, candidate_end = socket.socketpair()
        try:
            judge = self._start(limits, judge_end)
            try:
                candidate = self._start(limits, candidate_end, candidate=True)
            except BaseException:
                self._discard(judge)
                raise
        finally:  # each sandbox holds its own end; the host keeps none
            judge_end.close()
            candidate_end.close()
        return Pair(judge, candidate)

    def _discard_pair(self, pair: Pair) -> None:
        self._discard(pair.judge)
        self._discard(pair.candidate)

    def _discard(self, started: Started) -> None:
        self._teardown(started)
        if started.group is not None:
            started.group.remove()
        started.stage.remove()

    @staticmethod
    def _teardown(started: Started) -> int:
        """Kill the whole group, then reap bwrap; returns its exit status."""
        if started.group is not None:
            started.group.kill()
        proc = started.proc
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        rc = proc.wait()
        for pipe in (proc.stdout, proc.stderr, proc.stdin):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return rc

    def set_pool_size(self, size: int) -> None:
        self.pool.size = size
        self.split_pool.size = size

    def settle(self) -> None:
        self.pool.settle()
        self.split_pool.settle()
        self.reaper.settle()
        waiting = self.pool.waiting() + [s for p in self.split_pool.waiting()
                                         for s in (p.judge, p.candidate)]
        await_output([s.proc.stdout.fileno() for s in waiting if s.proc.stdout is not None])

    def close(self) -> None:
        self.pool.close()
        self.split_pool.close()
        self.reaper.settle()

    def waiting_resources(self) -> dict[str, set[str]]:
        waiting = self.pool.waiting() + [s for p in self.split_pool.waiting()
                                         for s in (p.judge, p.candidate)]
        return {"stages": {str(w.stage.root) for w in waiting},
                "cgroups": {str(d) for w in waiting if w.group for d in w.group.dirs},
                "pids": {str(w.proc.pid) for w in waiting}}

    def run(self, candidate_files: Mapping[str, str], test_files: Mapping[str, str],
            limits: Limits, *, mode: str = DEFAULT_MODE) -> RunResult:
        if not self._swept:  # housekeeping: only groups and dirs of dead owners
            self._swept = True
            with contextlib.suppress(OSError):
                cgroups.sweep_orphans()
            sweep_stages()
        if mode == "split":
            return self._run_split(candidate_files, test_files, limits)
        started = time.monotonic()
        out, err = Capture(limits.output_bytes), Capture(limits.output_bytes)
        try:
            box = self.pool.take(limits)
            if box.proc.poll() is not None:  # died while waiting: start a fresh one
                self._discard(box)
                box = self._start(limits)
        except OSError as exc:
            return error_result(self.name, self.image_name(), started,
                                f"could not start bwrap: {exc}", self.isolation())
        proc, stage, group = box.proc, box.stage, box.group
        ex = Exchange(started)
        infra: str | None = None
        cpu_before = 0.0
        try:
            assert proc.stdin and proc.stdout and proc.stderr
            if not await_ready(proc.stdout.fileno(), time.monotonic() + READY_TIMEOUT_S,
                               err, proc.stderr.fileno()):
                raise RunnerNotStarted(not_started(err, self.missing_hint()))
            job = stage.fill(candidate_files, test_files)
            if group is not None:
                cpu_before = group.stats()[0] or 0.0
            _deliver_and_pump(proc, job, out, err, limits.wall_s, ex)
        except RunnerNotStarted as exc:
            infra = str(exc)
        except (OSError, ValueError) as exc:
            infra = f"bwrap run failed: {exc}"
        finally:
            exit_code, sig = _exit_status(self._teardown(box))
        try:
            return self._assemble(stage, group, cpu_before, limits, ex, exit_code, sig,
                                  out, err, infra)
        finally:
            self.reaper.submit(lambda: self._remove(group, stage))

    def _assemble(self, stage: Stage, group: cgroups.RunCgroup | None, cpu_before: float,
                  limits: Limits, ex: Exchange, exit_code: int | None, sig: int | None,
                  out: Capture, err: Capture, infra: str | None) -> RunResult:
        """The run's result from the runner's report, its exit and its cgroup's figures."""
        cpu_s, peak, ooms = group.stats() if group is not None else (None, None, 0)
        if cpu_s is not None:
            cpu_s = max(0.0, cpu_s - cpu_before)
        return assemble(stage=stage, backend=self.name, image=self.image_name(),
                        isolation=self._isolation(group), limits=limits, started=ex.started,
                        exit_code=exit_code, sig=sig, pumped=ex.pumped, out=out, err=err,
                        cpu_s=cpu_s, peak=peak, oom=ooms > 0, infra_error=infra,
                        ended=ex.ended, delivered=ex.delivered)

    def _run_split(self, candidate_files: Mapping[str, str], test_files: Mapping[str, str],
                   limits: Limits) -> RunResult:
        """The judge runs pytest on the trusted tests; the candidate's modules live in
        the candidate process, reached over the link (sandboxes/runner/_harness_split.py)."""
        started = time.monotonic()
        out, err = Capture(limits.output_bytes), Capture(limits.output_bytes)
        c_out, c_err = Capture(limits.output_bytes), Capture(limits.output_bytes)
        try:
            pair = self.split_pool.take(limits)
            if pair.judge.proc.poll() is not None or pair.candidate.proc.poll() is not None:
                self._discard_pair(pair)
                pair = self._start_pair(limits)
        except OSError as exc:
            return error_result(self.name, self.image_name(), started,
                                f"could not start bwrap: {exc}", self.isolation())
        judge, cand = pair.judge, pair.candidate
        ex = Exchange(started)
        infra: str | None = None
        drainer: threading.Thread | None = None
        cpu_before = 0.0
        try:
            assert judge.proc.stdin and judge.proc.stdout and judge.proc.stderr
            assert cand.proc.stdin and cand.proc.stdout and cand.proc.stderr
            deadline = time.monotonic() + READY_TIMEOUT_S
            if not await_ready(judge.proc.stdout.fileno(), deadline, err,
                               judge.proc.stderr.fileno()):
                raise RunnerNotStarted(not_started(err, self.missing_hint()))
            if not await_ready(cand.proc.stdout.fileno(), deadline, c_err,
                               cand.proc.stderr.fileno()):
                raise RunnerNotStarted("the candidate process did not start: "
                                       + not_started(c_err, self.missing_hint()))
            cand.stage.fill(candidate_files, {})
            job = judge.stage.fill({}, test_files, split={
                "link_fd": judge.link_fd, "modules": candidate_modules(candidate_files),
                "call_timeout": call_timeout(limits)})
            if judge.group is not None:
                cpu_before = judge.group.stats()[0] or 0.0
            with contextlib.suppress(BrokenPipeError):
                cand.proc.stdin.write(json.dumps({"link_fd": cand.link_fd}).encode() + b"\n")
                cand.proc.stdin.close()
            drainer = threading.Thread(target=drain, daemon=True, args=(
                {"stdout": cand.proc.stdout.fileno(), "stderr": cand.proc.stderr.fileno()},
                {"stdout": c_out, "stderr": c_err}))
            drainer.start()
            _deliver_and_pump(judge.proc, job, out, err, limits.wall_s, ex)
        except RunnerNotStarted as exc:
            infra = str(exc)
        except (OSError, ValueError) as exc:
            infra = f"bwrap run failed: {exc}"
        finally:
            rc = self._teardown(judge)
            if cand.group is None:  # degraded: RLIMIT_NPROC counts its processes until gone
                self._teardown(cand)
            # (otherwise the candidate goes with the reaper, off this path)
            exit_code, sig = _exit_status(rc)
        try:
            result = self._assemble(judge.stage, judge.group, cpu_before, limits, ex,
                                    exit_code, sig, out, err, infra)
            result.integrity = "split"
            if c_err.data:
                result.stderr += "\n--- candidate process stderr ---\n" + c_err.text()
            return result
        finally:
            def remove() -> None:
                self._remove(judge.group, judge.stage)
                self._teardown(cand)
                if drainer is not None:
                    drainer.join(timeout=5)
                self._remove(cand.group, cand.stage)

            self.reaper.submit(remove)

    @staticmethod
    def _remove(group: cgroups.RunCgroup | None, stage: Stage) -> None:
        if group is not None:
            group.remove()
        stage.remove()


register_backend(BwrapSandbox)
