"""Database set-up, the work that follows an import, and the demo data."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from harness.settings import DEFAULT_MAX_FILE_BYTES

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.orm import Session

    from harness import importer
    from harness.models import Project

# The models and the task file's schema load with the functions that use them, not with
# `migrate`: `harness serve` checks the schema before it answers, and needs neither for that.

MIGRATIONS = Path(__file__).parent / "migrations"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HEAD = "0011"
"""The newest migration; tests/test_migrations.py checks it is Alembic's head."""


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def schema_revision(engine: Engine) -> str | None:
    """The database's migration revision; None for a database without one."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already.

    A database at HEAD is recognised with one query, without loading Alembic (a
    third of `harness serve`'s start-up otherwise). After an upgrade, tasks with work
    but no kept figures (harness.stats) get them.
    """
    before = schema_revision(engine)
    if before == HEAD:
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")
    if before is not None:  # an older database: its work gets its kept task figures now,
        from sqlalchemy.orm import Session  # not on the first page a lead opens

        from harness import stats

        with Session(engine) as session:
            stats.fill_all(session)
            session.commit()


def after_import(
    session: Session,
    project: Project,
    report: importer.ImportReport,
    *,
    progress: bool,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    checkpoint: Callable[[], None] | None = None,
) -> None:
    """Test runs queued when the project has tests, then hints for every new content.

    `checkpoint` (a commit) is called after queuing and after each analysis batch, so
    a caller beside a live server never holds the write lock for the whole analysis.
    """
    from harness.analysis.store import analyze_many

    _queue_runs(session, project, report)
    if checkpoint is not None:
        checkpoint()
    analyze_many(
        session,
        _analysis_items(session, report.task_ids),
        progress=progress,
        max_bytes=max_bytes,
        on_batch=checkpoint,
    )


def _queue_runs(session: Session, project: Project, report: importer.ImportReport) -> None:
    if project.tests_enabled:
        from harness.errors import HarnessError
        from harness.runs import enqueue_for_tasks

        try:
            enqueue_for_tasks(session, project, report.task_ids)
        except HarnessError as exc:  # the import stands; `harness runs` repeats the reason
            logging.getLogger("harness.runs").warning("no test runs queued: %s", exc)


def _analysis_items(
    session: Session, task_ids: list[int]
) -> Iterator[tuple[str, dict[str, str], str, dict[str, str]]]:
    """(content hash, files, language, tests) of every candidate, 500 tasks at a time."""
    from harness.models import Candidate, Task

    for start in range(0, len(task_ids), 500):
        rows = session.execute(
            select(Candidate.content_hash, Candidate.files, Task.language, Task.tests)
            .join(Task)
            .where(Task.id.in_(task_ids[start : start + 500]))
        )
        yield from ((digest, files, language, tests) for digest, files, language, tests in rows)


DEMO_USERS = [("lead", "lead"), ("alice", "annotator"), ("bob", "annotator"), ("lab", "lab")]


def load_demo(session: Session, *, progress: bool) -> list[tuple[str, str, str]]:
    """Demo project and users. Safe to run twice: existing users get a fresh password."""
    from harness import accounts, importer, projects
    from harness.models import Project, User

    project = session.scalars(select(Project).where(Project.slug == "demo")).one_or_none()
    if project is None:
        project, task_path = projects.create_project(session, EXAMPLES / "demo" / "project.yaml")
        assert task_path is not None
        report = importer.import_tasks(session, project, task_path)
        after_import(session, project, report, progress=progress)
    logins = []
    for name, role in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        user = session.scalars(select(User).where(User.name == name)).one_or_none()
        if user is None:
            user = accounts.add_user(session, name, role, password=password, projects=["demo"])
        else:
            user.password_hash = accounts.hash_password(password)
            accounts.add_member(session, project, user)
        logins.append((name, role, password))
    session.flush()
    return logins
