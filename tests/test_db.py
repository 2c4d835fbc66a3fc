"""harness.db.execute_core: a statement past the ORM's per-statement work is still one of the
session's, on both databases: it sees the session's pending changes, and it is undone when
the session's transaction is."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from harness.db import execute_core
from harness.models import Project


def test_a_core_read_sees_the_sessions_pending_changes(db: Session, make_project) -> None:  # type: ignore[no-untyped-def]
    project = make_project("p")
    project.name = "renamed, not flushed yet"
    name = execute_core(db, select(Project.name).where(Project.id == project.id)).scalar_one()
    assert name == "renamed, not flushed yet"


def test_a_core_write_is_undone_with_the_sessions_transaction(
        db: Session, make_project, session_factory: sessionmaker[Session]) -> None:  # type: ignore[no-untyped-def]
    project = make_project("p")
    db.commit()
    execute_core(db, update(Project).where(Project.id == project.id).values(name="written"))
    seen = execute_core(db, select(Project.name).where(Project.id == project.id)).scalar_one()
    assert seen == "written"  # the session's own transaction sees its write
    db.rollback()
    with session_factory() as other:
        assert other.scalar(select(Project.name).where(Project.id == project.id)) == "Project p"
