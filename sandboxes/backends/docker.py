"""The Docker backend (docker SDK), with containers started ahead of need.

A fresh container costs ~0.3 s to create and start, so the backend keeps a
few started containers per limits set (sandboxes.pool) whose runner has
already imported pytest and waits on stdin for its job. A run takes one,
sends the job through the attach socket, reads the multiplexed output with
caps and a deadline, and force-removes it; every container is used once. Containers carry
a label with the owning process (`host:pid:start`, sandboxes.owners), so a new
backend removes those of a dead harness (the orphan sweep) and never those of
another live one.

How a container is made (its create options, its labels, the removals they
serve) is in docker_containers.py; this module owns the engine client, the
pools of started containers, the runs and the attach stream.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import selectors
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sandboxes import image

# LABEL and remove_created keep their import path here (tests use it).
from sandboxes.backends.docker_containers import LABEL as LABEL
from sandboxes.backends.docker_containers import Warm, start_container, sweep_orphan_containers
from sandboxes.backends.docker_containers import remove_created as remove_created
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
    READY,
    READY_TIMEOUT_S,
    Capture,
    Pumped,
    RunnerNotStarted,
    Stage,
    assemble,
    await_output,
    call_timeout,
    candidate_modules,
    error_result,
    not_started,
    sweep_stages,
)

log = logging.getLogger(__name__)
_CLIENT_LOCK = threading.Lock()


@dataclass
class WarmPair:
    """Split execution: a judge and a candidate container joined by a socket pair
    (each end handed to its container's process as it starts)."""

    judge: Warm
    candidate: Warm


def _raw(sock: Any) -> socket.socket:
    return sock._sock if hasattr(sock, "_sock") else sock  # noqa: SLF001


def _close_sock(sock: Any) -> None:
    """Close the hijacked attach connection: raw socket, its file wrapper, the response."""
    for closer in (getattr(sock, "_sock", None), sock, getattr(sock, "_response", None)):
        with contextlib.suppress(Exception):
            if closer is not None:
                closer.close()


def pump_frames(sock: socket.socket, out: Capture, err: Capture, deadline: float) -> Pumped:
    """Demultiplex docker's attach stream ([stream, 0, 0, 0, size] frames) with caps."""
    state = Pumped()
    buf = bytearray()
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    sock.setblocking(False)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                state.timed_out = True
                return state
            if not sel.select(timeout=min(remaining, 0.5)):
                continue
            try:
                chunk = sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if not chunk:
                state.exited = True
                return state
            buf += chunk
            while len(buf) >= 8:
                kind, size = buf[0], struct.unpack(">I", bytes(buf[4:8]))[0]
                if len(buf) < 8 + size:
                    break
                payload = bytes(buf[8:8 + size])
                del buf[:8 + size]
                target = err if kind == 2 else out
                target.add(payload)
                if target.truncated:
                    state.output_exceeded = True
                    return state
    finally:
        sel.close()


def await_ready_frames(sock: socket.socket, err: Capture, deadline: float) -> bool:
    """The runner's READY line from the attach stream (stderr frames go to `err`)."""
    buf = bytearray()
    seen = b""
    sock.setblocking(False)
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, min(0.5, deadline - time.monotonic()))):
                continue
            try:
                # Never past the READY frame: what follows belongs to the run's output.
                want = 8 if len(buf) < 8 else 8 + struct.unpack(">I", bytes(buf[4:8]))[0]
                chunk = sock.recv(want - len(buf))
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return False
            if not chunk:
                return False
            buf += chunk
            if len(buf) < 8 or len(buf) < 8 + struct.unpack(">I", bytes(buf[4:8]))[0]:
                continue
            kind, payload = buf[0], bytes(buf[8:])
            buf.clear()
            if kind == 2:
                err.add(payload)
                continue
            seen += payload
            if seen == READY:
                return True
            if not READY.startswith(seen):
                return False
    return False


def _discard_stream(sock: socket.socket) -> None:
    """Read the candidate container's own output until it ends (it is never shown)."""
    sock.setblocking(True)
    with contextlib.suppress(OSError):
        while sock.recv(1 << 16):
            pass


class DockerSandbox(Sandbox):
    name: ClassVar[str] = "docker"

    def __init__(self, config: SandboxConfig, pool_size: int | None = None) -> None:
        super().__init__(config)
        self._client: Any = None
        self._swept = False
        self.pool: WarmPool[Warm] = WarmPool(self._create, self._discard, pool_size)
        self.split_pool: WarmPool[WarmPair] = WarmPool(self._create_pair, self._discard_pair,
                                                       pool_size)
        self.reaper = Reaper()

    # -- engine ---------------------------------------------------------------

    @property
    def client(self) -> Any:
        with _CLIENT_LOCK:  # one import of the SDK: threads importing it at once see it
            if self._client is None:  # half-initialised ("cannot import name ...")
                import docker
                import docker.types  # noqa: F401 - loaded here, under the lock

                self._client = docker.from_env(timeout=30, max_pool_size=32)
            return self._client

    def available(self) -> bool:
        try:
            self.client.ping()
            return image.docker_image_present(self.client, self.config.image_tag)
        except Exception:  # noqa: BLE001 - any failure means "no engine"
            self._client = None
            return False

    def check(self) -> tuple[bool, str]:
        try:
            self.client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
            self._client = None
            return False, f"no Docker engine answers: {exc.__class__.__name__}"
        if not image.docker_image_present(self.client, self.config.image_tag):
            return False, (f"image {self.config.image_tag} is missing; run "
                           "`harness sandbox build --offline`")
        _, failure = probe_run(self, self.pool, wall_s=30)
        if failure is not None:
            return False, failure
        return True, f"isolation full (container, image {self.config.image_tag})"

    def sweep_orphans(self) -> int:
        """Remove the sandbox containers of dead harness processes
        (docker_containers.sweep_orphan_containers)."""
        return sweep_orphan_containers(self.client.api)

    def _sweep_once(self) -> None:
        """The first run's housekeeping; a failure here never fails that run."""
        if self._swept:
            return
        self._swept = True
        try:
            self.sweep_orphans()
        except Exception as exc:  # noqa: BLE001 - housekeeping only
            log.warning("docker orphan sweep failed: %s: %s", exc.__class__.__name__, exc)
        sweep_stages()

    # -- containers -----------------------------------------------------------

    def _create(self, limits: Limits, link: socket.socket | None = None,
                candidate: bool = False) -> Warm:
        # the client property imports the SDK under its lock
        return start_container(self.client, self.config.image_tag, limits, link, candidate)

    def _create_pair(self, limits: Limits) -> WarmPair:
        judge_end, candidate_end = socket.socketpair()
        try:
            judge = self._create(limits, judge_end)
            try:
                candidate = self._create(limits, candidate_end, candidate=True)
            except BaseException:
                self._discard(judge)
                raise
        finally:  # each container's process holds its own end; the host keeps none
            judge_end.close()
            candidate_end.close()
        return WarmPair(judge, candidate)

    def _discard_pair(self, pair: WarmPair) -> None:
        self._discard(pair.judge)
        self._discard(pair.candidate)

    def set_pool_size(self, size: int) -> None:
        self.pool.size = size
        self.split_pool.size = size

    def waiting_resources(self) -> dict[str, set[str]]:
        waiting = self.pool.waiting() + [w for p in self.split_pool.waiting()
                                         for w in (p.judge, p.candidate)]
        return {"containers": {w.container.id for w in waiting},
                "stages": {str(w.stage.root) for w in waiting}}

    def settle(self) -> None:
        self.pool.settle()
        self.split_pool.settle()
        self.reaper.settle()
        waiting = self.pool.waiting() + [w for p in self.split_pool.waiting()
                                         for w in (p.judge, p.candidate)]
        await_output([_raw(w.sock).fileno() for w in waiting])

    def close(self) -> None:
        self.pool.close()
        self.split_pool.close()
        self.reaper.settle()

    def _discard(self, warm: Warm) -> None:
        _close_sock(warm.sock)
        with contextlib.suppress(Exception):
            warm.container.remove(force=True)
        warm.stage.remove()

    # -- a run ----------------------------------------------------------------

    def _take_pair(self, limits: Limits) -> tuple[Warm, Warm]:
        pair = self.split_pool.take(limits)
        for w in (pair.judge, pair.candidate):
            w.container.reload()
        if any(w.container.status != "running" for w in (pair.judge, pair.candidate)):
            self._discard_pair(pair)
            pair = self._create_pair(limits)
        return pair.judge, pair.candidate

    @staticmethod
    def _start_candidate(cand: Warm, candidate_files: Mapping[str, str],
                         limits: Limits) -> None:
        """Give the candidate process its files and let it serve."""
        csock = _raw(cand.sock)
        c_err = Capture(limits.output_bytes)
        if not await_ready_frames(csock, c_err, time.monotonic() + READY_TIMEOUT_S):
            raise RunnerNotStarted("the candidate process did not start: " + not_started(c_err))
        cand.stage.fill(candidate_files, {})
        csock.setblocking(True)
        csock.sendall(json.dumps({"link_fd": None}).encode() + b"\n")
        with contextlib.suppress(OSError):
            csock.shutdown(socket.SHUT_WR)
        threading.Thread(target=_discard_stream, args=(csock,), daemon=True).start()


    def run(self, candidate_files: Mapping[str, str], test_files: Mapping[str, str],
            limits: Limits, *, mode: str = DEFAULT_MODE) -> RunResult:
        started = time.monotonic()
        out, err = Capture(limits.output_bytes), Capture(limits.output_bytes)
        pumped = Pumped()
        infra: str | None = None
        exit_code: int | None = None
        oom = False
        warm: Warm | None = None
        stage: Stage | None = None
        ended: float | None = None
        delivered = False
        cand: Warm | None = None  # split execution: the candidate's container
        try:
            self._sweep_once()
            if mode == "split":
                warm, cand = self._take_pair(limits)
            else:
                warm = self.pool.take(limits)
                warm.container.reload()
                if warm.container.status != "running":  # died while waiting (engine restart)
                    dead, warm = warm, None
                    self._discard(dead)
                    warm = self._create(limits)
            stage = warm.stage
            sock = _raw(warm.sock)
            if not await_ready_frames(sock, err, time.monotonic() + READY_TIMEOUT_S):
                raise RunnerNotStarted(not_started(err))
            if cand is not None:
                self._start_candidate(cand, candidate_files, limits)
                job = stage.fill({}, test_files, split={
                    "link_fd": None, "modules": candidate_modules(candidate_files),
                    "call_timeout": call_timeout(limits)})
            else:
                job = stage.fill(candidate_files, test_files)
            started = time.monotonic()
            sock.sendall(job.encode())
            delivered = True
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            pumped = pump_frames(sock, out, err, started + limits.wall_s)
            ended = time.monotonic()
        except RunnerNotStarted as exc:
            infra = str(exc)
        except Exception as exc:  # noqa: BLE001 - engine trouble is a sandbox_error
            infra = f"docker: {exc.__class__.__name__}: {exc}"
            if exc.__class__.__name__ == "ImageNotFound":
                infra = f"sandbox image {self.config.image_tag} is missing: {BUILD_HINT}"
        finally:
            if warm is not None:
                container = warm.container
                if pumped.timed_out or pumped.output_exceeded or infra:
                    # Close our end first: the engine will not finish a container
                    # whose output it is still trying to hand to us.
                    _close_sock(warm.sock)
                    with contextlib.suppress(Exception):
                        container.kill()
                with contextlib.suppress(Exception):
                    status = container.wait(timeout=5)
                    exit_code = int(status.get("StatusCode"))
                with contextlib.suppress(Exception):
                    container.reload()
                    oom = bool(container.attrs["State"].get("OOMKilled"))
                _close_sock(warm.sock)
            if cand is not None:  # removed (killed) off this path
                self.reaper.submit(functools.partial(self._discard, cand))
        if stage is None:
            if warm is not None:
                self.reaper.submit(functools.partial(self._discard, warm))
            return error_result(self.name, self.config.image_tag, started, infra or "no stage")
        try:
            sig = exit_code - 128 if exit_code is not None and 128 < exit_code < 193 else None
            result = assemble(stage=stage, backend=self.name, image=self.config.image_tag,
                              isolation="full", limits=limits, started=started,
                              exit_code=exit_code, sig=sig, pumped=pumped, out=out, err=err,
                              cpu_s=None, peak=None, oom=oom, infra_error=infra, ended=ended,
                              delivered=delivered)
            result.integrity = "split" if mode == "split" else "in_process"
            return result
        finally:
            if warm is not None:
                self.reaper.submit(functools.partial(self._discard, warm))
            else:
                stage.remove()


register_backend(DockerSandbox)
