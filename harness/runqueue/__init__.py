"""The durable run queue: runs are rows (queued, running, done), claimed atomically,
executed by a `Worker` with bounded concurrency, recovered after a crash."""

from harness.runqueue.queue import (
    claim_next,
    complete,
    enqueue_for_tasks,
    enqueue_project,
    error_result,
    heartbeat,
    project_counts,
    requeue_stale,
    rerun,
    runs_for_task,
    worker_active,
    worker_id,
)
from harness.runqueue.runner import (
    Runner,
    RunQueueError,
    dedup_key,
    image_tag,
    limits_for,
    sandbox_runner,
)
from harness.runqueue.worker import Worker, default_concurrency

__all__ = [
    "RunQueueError",
    "Runner",
    "Worker",
    "claim_next",
    "complete",
    "dedup_key",
    "default_concurrency",
    "enqueue_for_tasks",
    "enqueue_project",
    "error_result",
    "heartbeat",
    "image_tag",
    "limits_for",
    "project_counts",
    "requeue_stale",
    "rerun",
    "runs_for_task",
    "sandbox_runner",
    "worker_active",
    "worker_id",
]
