"""worker, runs: execute the run queue, and watch a project's runs."""

from __future__ import annotations

import logging
import sys
import time
from datetime import timedelta

import click

from harness import accounts, setup
from harness import runs as runqueue
from harness.cli.common import engine, fail, session, session_factory, settings
from harness.models import Project
from harness.runs import Executor, Worker, check_backend

# A worker that has not heartbeated for this long is not counted as running.
ACTIVE_WITHIN = timedelta(seconds=10)
POLL_S = 0.5


def load_executor(spec: str | None) -> Executor:
    return runqueue.load_executor(spec, settings())


def check_sandbox() -> str:
    """The backend that will run, and its isolation; a one-line failure when none works."""
    cfg = settings()
    backend, ok, detail = check_backend(cfg)
    if backend is None:
        raise fail(f"sandbox {cfg.sandbox_backend!r} is not usable: {detail}")
    if not ok:
        last = [line for line in str(detail).splitlines() if line.strip()][-1:] or ["no reason"]
        raise fail(f"sandbox {backend.name!r} is not usable: {last[0].strip()}")
    return f"{backend.name} ({detail})"


@click.command()
@click.option("-c", "--concurrency", type=click.IntRange(min=0), default=0,
              help="Runs at once (default: HARNESS_RUN_CONCURRENCY, else one per CPU).")
@click.option("--executor", "executor_spec", hidden=True, metavar="MODULE:FUNCTION",
              help="Execute runs with this function instead of the sandbox.")
def worker(concurrency: int, executor_spec: str | None) -> None:
    """Execute queued test runs in the foreground until SIGTERM or Ctrl-C.

    Runs a dead worker left running are re-queued at start. The first signal
    finishes the runs in flight, a second puts them back in the queue.
    """
    setup.migrate(engine())
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("harness.runs").setLevel(logging.INFO)
    executor = load_executor(executor_spec)
    where = "custom executor " + executor_spec if executor_spec else check_sandbox()
    cfg = settings()
    if cfg.redis_url:
        from harness.runs import distributed

        slots = concurrency or cfg.run_concurrency or 1
        click.echo(f"worker: {slots} RQ worker(s) on queue {distributed.QUEUE_NAME} "
                   f"at {cfg.redis_url}, runs on {where}", err=True)
        distributed.work(cfg, concurrency=slots, executor_spec=executor_spec)
        return
    from harness import webhooks

    # With REDIS_URL the run sweeper's process sends them (RQ forks, so no threads here).
    sender = webhooks.start_delivery_loop(session_factory(), cfg.webhook_poll_ms)
    done_log = logging.getLogger("harness.runs")

    def on_done(run_id: int, status: str) -> None:
        done_log.info("run %d: %s", run_id, status)

    w = Worker(session_factory(), executor,
               concurrency=concurrency or cfg.run_concurrency, on_done=on_done)
    click.echo(f"worker {w.id}: {w.concurrency} run(s) at once on {where}", err=True)
    try:
        completed = w.run(install_signals=True)
    finally:
        if sender is not None:
            sender.stop()
    click.echo(f"worker {w.id}: stopped after {completed} run(s)", err=True)


def _describe(counts: dict[str, int]) -> str:
    statuses = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in sorted(counts.items())
                         if k.startswith("status:"))
    parts = [f"done {counts['done']}" + (f" ({statuses})" if statuses else ""),
             f"running {counts['running']}", f"queued {counts['queued']}"]
    if counts["none"]:
        parts.append(f"not queued {counts['none']}")
    return ", ".join(parts)


def _project(slug: str) -> Project:
    with session() as s:
        return accounts.project_by_slug(s, slug)


def _counts(project: Project) -> dict[str, int]:
    with session() as s:
        return runqueue.project_counts(s, project)


def _worker_seen(grace_s: float) -> bool:
    """Whether another worker is processing runs: one heartbeats, or claims within grace_s."""
    deadline = time.monotonic() + grace_s
    while True:
        with session() as s:
            if runqueue.worker_active(s, ACTIVE_WITHIN):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


@click.command()
@click.argument("project_slug", metavar="PROJECT")
@click.option("--wait", is_flag=True,
              help="Queue missing runs, then show progress until none is queued or running; "
                   "processes them here when no worker is running.")
@click.option("--executor", "executor_spec", hidden=True, metavar="MODULE:FUNCTION")
def runs(project_slug: str, wait: bool, executor_spec: str | None) -> None:
    """Counts of PROJECT's test runs by state and status."""
    setup.migrate(engine())
    project = _project(project_slug)
    if not project.tests_enabled:
        click.echo(f"{project_slug}: tests are switched off for this project")
        return
    if not wait:
        click.echo(f"{project_slug}: {_describe(_counts(project))}")
        return
    with session() as s:
        added = runqueue.enqueue_project(s, project)
    if added:
        click.echo(f"queued {added} missing run(s)", err=True)
    _wait(project, executor_spec)
    click.echo(f"{project_slug}: {_describe(_counts(project))}")


def _wait(project: Project, executor_spec: str | None) -> None:
    counts = _counts(project)
    total = counts["done"] + counts["running"] + counts["queued"]
    inline: Worker | None = None
    thread = None
    mode = ""
    poll = POLL_S
    with click.progressbar(length=total, label=f"runs of {project.slug}", file=sys.stderr,
                           show_pos=True) as bar:
        bar.update(counts["done"])
        shown = counts["done"]
        try:
            while counts["queued"] or counts["running"]:
                if thread is None or not thread.is_alive():
                    if _worker_seen(grace_s=0 if mode else 1.5):
                        if mode != "worker":
                            click.echo(" a worker is processing the runs", err=True)
                            mode = "worker"
                    else:
                        if mode != "here":
                            click.echo(" no worker is running: processing the runs here",
                                       err=True)
                            mode = "here"
                        inline = Worker(session_factory(), load_executor(executor_spec),
                                        concurrency=settings().run_concurrency,
                                        project_id=project.id, until_idle=True)
                        thread = inline.start_background()
                time.sleep(poll)
                began = time.monotonic()
                counts = _counts(project)
                poll = max(POLL_S, 2 * (time.monotonic() - began))  # big projects: poll less
                bar.update(max(counts["done"] - shown, 0))
                shown = max(shown, counts["done"])
        except KeyboardInterrupt:
            if inline is not None and thread is not None:
                inline.abort()  # its runs in flight go back to the queue
                thread.join(5)
            raise
    if thread is not None:
        thread.join(10)


COMMANDS: list[click.Command] = [worker, runs]
