"""The worker: N slots in threads, each claiming and executing one run at a time.

Each slot opens its own session per step (claim, complete), so no session is
shared between threads and no transaction stays open while a run executes. A
heartbeat thread marks the worker's runs alive; the first SIGTERM/SIGINT stops
claiming and lets in-flight runs finish, a second one puts them back in the
queue and returns at once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from harness.db import session_scope
from harness.runs import queue
from harness.runs.execute import Executor
from harness.runs.hidden import mark_hidden
from sandboxes.base import Limits, RunResult

log = logging.getLogger("harness.runs")

STALE_AFTER = timedelta(seconds=60)


def default_concurrency(configured: int = 0) -> int:
    """`run_concurrency` when set (>0), else one slot per CPU."""
    return configured if configured > 0 else max(os.cpu_count() or 1, 1)


@dataclass
class Claimed:
    id: int
    files: dict[str, str]
    tests: dict[str, str]
    limits: dict[str, Any]
    image: str
    hidden: dict[str, str] = field(default_factory=dict)
    mode: str | None = None


class Worker:
    def __init__(
        self,
        factory: sessionmaker[Session],
        executor: Executor,
        *,
        concurrency: int = 0,
        poll_s: float = 0.5,
        heartbeat_s: float = 2.0,
        stale_after: timedelta = STALE_AFTER,
        project_id: int | None = None,
        until_idle: bool = False,
        name: str = "",
        on_done: Callable[[int, str], None] | None = None,
    ) -> None:
        self.factory = factory
        self.executor = executor
        self.concurrency = default_concurrency(concurrency)
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.stale_after = stale_after
        self.project_id = project_id
        self.until_idle = until_idle
        self.id = queue.worker_id(name)
        self.on_done = on_done
        self.completed = 0
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._finished = threading.Event()  # every slot has returned
        self._lock = threading.Lock()
        self._inflight: set[int] = set()
        self._slots: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------

    def stop(self) -> None:
        """Claim nothing more; runs in flight finish."""
        self._stop.set()

    def abort(self) -> None:
        """Stop now; the runs in flight go back to the queue."""
        self._abort.set()
        self._stop.set()
        self._finished.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, *, install_signals: bool = False) -> int:
        """Process runs until stopped (or, with until_idle, until none is queued)."""
        if install_signals:
            self._install_signals()
        self.recover()
        beat = threading.Thread(target=self._heartbeat_loop, name=f"{self.id}-beat", daemon=True)
        beat.start()
        self._slots = [
            threading.Thread(target=self._slot, name=f"{self.id}-slot{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for t in self._slots:
            t.start()
        while any(t.is_alive() for t in self._slots):
            if self._abort.is_set():
                break
            for t in self._slots:
                t.join(0.2)
        self._stop.set()
        self._finished.set()
        if self._abort.is_set():
            with session_scope(self.factory) as s:
                released = queue.release(s, self.id)
            if released:
                log.warning("worker %s: put %d unfinished run(s) back in the queue",
                            self.id, released)
        beat.join(5)
        return self.completed

    def start_background(self) -> threading.Thread:
        """Run in a daemon thread (the server's in-process worker)."""
        thread = threading.Thread(target=self._run_logged, name=f"{self.id}-main", daemon=True)
        thread.start()
        return thread

    def _run_logged(self) -> None:
        try:
            self.run()
        except Exception:  # a background worker must not die silently
            log.exception("run worker %s stopped", self.id)

    def recover(self) -> int:
        """Re-queue runs that a dead worker left running."""
        with session_scope(self.factory) as s:
            moved = queue.requeue_stale(s, self.stale_after)
        if moved:
            log.warning("re-queued %d run(s) left running by a dead worker", moved)
        return moved

    def _install_signals(self) -> None:
        def handler(signum: int, _frame: FrameType | None) -> None:
            if self._stop.is_set():
                self.abort()
            else:
                log.warning("stopping: finishing %d run(s) in flight (signal again to abandon)",
                            len(self._inflight))
                self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- the loops -------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        ticks = 0
        recover_every = max(int(self.stale_after.total_seconds() / max(self.heartbeat_s, 0.1)), 1)
        while not self._finished.wait(self.heartbeat_s):
            with self._lock:
                inflight = sorted(self._inflight)
            ticks += 1
            try:
                if inflight:
                    with session_scope(self.factory) as s:
                        queue.heartbeat(s, self.id, inflight)
                if ticks % recover_every == 0 and not self._stop.is_set():
                    self.recover()
            except Exception:
                log.exception("heartbeat of worker %s failed", self.id)

    def _claim(self) -> Claimed | None:
        return claim(self.factory, self.id, project_id=self.project_id)

    def _slot(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = self._claim()
            except Exception:
                log.exception("worker %s: claiming a run failed", self.id)
                self._stop.wait(self.poll_s)
                continue
            if claimed is None:
                if self.until_idle:
                    return
                self._stop.wait(self.poll_s)
                continue
            with self._lock:
                self._inflight.add(claimed.id)
            try:
                self._execute(claimed)
            finally:
                with self._lock:
                    self._inflight.discard(claimed.id)

    def _execute(self, claimed: Claimed) -> None:
        result = execute_claimed(self.executor, claimed)
        if self._abort.is_set():
            return  # released by run(); another attempt will record it
        done = record_result(self.factory, claimed.id, result, self.id, self._abort)
        if done is None:
            return  # left running; recovery re-queues it once the heartbeat stops
        if done:
            with self._lock:
                self.completed += 1
            if self.on_done is not None:
                self.on_done(claimed.id, result.status)
        else:
            log.warning("run %d was re-queued while it ran; result discarded", claimed.id)


def claim(factory: sessionmaker[Session], worker: str, *, project_id: int | None = None,
          run_id: int | None = None) -> Claimed | None:
    """Claim a queued run in a short transaction of its own; what the executor needs."""
    with session_scope(factory) as s:
        run = queue.claim_run(s, worker, project_id=project_id, run_id=run_id)
        if run is None:
            return None
        return Claimed(run.id, dict(run.files), dict(run.tests), dict(run.limits), run.image,
                       dict(run.hidden_tests or {}), run.mode)


def execute_claimed(executor: Executor, claimed: Claimed) -> RunResult:
    """Execute a claimed run; a failing sandbox is a sandbox_error, never the candidate's.

    The hidden tests run with the others in the judge; their outcomes are marked here
    whatever the executor, since the pages withhold them by that mark."""
    try:
        result = executor(claimed.files, {**claimed.tests, **claimed.hidden},
                          Limits.from_dict(claimed.limits), mode=claimed.mode,
                          hidden=frozenset(claimed.hidden))
        return mark_hidden(result, claimed.hidden)
    except Exception as exc:  # the sandbox failed, not the candidate
        log.exception("run %d: the sandbox failed", claimed.id)
        return RunResult.failure("sandbox_error", f"{type(exc).__name__}: {exc}",
                                 image=claimed.image)


def record_result(factory: sessionmaker[Session], run_id: int, result: RunResult, worker: str,
                  stop: threading.Event | None = None) -> bool | None:
    """Store the result (three tries). True when stored, False when the run was
    re-queued meanwhile (result discarded), None when the database did not answer."""
    for attempt in range(3):
        try:
            with session_scope(factory) as s:
                return queue.complete_run(s, run_id, result, worker=worker)
        except Exception:
            log.exception("run %d: recording the result failed (try %d)", run_id, attempt + 1)
            if stop is not None:
                stop.wait(1.0)
    return None
