"""Background imports whose state lives in the database, so a restart cannot lose them.

A job moves queued -> running -> analysing -> done, or to failed (with every error
line), in short transactions of its own, except one step: the import itself is one
transaction, and the same transaction moves the job to `analysing` with its counts.
So what the row says is what happened:

- `running` (or `queued`) when its process died: the import's transaction never
  committed, nothing was imported;
- `analysing`: the tasks are in; test runs and hints were being set up.

The process running a job is its owner (`host:pid:start`, sandboxes.owners). A job
in one of those states whose owner is dead is marked `interrupted` (and the state
it was in kept in `interrupted_in`) when its page is next read.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from harness import audit, importer, setup
from harness.db import session_scope
from harness.errors import HarnessError, NotFound
from harness.models import ImportJob, Project, utcnow
from sandboxes import owners

log = logging.getLogger("harness.imports")
LIVE = ("queued", "running", "analysing")
RECENT = 10


def new_token() -> str:
    return uuid.uuid4().hex


def create_job(session: Session, project: Project, user_id: int | None, name: str,
               lines: int, token: str | None = None) -> ImportJob:
    """A queued job owned by this process; flushes (the caller commits before starting it)."""
    job = ImportJob(token=token or new_token(), project_id=project.id, user_id=user_id,
                    name=name[:255], lines=lines, state="queued", owner=owners.owner_id(),
                    errors=[])
    session.add(job)
    session.flush()
    return job


def _job(session: Session, token: str) -> ImportJob:
    job = session.scalars(select(ImportJob).where(ImportJob.token == token)).one()
    return job


def _fail(factory: sessionmaker[Session], token: str, errors: list[str]) -> None:
    with session_scope(factory) as s:
        job = _job(s, token)
        job.state = "failed"
        job.errors = errors
        job.finished_at = utcnow()


def run_job(factory: sessionmaker[Session], token: str, path: Path, *, update: bool,
            max_bytes: int, progress: Callable[[int], None] | None = None) -> None:
    """The job's work, in sessions of its own (a thread's target). Never raises."""
    try:
        with session_scope(factory) as s:
            job = _job(s, token)
            job.state = "running"
            job.owner = owners.owner_id()
        with session_scope(factory) as s:  # one transaction: the tasks and the job's counts
            job = _job(s, token)
            project = s.get(Project, job.project_id)
            assert project is not None
            report = importer.import_tasks(s, project, path, update_existing=update,
                                           max_bytes=max_bytes, progress=progress)
            audit.record(s, "project.import", user_id=job.user_id, project_id=project.id,
                         object_type="project", object_id=project.id, file=job.name,
                         created=report.created, updated=report.updated)
            job.state = "analysing"
            job.created, job.updated = report.created, report.updated
            job.candidates = report.candidates
        with session_scope(factory) as s:
            job = _job(s, token)
            project = s.get(Project, job.project_id)
            assert project is not None
            setup.after_import(s, project, report, progress=False, max_bytes=max_bytes,
                               checkpoint=s.commit)
            job = _job(s, token)
            job.state = "done"
            job.finished_at = utcnow()
    except HarnessError as exc:
        prefix = str(path.parent) + "/"
        _fail(factory, token, [line.replace(prefix, "") for line in (exc.errors or [str(exc)])])
    except Exception as exc:  # the page says so instead of spinning forever
        log.exception("import %s failed", token)
        _fail(factory, token, [f"the import stopped: {type(exc).__name__}; it has been logged"])


def job_in(session: Session, project: Project, token: str) -> ImportJob:
    """The project's job, marked interrupted first when its owner died mid-way."""
    job = session.scalars(select(ImportJob).where(
        ImportJob.token == token, ImportJob.project_id == project.id)).one_or_none()
    if job is None:
        raise NotFound("not_found", "no such import in this project")
    _check_owner(job)
    session.flush()
    return job


def recent_jobs(session: Session, project: Project, limit: int = RECENT) -> list[ImportJob]:
    jobs = list(session.scalars(select(ImportJob).where(ImportJob.project_id == project.id)
                                .order_by(ImportJob.id.desc()).limit(limit)))
    for job in jobs:
        _check_owner(job)
    session.flush()
    return jobs


def _check_owner(job: ImportJob) -> None:
    if job.state in LIVE and not owners.owner_alive(job.owner):
        job.interrupted_in = job.state
        job.state = "interrupted"
        job.finished_at = utcnow()
