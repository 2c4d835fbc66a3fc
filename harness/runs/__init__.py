"""Test runs of candidates: the durable run queue (`queue`), what keys a run
(`keys`), the one function that executes a run and decides its verdict
(`execute`), and the worker that takes queued runs (`worker`).

Annotator work (who reviews which task) is `harness.assignments`, not here.
"""

from harness.runs.execute import (
    Executor,
    check_backend,
    load_executor,
    run_candidate,
    sandbox_executor,
)
from harness.runs.keys import dedup_key, image_tag, limits_for
from harness.runs.queue import (
    claim_run,
    complete_run,
    enqueue_for_tasks,
    enqueue_project,
    heartbeat,
    project_counts,
    requeue_stale,
    rerun,
    run_briefs,
    runs_for_task,
    worker_active,
    worker_id,
)
from harness.runs.worker import Worker, default_concurrency

__all__ = [
    "Executor",
    "Worker",
    "check_backend",
    "claim_run",
    "complete_run",
    "dedup_key",
    "default_concurrency",
    "enqueue_for_tasks",
    "enqueue_project",
    "heartbeat",
    "image_tag",
    "limits_for",
    "load_executor",
    "project_counts",
    "requeue_stale",
    "rerun",
    "run_briefs",
    "run_candidate",
    "runs_for_task",
    "sandbox_executor",
    "worker_active",
    "worker_id",
]
