"""Database set-up, the work that follows an import, and the demo data."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from harness.errors import Conflict
from harness.settings import DEFAULT_MAX_FILE_BYTES

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from harness import importer
    from harness.models import Project

# SQLAlchemy, the models and the task file's schema load with the functions that use them:
# `harness serve` checks the schema before it answers, and on SQLite needs none of them for
# that (ensure_schema).

MIGRATIONS = Path(__file__).parent / "migrations"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HEAD = "0015"
"""The newest migration; tests/test_migrations.py checks it is Alembic's head."""


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def schema_revision(engine: Engine) -> str | None:
    """The database's migration revision; None for a database without one."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def migrate(engine: Engine, say: Callable[[str], object] | None = None) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already.

    A database at HEAD is recognised with one query, without loading Alembic (a
    third of `harness serve`'s start-up otherwise). After an upgrade, tasks with work
    but no kept figures (harness.stats) get them, and annotation versions without a
    stored record body (harness.records) get it; `say` is told when that will take a
    while (a line for the terminal of `harness init` or `serve`).
    """
    before = schema_revision(engine)
    if before == HEAD:
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config(engine)
    if before is not None and before not in {
            script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}:
        raise Conflict(
            "unknown_schema",
            f"the database is at migration {before!r}, which this review-harness does not "
            f"know (its newest is {HEAD!r}): a newer release made or upgraded it. Run that "
            "release, or restore a backup taken before the upgrade.", field="database")
    command.upgrade(config, "head")
    if before is not None:
        # an older database: its work gets its kept task figures and its versions their
        # stored records now, not on the first page or export that reads them
        from sqlalchemy.orm import Session

        from harness import stats
        from harness.exports.jsonl import count_missing_records, fill_missing_records

        with Session(engine) as session:
            stats.fill_all(session)
            missing = count_missing_records(session)
            if missing and say is not None:
                say(f"upgraded the database from migration {before} to {HEAD}: storing the "
                    f"exported records of {missing:,} annotation versions (once)...")
            start = time.monotonic()
            fill_missing_records(session)
            session.commit()
            if missing and say is not None:
                say(f"stored in {time.monotonic() - start:.1f} s")


SQLITE_FILE_URL = "sqlite:///"
"""The one SQLite URL form `sqlite_file_revision` reads (what Settings makes of a data
dir): `sqlite:///` and a file path, without query, escapes or fragment."""


def sqlite_file_revision(database_url: str) -> str | None:
    """The migration revision of a SQLite file database, read with the standard library's
    sqlite3: SQLAlchemy was about half of what `harness serve` loaded before its first
    answer (issue 13's cold start).

    None when this cannot tell: another database or URL form, no such file, no revision
    table, a file that is not a database. The caller then asks `migrate`, which upgrades
    or refuses as always. The file is opened read-write without creating it, and only
    read; its pragmas are the engine's business when it connects.
    """
    path = database_url.removeprefix(SQLITE_FILE_URL)
    if (path == database_url or not path or path == ":memory:"
            or any(c in path for c in "?%#")):
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=30)
    except sqlite3.Error:  # no such file (or no directory): `migrate` creates it
        return None
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return str(row[0]) if row is not None else None


def ensure_schema(database_url: str, engine: Callable[[], Engine],
                  say: Callable[[str], object] | None = None) -> None:
    """`migrate`, as a server starts: a SQLite file already at HEAD is recognised without
    SQLAlchemy, which then loads with the first request that reads the database instead
    of before the first answer. Anything else (an older or unknown revision, a new file,
    PostgreSQL) goes through `migrate(engine())`: the same upgrade, the same refusals."""
    if sqlite_file_revision(database_url) == HEAD:
        return
    migrate(engine(), say)


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
    from sqlalchemy import select

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
    from sqlalchemy import select

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
        else:  # a new password ends the sessions made with the old one
            accounts.set_password(session, user, password)
            accounts.add_member(session, project, user)
        logins.append((name, role, password))
    session.flush()
    return logins
