"""Test runs across hosts: RQ on Redis carries queued runs to `harness worker` processes
on any host with a sandbox (used when REDIS_URL is set).

The database stays the durable queue and the only truth: a TestRun row is queued,
running or done, and every change of a claimed row is guarded by its state and
worker (see `harness.runs.queue`). RQ only carries the news "run N is waiting" to
whichever host is free:

- every `harness worker` runs a sweeper process that re-queues runs left running by a dead
  worker (`requeue_stale`) and puts one RQ job on the queue for each queued row
  that has none yet (job id `harness-run-<id>-<attempts>`, enqueued unique, so two
  sweepers on two hosts do not double it);
- an RQ job claims its run by id (`claim_run(..., run_id=N)`); a job whose run is
  no longer queued (done, or taken by another attempt) does nothing. So a run
  completes exactly once even if a job is delivered twice or a worker is killed
  mid-run: its row is re-queued by a sweeper and gets a new job with a new id.

Jobs receive ids and open their own sessions (no state crosses Redis but the id).
Nothing here runs unless REDIS_URL is set; the embedded queue stays the default.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from harness.db import make_engine, make_sessionmaker, session_scope
from harness.runs import queue
from harness.runs.execute import load_executor
from harness.runs.worker import STALE_AFTER, claim, execute_claimed, record_result

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue

    from harness.settings import Settings

log = logging.getLogger("harness.runs")

QUEUE_NAME = "harness-runs"
JOB_TIMEOUT_S = 3600
"""RQ's own limit on one job; the sandbox's wall-time limit ends a run long before."""
SWEEP_S = 1.0
HEARTBEAT_S = 2.0


def connect(redis_url: str) -> Redis:
    from redis import Redis

    return Redis.from_url(redis_url)


def rq_queue(connection: Redis) -> Queue:
    from rq import Queue

    return Queue(QUEUE_NAME, connection=connection)


def job_id(run_id: int, attempts: int) -> str:
    return f"harness-run-{run_id}-{attempts}"


def dispatch(session: Session, rq: Queue, executor_spec: str | None = None) -> int:
    """One RQ job for every queued run that has none yet; returns how many were added."""
    from rq.job import Job

    added = 0
    for run_id, attempts in queue.queued_runs(session):
        jid = job_id(run_id, attempts)
        if Job.exists(jid, connection=rq.connection):
            continue
        rq.enqueue_call(execute_job, args=(run_id, executor_spec), job_id=jid, unique=True,
                        timeout=JOB_TIMEOUT_S, result_ttl=600, failure_ttl=3600)
        added += 1
    return added


def sweep(factory: sessionmaker[Session], rq: Queue, *, executor_spec: str | None = None,
          stale_after: timedelta = STALE_AFTER) -> tuple[int, int]:
    """Re-queue runs of dead workers, then dispatch every queued run. (re-queued, added)."""
    with session_scope(factory) as s:
        moved = queue.requeue_stale(s, stale_after)
    with session_scope(factory) as s:
        added = dispatch(s, rq, executor_spec)
    return moved, added


def sweep_forever(database_url: str, redis_url: str, executor_spec: str | None,
                  every_s: float = SWEEP_S) -> None:
    """The sweeper loop, in a process of its own (see `work`); the process also sends
    the due webhook deliveries (harness.webhooks), as every worker process does."""
    from harness import webhooks
    from harness.settings import Settings

    settings = Settings.from_env(create=False)
    factory = make_sessionmaker(make_engine(database_url), settings)
    webhooks.start_delivery_loop(factory, settings.webhook_poll_ms)
    rq = rq_queue(connect(redis_url))
    while True:
        try:
            moved, _added = sweep(factory, rq, executor_spec=executor_spec)
            if moved:
                log.warning("re-queued %d run(s) left running by a dead worker", moved)
        except Exception:
            log.exception("sweeping the run queue failed")
        time.sleep(every_s)


# -- inside an RQ job ------------------------------------------------------------------


@cache
def _context() -> tuple[Settings, sessionmaker[Session]]:
    """This worker process's settings and session factory (made once per process)."""
    from harness.settings import Settings

    settings = Settings.from_env()
    return settings, make_sessionmaker(make_engine(settings.database_url), settings)


def execute_job(run_id: int, executor_spec: str | None = None) -> str:
    """The RQ job: claim run `run_id` if it is still queued, execute it, store the result."""
    settings, factory = _context()
    worker = queue.worker_id("rq")
    claimed = claim(factory, worker, run_id=run_id)
    if claimed is None:
        return "not queued"  # done already, or another attempt holds it
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                with session_scope(factory) as s:
                    queue.heartbeat(s, worker, [run_id])
            except Exception:
                log.exception("heartbeat of run %d failed", run_id)

    beating = threading.Thread(target=beat, name=f"beat-{run_id}", daemon=True)
    beating.start()
    try:
        result = execute_claimed(load_executor(executor_spec, settings), claimed)
    finally:
        stop.set()
        beating.join(5)
    done = record_result(factory, run_id, result, worker)
    return result.status if done else "discarded"


def work(settings: Settings, *, concurrency: int, executor_spec: str | None = None,
         burst: bool = False) -> None:
    """`harness worker` with REDIS_URL: a sweeper and `concurrency` RQ workers until stopped."""
    from rq import Worker
    from rq.worker_pool import WorkerPool

    assert settings.redis_url
    connection = connect(settings.redis_url)
    rq = rq_queue(connection)
    # The sweeper runs in a spawned process: RQ forks a work horse per job, and a fork
    # taken while a thread of ours held a lock (SQLite's, logging's) would deadlock it.
    sweeper = multiprocessing.get_context("spawn").Process(
        target=sweep_forever, name="run-sweeper", daemon=True,
        args=(settings.database_url, settings.redis_url, executor_spec))
    sweeper.start()
    try:
        if concurrency <= 1 or burst:
            Worker([rq], connection=connection).work(burst=burst, with_scheduler=False)
        else:
            WorkerPool([rq], connection=connection, num_workers=concurrency).start()
    finally:
        sweeper.terminate()
        sweeper.join(10)
