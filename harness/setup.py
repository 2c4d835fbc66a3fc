"""Database set-up, the work that follows an import, and the demo data."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from harness import accounts, importer, projects
from harness.models import Candidate, Project, Task, User

MIGRATIONS = Path(__file__).parent / "migrations"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already."""
    command.upgrade(alembic_config(engine), "head")


def after_import(
    session: Session, project: Project, report: importer.ImportReport, *, progress: bool
) -> None:
    """Hints for every new candidate content; test runs queued when the project has tests."""
    from harness.analysis.store import analyze_many

    analyze_many(session, _analysis_items(session, report.task_ids), progress=progress)


def _analysis_items(
    session: Session, task_ids: list[int]
) -> Iterator[tuple[str, dict[str, str], str, dict[str, str]]]:
    """(content hash, files, language, tests) of each distinct candidate, in batches."""
    seen: set[str] = set()
    for start in range(0, len(task_ids), 500):
        rows = session.execute(
            select(Candidate.content_hash, Candidate.files, Task.language, Task.tests)
            .join(Task)
            .where(Task.id.in_(task_ids[start : start + 500]))
        ).all()
        for digest, files, language, tests in rows:
            if digest not in seen:
                seen.add(digest)
                yield digest, files, language, tests


DEMO_USERS = [("lead", "lead"), ("alice", "annotator"), ("bob", "annotator"), ("lab", "lab")]


def load_demo(session: Session, *, progress: bool) -> list[tuple[str, str, str]]:
    """Demo project and users. Safe to run twice: existing users get a fresh password."""
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
