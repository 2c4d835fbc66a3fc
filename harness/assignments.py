"""The work queue: who gets which task next, leases, skips, and why the queue is empty.

Rules: a task takes at most `project.overlap` annotators (active and submitted
assignments count; expired and skipped ones free their slot); an annotator
never gets the same task twice (the unique (task_id, user_id) constraint holds
that line even if a check here were wrong); an active assignment holds its slot
until its lease runs out, and every save or heartbeat renews the lease
(harness.leases).

Concurrency: on SQLite the first statement of a claim is the lease-expiry
UPDATE, which takes the database's write lock for the rest of the transaction,
so the count check and the insert that follow cannot interleave with another
claim. On PostgreSQL the task row is locked (SELECT ... FOR UPDATE) before its
count is checked. The count is checked again after the insert in both cases.
tasks.holding and tasks.is_full (kept by triggers, migration 0013) only guide the search.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, exists, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, joinedload

from harness import audit, stats
from harness.errors import Conflict, InvalidInput, NotFound
from harness.leases import HOLDING, expire_leases, lease_minutes, renew_lease
from harness.models import (
    Annotation,
    Assignment,
    Candidate,
    Project,
    ProjectMember,
    Rubric,
    Task,
    User,
    utcnow,
)
from harness.projects import is_member, project_for
from harness.qualification import claim_assessment, work_scope
from harness.rubric import remember_hash

MAX_SKIP_REASON = 2000
SCAN = 50
"""How many open tasks one claim looks at before giving up on a crowded project."""
BUSY_WAIT = 5.0
BUSY_POLL = 0.02
"""PostgreSQL: how long a claim keeps trying tasks that other claims hold (seconds), and
how often."""


@dataclass(frozen=True)
class Claim:
    """What the queue answered: an assignment, or the reason there is none."""

    assignment: Assignment | None
    reason: str | None = None  # a key of MESSAGES
    resumed: bool = False

    MESSAGES = {
        "no_projects": "You are not a member of any active project yet. A project lead adds you.",
        "all_done": "There is nothing left for you: every task is done by you, "
        "skipped by you, or already has all the reviews it needs.",
        "taken": "All remaining tasks are being reviewed by others right now. "
        "Come back later: abandoned tasks return to the queue when their lease runs out.",
        "paused": "This project is not handing out tasks at the moment.",
        "member_paused": "Your work on this project is paused (qualification or gold "
        "accuracy). A project lead can lift the pause.",
        "tier": "This project needs a higher qualification tier than yours.",
        "assessment_done": "You have answered every assessment task; your result is on "
        "the project's qualification page.",
    }

    @property
    def message(self) -> str:
        return self.MESSAGES.get(self.reason or "", "")


def display_order(task_id: int, candidate_ids: list[int], nth: int) -> list[int]:
    """The order shown to the nth annotator of a task.

    A per-task seeded shuffle, rotated by nth: the first len(candidates)
    annotators of a task all see different orders and every candidate appears
    in every position equally often, which balances position bias.
    """
    ids = sorted(candidate_ids)
    seed = int.from_bytes(hashlib.sha256(f"order:{task_id}".encode()).digest()[:8], "big")
    random.Random(seed).shuffle(ids)  # noqa: S311 - ordering, not security
    if not ids:
        return ids
    shift = nth % len(ids)
    return ids[shift:] + ids[:shift]


# the statements of a claim that take a task id only, built once (renew_lease says why)
_HOLDING_COUNT = select(func.count(Assignment.id)).where(
    Assignment.task_id == bindparam("task_id"), Assignment.state.in_(HOLDING))
_CANDIDATE_IDS = select(Candidate.id).where(Candidate.task_id == bindparam("task_id"))
_ASSIGNED_COUNT = select(func.count(Assignment.id)).where(
    Assignment.task_id == bindparam("task_id"))
_TRY_LOCK_TASK = (select(Task.id).where(Task.id == bindparam("task_id"))
                  .with_for_update(skip_locked=True))


def _holding_count(session: Session, task_id: int) -> int:
    return int(session.scalar(_HOLDING_COUNT, {"task_id": task_id}) or 0)


def _open_task_ids(session: Session, project: Project, user_id: int, limit: int,
                   exclude: Sequence[int] = (), prefer_gold: bool | None = None) -> list[int]:
    """The first tasks (project order) fewer than k hold and the user never had, by
    ix_tasks_project_open (tasks.is_full, kept by the database: migration 0013); the full
    ones are not read. _try_claim counts again under the task's lock."""
    mine = exists().where(Assignment.task_id == Task.id, Assignment.user_id == user_id)
    query = select(Task.id).where(Task.project_id == project.id, Task.is_full == false(),
                                  ~mine)
    if exclude:
        query = query.where(Task.id.not_in(list(exclude)))
    if prefer_gold is not None:  # gold at the project's rate (harness.qualification)
        query = query.order_by(Task.is_gold.desc() if prefer_gold else Task.is_gold.asc())
    return list(session.scalars(query.order_by(Task.position, Task.id).limit(limit)))


def _why_empty(session: Session, project: Project, user_id: int) -> str:
    """all_done, or taken when a task the user never had has fewer than k submitted but
    is leased by others: such a task is open, or has an active assignment; both found by
    index (counting every task's submissions read the whole project on every claim)."""
    if _open_task_ids(session, project, user_id, 1):
        return "taken"
    submitted = (select(func.count(Assignment.id)).correlate(Task)
                 .where(Assignment.task_id == Task.id, Assignment.state == "submitted")
                 .scalar_subquery())
    held = aliased(Assignment)
    leased = session.scalar(
        select(Task.id).join(held, held.task_id == Task.id)
        .where(held.project_id == project.id, held.state == "active",
               ~exists().where(Assignment.task_id == Task.id, Assignment.user_id == user_id),
               submitted < project.overlap)
        .limit(1))
    return "taken" if leased is not None else "all_done"


def active_assignment(
    session: Session, user_id: int, project: Project | None = None
) -> Assignment | None:
    if project is not None:  # every claim asks this: built once
        return session.scalars(_ACTIVE_IN_PROJECT, {"user_id": user_id,
                                                    "project_id": project.id}).first()
    query = select(Assignment).where(Assignment.user_id == user_id, Assignment.state == "active")
    return session.scalars(query.order_by(Assignment.created_at).limit(1)).first()


_ACTIVE_IN_PROJECT = (
    select(Assignment)
    .where(Assignment.user_id == bindparam("user_id"), Assignment.state == "active",
           Assignment.project_id == bindparam("project_id"))
    .order_by(Assignment.created_at).limit(1)
)


def claim_next(
    session: Session,
    user_id: int,
    project: Project,
    *,
    now: datetime | None = None,
) -> Claim:
    """The user's next assignment in this project: their active one, their own lapsed
    one if its slot is still free, or a new one; else the reason there is none."""
    given = now
    now = now or utcnow()
    expire_leases(session, now)  # first: takes SQLite's write lock (see module docstring)
    if given is None:
        now = utcnow()  # the lock may have taken seconds: a lease starts when it is granted
    if project.state != "active":
        return Claim(None, "paused")
    scope = work_scope(session, project, user_id)
    if scope.blocked is not None:
        return Claim(None, scope.blocked)
    lease = timedelta(minutes=lease_minutes(session, project))
    current = active_assignment(session, user_id, project)
    if current is not None:
        current.lease_expires_at = now + lease
        session.flush()
        return Claim(current, resumed=True)
    if scope.assessment:  # the starter assessment first, and nothing else until graded
        first = claim_assessment(session, project, user_id, now + lease)
        return Claim(first) if first is not None else Claim(None, "assessment_done")
    lapsed = _own_lapsed(session, user_id, project)
    if lapsed is not None and renew_lease(session, lapsed, project, now=now):
        return Claim(lapsed, resumed=True)
    # PostgreSQL: a task another claim holds right now is passed over, never waited for,
    # and tried again after the pass until it is free or BUSY_WAIT runs out. Waiting on
    # its lock queued every claim of a burst behind the first task, and each waiter kept
    # that lock to its own commit while it went on to the next task: 50 annotators
    # starting together took seconds per claim (p95 8-15 s in bench/load.py with 2
    # server processes). Never blocking on a lock also means two claims, each holding a
    # task found full, cannot deadlock waiting for each other's. Trying the busy ones
    # again keeps a free slot from being reported taken. SQLite ignores FOR UPDATE: its
    # write lock serialises claims, and nothing is ever busy.
    tasks = _open_task_ids(session, project, user_id, SCAN, exclude=scope.exclude,
                           prefer_gold=scope.prefer_gold)
    deadline = time.monotonic() + BUSY_WAIT
    while tasks:
        busy = []
        for task_id in tasks:
            if session.execute(_TRY_LOCK_TASK, {"task_id": task_id}).first() is None:
                busy.append(task_id)
                continue
            assignment = _try_claim(session, project, task_id, user_id, now + lease)
            if assignment is not None:
                return Claim(assignment)
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(BUSY_POLL)
        tasks = busy
    return Claim(None, _why_empty(session, project, user_id))


def _own_lapsed(session: Session, user_id: int, project: Project) -> Assignment | None:
    """The user's own lapsed lease, draft and all, if its task still has a free slot."""
    return session.scalars(_OWN_LAPSED, {"user_id": user_id, "project_id": project.id,
                                         "overlap": project.overlap}).first()


_other = aliased(Assignment)
_OWN_LAPSED = (
    select(Assignment)
    .where(
        Assignment.user_id == bindparam("user_id"),
        Assignment.project_id == bindparam("project_id"),
        Assignment.state == "expired",
        select(func.count(_other.id))
        .where(
            _other.task_id == Assignment.task_id,
            _other.state.in_(HOLDING),
            _other.id != Assignment.id,
        )
        .correlate(Assignment)
        .scalar_subquery() < bindparam("overlap"),
    )
    .order_by(Assignment.lease_expires_at.desc(), Assignment.id.desc())
    .limit(1)
)
"""_own_lapsed's statement, built once: every claim asks it."""


def _try_claim(session: Session, project: Project, task_id: int, user_id: int,
               lease_until: datetime) -> Assignment | None:
    """A new assignment of this task to the user, or None when the task filled up
    meanwhile (the count is checked again after the insert, in a savepoint). The caller
    holds the task's row lock (PostgreSQL), which serialises claims of the task."""
    if _holding_count(session, task_id) >= project.overlap:
        return None
    candidate_ids = list(session.scalars(_CANDIDATE_IDS, {"task_id": task_id}))
    nth = int(session.scalar(_ASSIGNED_COUNT, {"task_id": task_id}) or 0)
    assignment = Assignment(
        project_id=project.id,
        task_id=task_id,
        user_id=user_id,
        state="active",
        display_order=display_order(task_id, candidate_ids, nth),
        lease_expires_at=lease_until,
    )
    try:
        with session.begin_nested():
            session.add(assignment)
            session.flush()
            if _holding_count(session, task_id) > project.overlap:
                raise _Overfull
    except (_Overfull, IntegrityError):
        return None
    return assignment


class _Overfull(Exception):
    pass


def member_projects(session: Session, user_id: int, *, admin: bool = False) -> list[Project]:
    query = select(Project).where(Project.state == "active").order_by(Project.name)
    if not admin:
        query = query.join(ProjectMember).where(ProjectMember.user_id == user_id)
    return list(session.scalars(query))


def claim_any(
    session: Session,
    user_id: int,
    *,
    admin: bool = False,
    now: datetime | None = None,
) -> Claim:
    """The next assignment across every active project of the user, in name order.

    An active assignment in any of those projects comes back first: one task at a time.
    """
    projects = member_projects(session, user_id, admin=admin)
    if not projects:
        return Claim(None, "no_projects")
    given = now
    now = now or utcnow()
    expire_leases(session, now)
    if given is None:
        now = utcnow()  # after the lock wait, as in claim_next
    by_id = {p.id: p for p in projects}
    current = session.scalars(
        select(Assignment)
        .where(
            Assignment.user_id == user_id,
            Assignment.state == "active",
            Assignment.project_id.in_(by_id),
        )
        .order_by(Assignment.created_at, Assignment.id)
        .limit(1)
    ).first()
    if current is not None:
        projects = [by_id[current.project_id]]
    reasons = []
    for project in projects:
        claim = claim_next(
            session, user_id, project, now=now
        )
        if claim.assignment is not None:
            return claim
        reasons.append(claim.reason)
    return Claim(None, "taken" if "taken" in reasons else "all_done")


def skip(session: Session, assignment: Assignment, reason: str) -> None:
    """Give the task back with a reason; it never comes back to this annotator."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("invalid", "say why you skip this task", field="reason")
    if len(reason) > MAX_SKIP_REASON:
        raise InvalidInput("invalid", f"at most {MAX_SKIP_REASON} characters", field="reason")
    if assignment.state == "submitted":
        raise Conflict("submitted", "a submitted task cannot be skipped", field="state")
    assignment.state = "skipped"
    assignment.skip_reason = reason
    assignment.lease_expires_at = None
    audit.record(session, "assignment.skip", user_id=assignment.user_id,
                 project_id=assignment.project_id, object_type="assignment",
                 object_id=assignment.id, reason=reason)
    session.flush()
    stats.refresh_task(session, assignment.project, assignment.task_id)


# --- reads the pages use ----------------------------------------------------------------


USER_CONTACT = 0x616374  # the advisory lock namespace of a user's active time ("act")

_others = aliased(Assignment)
_OTHERS_LAST = (select(func.max(_others.draft_saved_at))
                .where(_others.user_id == bindparam("user_id"),
                       _others.id != bindparam("assignment_id"))
                .scalar_subquery())
"""The user's last contact on any other assignment (ix_assignments_user_saved): a save's
active time is bounded by the time since then too (harness.annotate.drafts)."""


@cache
def _own_in_project(admin: bool, candidates: bool, saving: str | None = None
                    ) -> Select[Any]:
    """Built once: the project (if the user may see it), the user's assignment in it and
    the hash of the project's rubric; with `candidates`, the task's candidates too (one
    row each). `saving` (the dialect of a draft save or submit) adds the user's last
    contact on their other assignments and, on PostgreSQL, takes the user's advisory lock
    (USER_CONTACT) to the end of the transaction: the save's compare-and-set on that
    contact runs in a later statement, whose snapshot then sees every earlier save of
    this user committed, and no other can commit before this one does."""
    # every caller reads the task; a draft save (most of the writes) not these
    task = joinedload(Assignment.task).defer(Task.prompt).defer(Task.meta).defer(
        Task.gold_answer)
    columns: list[Any] = [Project, Assignment, Rubric.content_hash]
    if saving is not None:
        columns.append(_OTHERS_LAST)
    if saving == "postgresql":
        columns.append(select(func.pg_advisory_xact_lock(USER_CONTACT, bindparam("user_id")))
                       .scalar_subquery())
    query = (
        select(*columns)
        .join(Assignment, Assignment.project_id == Project.id)
        .join(Rubric, Rubric.id == Project.rubric_id)
        .where(Project.slug == bindparam("slug"), Assignment.id == bindparam("assignment_id"),
               Assignment.user_id == bindparam("user_id"))
        .options(task.joinedload(Task.candidates).defer(Candidate.meta) if candidates
                 else task)
    )
    return query if admin else query.where(is_member(bindparam("user_id")))


def own_in_project(session: Session, slug: str, assignment_id: int, *, user_id: int,
                   admin: bool, candidates: bool = False, saving: bool = False
                   ) -> tuple[Project, Assignment]:
    """The project if the user may see it (`project_for`) and the user's own assignment
    in it, in one statement (each statement's own work is a good part of a draft save's);
    with `candidates`, its task's candidates loaded in the same statement (a draft save
    and a submit check the draft against them). NotFound when the project or the
    assignment is missing, saying which."""
    dialect = session.get_bind().dialect.name if saving else None
    row = session.execute(_own_in_project(admin, candidates, dialect), {
        "slug": slug, "assignment_id": assignment_id, "user_id": user_id,
    }).unique().one_or_none()
    if row is None:
        project_for(session, slug, user_id=user_id, admin=admin)  # NotFound: the project
        raise NotFound("not_found", "no such assignment of yours in this project")
    project, assignment, rubric_hash = row[:3]
    remember_hash(session, project.rubric_id, rubric_hash)
    if saving:
        remember_contact(session, assignment, row[3], locked=dialect == "postgresql")
    return project, assignment


def remember_contact(session: Session, assignment: Assignment, others_last: datetime | None,
                     *, locked: bool) -> None:
    """Keep, for this transaction's save of the assignment, the user's last contact on
    their other assignments as read (`others_last`), and whether the user's advisory lock
    is held (PostgreSQL). harness.annotate.drafts.save_draft takes it back."""
    transaction = session.get_transaction()
    session.info["harness.contact"] = (transaction, assignment.id, others_last, locked)


def recalled_contact(session: Session, assignment: Assignment
                     ) -> tuple[bool, datetime | None, bool]:
    """(read?, the other assignments' last contact, user lock held?) of `remember_contact`
    in this transaction; the read is given once (a later save reads afresh)."""
    kept = session.info.get("harness.contact")
    transaction = session.get_transaction()
    if kept is None or kept[0] is not transaction or transaction is None:
        return False, None, False
    _, assignment_id, others_last, locked = kept
    session.info["harness.contact"] = (transaction, None, None, locked)
    return assignment_id == assignment.id, others_last, locked


def others_last_contact(session: Session, assignment: Assignment) -> datetime | None:
    """The user's last contact on any of their other assignments, read now."""
    return session.execute(select(_OTHERS_LAST), {
        "user_id": assignment.user_id, "assignment_id": assignment.id}).scalar_one()


def has_assignment(session: Session, task: Task, user_id: int) -> bool:
    """Whether the task was ever assigned to the user (their runs.json, for example)."""
    return session.scalar(
        select(Assignment.id).where(Assignment.task_id == task.id, Assignment.user_id == user_id)
        .limit(1)
    ) is not None


def has_submitted(session: Session, task: Task, user_id: int) -> bool:
    """Whether the user has submitted a review of the task (then they see its hidden tests)."""
    return session.scalar(
        select(Assignment.id).where(Assignment.task_id == task.id, Assignment.user_id == user_id,
                                    Assignment.submitted_at.is_not(None)).limit(1)
    ) is not None


def listed(session: Session, user_id: int, state: str, project: Project | None = None,
           limit: int = 50) -> list[tuple[Assignment, str, str]]:
    """(assignment, project slug, task id) of the user's assignments in `state`:
    active ones oldest first (the queue page), submitted ones newest first (to revise)."""
    order = (Assignment.created_at.asc() if state == "active"
             else Assignment.submitted_at.desc())
    query = (
        select(Assignment, Project.slug, Task.external_id)
        .join(Project, Project.id == Assignment.project_id)
        .join(Task, Task.id == Assignment.task_id)
        .where(Assignment.user_id == user_id, Assignment.state == state)
        .order_by(order)
        .limit(limit)
    )
    if project is not None:
        query = query.where(Assignment.project_id == project.id)
    return [(a, s, e) for a, s, e in session.execute(query).all()]


def project_assignments(session: Session, project: Project, *, page: int,
                        page_size: int) -> list[tuple[Assignment, str, str, int]]:
    """(assignment, annotator name, task id, versions) newest first: the lead's table."""
    versions = (
        select(func.count(Annotation.id))
        .where(Annotation.assignment_id == Assignment.id)
        .correlate(Assignment)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Assignment, User.name, Task.external_id, versions)
        .join(User, User.id == Assignment.user_id)
        .join(Task, Task.id == Assignment.task_id)
        .where(Assignment.project_id == project.id)
        .order_by(Assignment.created_at.desc())
        .limit(page_size)
        .offset((max(page, 1) - 1) * page_size)
    ).all()
    return [(a, name, ext, n) for a, name, ext, n in rows]
