"""Leases: how long an annotator holds a task's slot, expiry, and renewal on every save.

An active assignment holds one of its task's k slots until its lease runs out; every
save or heartbeat renews it (`renew_lease`). A claim first expires lapsed leases
(`expire_leases`), which returns their slots to the pool. An expired assignment comes
back to its annotator, draft and all, while its slot is still free. Claims and the rest
of the queue are in harness.assignments.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, and_, bindparam, func, inspect, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from harness import settings
from harness.db import execute_core
from harness.models import Assignment, Project, Task, utcnow

HOLDING = ("active", "submitted")
"""Assignment states that hold one of a task's k slots."""

ASSIGNMENTS: Table = Assignment.__table__  # type: ignore[assignment]
"""The table, for the Core statements of the hot paths (renew_lease's `_EXTEND` says why)."""
TASKS: Table = Task.__table__  # type: ignore[assignment]


def lease_minutes(session: Session, project: Project) -> float:
    """The project's lease, else the settings' (HARNESS_LEASE_MINUTES)."""
    value = (project.settings or {}).get("lease_minutes")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return settings.lease_minutes(session)


def expire_leases(session: Session, now: datetime | None = None) -> int:
    """Active assignments past their lease become expired; their tasks return to the pool."""
    now = now or utcnow()
    if session.get_bind().dialect.name != "postgresql":
        # SQLite: this UPDATE takes the write lock, which serialises every writer
        result = session.execute(_EXPIRE, {"now": now})
        return int(getattr(result, "rowcount", 0) or 0)
    # PostgreSQL: the lapsed rows that another transaction holds (another claim expiring
    # them, their annotator's save renewing them) are skipped, never waited for;
    # concurrent claims that each locked every lapsed row in their own order deadlocked
    # under load with short leases. A skipped row still counts as holding its slot until
    # its own transaction ends, which errs on the side of fewer than k. Expiring a row
    # updates its task's figures (migration 0013's trigger), so the tasks are locked
    # first, in id order: two claims expiring leases of the same tasks, each its share,
    # would otherwise lock those tasks in crossing orders.
    lapsed = execute_core(session, _LAPSED, {"now": now}).all()
    if not lapsed:
        return 0
    execute_core(session, _LOCK_TASKS, {"task_ids": sorted({task for _, task in lapsed})})
    result = execute_core(session, _EXPIRE_THESE, {"ids": [row_id for row_id, _ in lapsed]})
    return int(result.rowcount or 0)


_LAPSED_WHERE = (ASSIGNMENTS.c.state == "active",
                 ASSIGNMENTS.c.lease_expires_at < bindparam("now"))
_EXPIRE = (
    update(ASSIGNMENTS)
    .where(ASSIGNMENTS.c.id.in_(select(ASSIGNMENTS.c.id).where(*_LAPSED_WHERE)))
    .values(state="expired")
)
"""expire_leases' statements, built once on the tables (renew_lease's `_EXTEND` says why):
SQLite's, then PostgreSQL's three."""
_LAPSED = (select(ASSIGNMENTS.c.id, ASSIGNMENTS.c.task_id).where(*_LAPSED_WHERE)
           .order_by(ASSIGNMENTS.c.id).with_for_update(skip_locked=True))
_LOCK_TASKS = (select(TASKS.c.id).where(TASKS.c.id.in_(bindparam("task_ids", expanding=True)))
               .order_by(TASKS.c.id).with_for_update(key_share=True))
_EXPIRE_THESE = (update(ASSIGNMENTS)
                 .where(ASSIGNMENTS.c.id.in_(bindparam("ids", expanding=True)),
                        ASSIGNMENTS.c.state == "active")
                 .values(state="expired"))


ASSIGNMENT_COLUMNS = {attr.key: attr.columns[0]
                      for attr in inspect(Assignment).column_attrs}
"""The assignment's columns by attribute name, for statements RETURNING the whole row."""
_a = ASSIGNMENTS.c
_EXTEND = (
    update(ASSIGNMENTS)
    .where(_a.id == bindparam("assignment_id"), _a.state == "active",
           _a.lease_expires_at.is_(None) | (_a.lease_expires_at >= bindparam("now")))
    .values(lease_expires_at=bindparam("until"))
    .returning(*ASSIGNMENT_COLUMNS.values())
)
"""Extend a lease still running, RETURNING every column of the assignment.

Built once, like the other statements of every write request (`own_in_project`,
`harness.projects.project_for`, web/auth.py's user, `annotate.drafts.next_revision`):
building a statement costs more CPU than SQLite takes to run it, and a statement
built once also keeps its cache key. On the table, not the entity: an ORM UPDATE
computes its cache key again at every execution and takes the ORM's bulk path."""


def renew_lease(
    session: Session,
    assignment: Assignment,
    project: Project,
    *,
    now: datetime | None = None,
) -> bool:
    """Extend an active lease; revive an expired one if its slot is still free.

    Returns False when the assignment cannot be worked on any more (skipped, or
    expired and the task has been taken by others in the meantime).
    """
    now = now or utcnow()
    lease = timedelta(minutes=lease_minutes(session, project))
    if assignment.state == "active":
        # Checked again by the UPDATE itself: the row read at the start of the request may
        # be stale (SQLite reads outside the write lock; PostgreSQL reads without locking),
        # and a claim may have expired it and given its slot away since. Extending it from
        # the stale copy would hold the task over k (seen under load with short leases).
        # RETURNING the row's columns refreshes the session's copy in the same statement
        # (a refresh would be a second one, and would unload the loaded task).
        extended = execute_core(
            session, _EXTEND, {"assignment_id": assignment.id, "now": now, "until": now + lease}
        ).first()
        if extended is not None:
            for key, value in zip(ASSIGNMENT_COLUMNS, extended, strict=True):
                set_committed_value(assignment, key, value)
            return True
        session.refresh(assignment)
    if assignment.state in ("active", "expired"):
        # PostgreSQL: serialise with claims of this task, as claim_next does; SQLite
        # ignores FOR UPDATE (its write lock is already held by expire_leases or a write).
        # The assignment row first, then the task: the order a claim takes them in
        # (expire_leases, then the task), so the two cannot deadlock.
        session.execute(select(Assignment.id).where(Assignment.id == assignment.id)
                        .with_for_update())
        session.execute(select(Task.id).where(Task.id == assignment.task_id).with_for_update())
        other = aliased(Assignment)
        revived = session.execute(
            update(Assignment)
            .where(
                Assignment.id == assignment.id,
                Assignment.state.in_(("active", "expired")),
                select(func.count(other.id))
                .where(
                    and_(
                        other.task_id == assignment.task_id,
                        other.state.in_(HOLDING),
                        other.id != assignment.id,
                    )
                )
                .scalar_subquery()
                < project.overlap,
            )
            .values(state="active", lease_expires_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        session.refresh(assignment)
        return bool(getattr(revived, "rowcount", 0))
    return assignment.state == "submitted"
