"""Drafts: the page's state saved as it is typed (shape-checked, never judged), and active time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import bindparam, exists, func, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from harness import assignments
from harness.annotate.checks import check_draft, consistency_warnings, run_outcomes
from harness.annotate.common import (
    CLOCK_SLACK,
    DRAFT_KEYS,
    MAX_DRAFT_BYTES,
    MAX_FINDINGS,
    Problem,
    Shown,
    shown_candidates,
    task_candidates,
)
from harness.assignments import Claim
from harness.db import execute_core
from harness.errors import Conflict, InvalidInput
from harness.leases import ASSIGNMENT_COLUMNS, ASSIGNMENTS, lease_minutes, renew_lease
from harness.models import (
    MAX_ID,
    Assignment,
    Project,
    utcnow,
)
from harness.qualification import work_blocked
from harness.rubric import RubricBody, project_rubric

STALE_MESSAGE = ("this task is open in another tab or window, which saved newer changes; "
                 "reload to see them (nothing of theirs was overwritten)")

# --- drafts ---------------------------------------------------------------------------


class Draft(BaseModel):
    """The page's state as it is typed: each known key type-checked, unknown keys dropped.

    Judging the content (lines in range, categories, scores) is `checks.validate`'s
    work at submit; a draft only has to have the right shape and size.
    """

    model_config = ConfigDict(extra="ignore", strict=True)

    findings: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_FINDINGS)
    scores: dict[str, Any] = Field(default_factory=dict)
    ranking: list[Any] = Field(default_factory=list)
    rationale: str = ""
    confidence: int | None = None
    hint_verdicts: dict[str, Any] = Field(default_factory=dict)


class DraftRequest(BaseModel):
    """The body of a draft save, a heartbeat (no draft) or a submit."""

    model_config = ConfigDict(extra="ignore")

    draft: dict[str, Any] | None = None
    active_seconds: float = 0.0
    acknowledge_warnings: bool = False
    revision: int | None = Field(default=None, ge=0, le=MAX_ID)
    """The draft revision the page's state is based on; None: overwrite unchecked
    (scripts). The review page always sends it."""
    page: str = Field(default="", max_length=64)
    """A random id per page load: a page's own in-flight saves never make it stale."""


def first_problem(exc: ValidationError, default_field: str) -> tuple[str, str]:
    """(field, message) of a pydantic error, in the words the page shows."""
    err = exc.errors()[0]
    loc = [str(part) for part in err.get("loc", ())]
    field = loc[0] if loc else default_field
    if err.get("type") == "too_long":
        return field, f"at most {MAX_FINDINGS}"
    return field, str(err.get("msg", "invalid"))


def normalise_draft(raw: Any) -> dict[str, Any]:
    """The draft with its known keys and their types checked; nothing else is kept."""
    if not isinstance(raw, dict):
        raise InvalidInput("invalid", "expected an object", field="draft")
    try:
        draft = Draft.model_validate(raw).model_dump(include=set(raw) & set(DRAFT_KEYS))
    except ValidationError as exc:
        field, message = first_problem(exc, "draft")
        raise InvalidInput("invalid", message, field=field) from None
    # Stored as it is, unknown parts and all: NaN or Infinity is no JSON a PostgreSQL
    # column takes (a 500) nor the review page parses, and a lone surrogate ("\ud800",
    # which JSON escapes allow) no UTF-8 a version's record or an export can be written in.
    try:
        size = len(json.dumps(draft, ensure_ascii=False, allow_nan=False).encode())
    except ValueError:  # UnicodeEncodeError is one
        raise InvalidInput("invalid", "numbers must be finite and text valid Unicode "
                           "(no NaN, Infinity or lone surrogates)", field="draft") from None
    if size > MAX_DRAFT_BYTES:
        raise InvalidInput("invalid", f"larger than {MAX_DRAFT_BYTES // 1024} KiB", field="draft")
    return draft


def add_active_time(
    assignment: Assignment, seconds: Any, now: datetime, *, cap: float | None = None,
    others_last: datetime | None = None,
) -> float:
    """Add the client's active seconds (`active_time_to_add`) to the assignment."""
    added = active_time_to_add(assignment, seconds, now, cap=cap, others_last=others_last)
    if added:
        assignment.active_seconds = float(assignment.active_seconds or 0.0) + added
    return added


def active_time_to_add(
    assignment: Assignment, seconds: Any, now: datetime, *, cap: float | None = None,
    others_last: datetime | None = None,
) -> float:
    """The client's active seconds, capped by the time since the last contact.

    A page that was offline for a while sends all the time it counted meanwhile,
    and gets it: only the elapsed time (plus a little clock slack) bounds it, and
    `cap` (the lease length) bounds what a forged client can claim in one request.

    The cap is per person too: `others_last`, the user's last contact on any of their
    other assignments, bounds it by the time since then, without slack. Every credited
    second then lies between a save's time and the user's contact before it, on whichever
    assignment, so the intervals credited never overlap and the total never exceeds the
    wall-clock time, however many tasks one person holds (the audit: N projects, one
    heartbeat each, N times the time). A page that is hidden sends nothing (review.js),
    so an annotator switching between two tabs still gets the real time of each.
    """
    try:
        claimed = float(seconds or 0)
    except (TypeError, ValueError):
        claimed = 0.0
    if claimed != claimed or claimed <= 0:  # NaN or nothing
        return 0.0
    last = assignment.draft_saved_at or assignment.created_at or now
    elapsed = max((now - last).total_seconds(), 0.0)
    added = min(claimed, elapsed + CLOCK_SLACK)
    if cap is not None:
        added = min(added, cap)
    if others_last is not None:
        added = min(added, max((now - others_last).total_seconds(), 0.0))
    return added


def writable(session: Session, assignment: Assignment, project: Project, now: datetime) -> None:
    """Refuse unless the assignment can still be written; renew its lease."""
    if assignment.state == "skipped":
        raise Conflict("skipped", "this task was skipped; it can no longer be edited",
                       field="assignment")
    # A pause expires the member's active leases (qualification.check_gold_pause); a
    # save would revive them, or add a version to a submitted one, as if it had not.
    if work_blocked(session, project, assignment.user_id):
        raise Conflict("member_paused", Claim.MESSAGES["member_paused"], field="assignment")
    if assignment.state == "submitted":
        return
    if not renew_lease(session, assignment, project, now=now):
        raise Conflict(
            "lease_lapsed",
            "your lease on this task ran out and others have taken it; take the next task",
            field="lease",
        )


ANNOTATION_IDS = 0x616E6E  # the advisory lock namespace of lock_annotation_ids ("ann")


def lock_annotation_ids(session: Session, project_id: int) -> None:
    """Make the project's annotation ids commit in id order, so a `since` cursor on the
    id (harness.labapi, exports/source.py) never skips a row.

    The id comes from a sequence at INSERT, and on PostgreSQL two writers can commit in
    the other order: a lab that pulled between the two commits would have passed the
    lower id for good. So, before the INSERT, a writer takes a transaction-scoped
    advisory lock on (ANNOTATION_IDS, project) and keeps it to its commit: the next
    writer of the project draws its id only after this one is visible, and what a
    reader sees of a project is always every row up to some id. It serialises only
    the tail of concurrent submits to one project (the rest of the request runs in
    parallel), and needs no schema. SQLite needs nothing: a write transaction holds
    the database's single write lock from its first write to its commit, which the
    assignment's lock (taken before) already is.
    """
    if session.get_bind().dialect.name == "postgresql":
        execute_core(session, text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                     {"ns": ANNOTATION_IDS, "key": project_id})


def lock_assignment(session: Session, assignment: Assignment) -> None:
    """Serialise writers of one assignment until the transaction ends (submits read the
    latest version after this, so two concurrent identical submits make one version)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Assignment.id).where(Assignment.id == assignment.id)
                        .with_for_update())
    else:
        # SQLite: this write begins the transaction and takes the database's write lock
        # (waiting up to busy_timeout); reads before it ran outside any transaction.
        session.execute(
            update(Assignment).where(Assignment.id == assignment.id)
            .values(draft_revision=Assignment.draft_revision)
            .execution_options(synchronize_session=False)
        )


_a = ASSIGNMENTS.c


def _next(*cond: Any) -> Any:
    return (update(ASSIGNMENTS).where(_a.id == bindparam("assignment_id"), *cond)
            .values(draft_revision=_a.draft_revision + 1,
                    draft_writer=bindparam("page"), draft=bindparam("draft"),
                    active_seconds=bindparam("active_seconds"),
                    draft_saved_at=bindparam("saved_at"))
            .returning(_a.draft_revision))


# built once (harness.leases.renew_lease says why), on the table: a Core statement
# neither flushes first nor goes through the ORM's bulk update. Unchecked, based on a
# revision, or based on a revision unless the current one is this page's own.
_NEXT_ANY = _next()
_NEXT_BASED = _next(_a.draft_revision == bindparam("base"))
_NEXT_OWN_PAGE = _next(or_(_a.draft_revision == bindparam("base"),
                           _a.draft_writer == bindparam("page")))


def next_revision(session: Session, assignment: Assignment, base: int | None, page: str,
                  draft: dict[str, Any], now: datetime, *, active_seconds: float) -> int:
    """Compare-and-set the draft revision and store the draft with it: the save must be
    based on the current revision, or the current revision must be this page's own (its
    earlier save still in flight).

    One UPDATE decides and writes (the draft, the assignment's new `active_seconds`,
    the time of contact), so two pages racing cannot both win. Raises
    Conflict (409) otherwise, and nothing is stored.
    """
    statement = _NEXT_ANY if base is None else _NEXT_OWN_PAGE if page else _NEXT_BASED
    new = execute_core(session, statement, {
        "assignment_id": assignment.id, "base": base, "page": page or None, "draft": draft,
        "active_seconds": active_seconds, "saved_at": now}).scalar_one_or_none()
    if new is None:
        raise Conflict("stale_draft", STALE_MESSAGE, field="revision")
    for key, value in (("draft_revision", new), ("draft_writer", page or None),
                       ("draft", draft), ("active_seconds", active_seconds),
                       ("draft_saved_at", now)):
        set_committed_value(assignment, key, value)
    return int(new)


def is_stale(assignment: Assignment, base: int | None, page: str) -> bool:
    """Would a save based on `base` from `page` be refused now? (heartbeats report it)"""
    if base is None:
        return False
    return base != assignment.draft_revision and (not page or assignment.draft_writer != page)


@dataclass(frozen=True)
class CheckedDraft:
    """A draft that passed its shape and rule checks against one assignment's candidates
    (`checked_draft`): saving it needs no more reads, and the page's warnings
    (`draft_warnings`) are taken from it before the save writes anything."""

    body: dict[str, Any]
    shown: list[Shown]
    rubric: RubricBody


def checked_draft(session: Session, assignment: Assignment, project: Project, draft: Any
                  ) -> CheckedDraft:
    """The draft normalised (`normalise_draft`) and held to the submission's rules but for
    completeness (`checks.check_draft`). Reads only; raises InvalidInput (422)."""
    clean = normalise_draft(draft)
    shown = shown_candidates(assignment, task_candidates(session, assignment.task))
    rubric = project_rubric(session, project)
    check_draft(rubric, shown, clean)
    return CheckedDraft(clean, shown, rubric)


def draft_warnings(session: Session, assignment: Assignment, draft: CheckedDraft
                   ) -> list[Problem]:
    """The consistency warnings the page shows as the draft autosaves (reads only)."""
    outcomes = run_outcomes(session, assignment.task, [s.candidate for s in draft.shown])
    return consistency_warnings(draft.rubric, draft.shown, draft.body, outcomes)


# the row but the draft, which is what the save wrote (decoding it back cost as much as
# writing it: a draft may hold dozens of findings)
_RETURNED = {key: column for key, column in ASSIGNMENT_COLUMNS.items() if key != "draft"}


_o = ASSIGNMENTS.alias("other")
NO_CONTACT = datetime(1970, 1, 1, tzinfo=UTC)
"""`others_last` of a user with no contact on any other assignment: before every one."""

USER_CONTACT = assignments.USER_CONTACT


def _save_active(*cond: Any) -> Any:
    return (update(ASSIGNMENTS)
            .where(_a.id == bindparam("assignment_id"), _a.state == "active",
                   _a.lease_expires_at.is_(None) | (_a.lease_expires_at >= bindparam("now")),
                   # the last contact the added time was bounded by is still the row's:
                   # saves racing from one stale read would each add the same idle time
                   _a.draft_saved_at.is_not_distinct_from(bindparam("last")),
                   # and the user's last contact on their other assignments too, which
                   # bounds it as well (`active_time_to_add`): a save to another task since
                   # the read sends this one to the slow path, which reads it afresh. Exact
                   # on SQLite (one writer at a time) and on PostgreSQL (the user's lock,
                   # taken in an earlier statement: `_hold_user_lock`)
                   ~exists().where(_o.c.user_id == bindparam("owner_id"),
                                   _o.c.id != bindparam("assignment_id"),
                                   _o.c.draft_saved_at > bindparam(
                                       "others_last", type_=_a.draft_saved_at.type)),
                   *cond)
            .values(lease_expires_at=bindparam("until"), draft_revision=_a.draft_revision + 1,
                    draft_writer=bindparam("page"), draft=bindparam("draft"),
                    # added in SQL: the row read at the request's start may be older than
                    # another save of this page that committed meanwhile (reads take no lock)
                    active_seconds=func.coalesce(_a.active_seconds, 0.0) + bindparam("added"),
                    draft_saved_at=bindparam("now"))
            .returning(*_RETURNED.values()))


# The common save in one statement (an active assignment whose lease still runs, the
# page's revision current): the lease renewal and the revision's compare-and-set with the
# draft. Anything else (a lapsed lease to revive, a stale revision to refuse, a submitted
# assignment, another save since this one read the row) falls back to `writable` and
# `next_revision`, which say what is wrong, or bound the time by the fresh row.
_SAVE_ANY = _save_active()
_SAVE_BASED = _save_active(_a.draft_revision == bindparam("base"))
_SAVE_OWN_PAGE = _save_active(or_(_a.draft_revision == bindparam("base"),
                                  _a.draft_writer == bindparam("page")))


def _save_in_one(session: Session, assignment: Assignment, project: Project,
                 draft: dict[str, Any], base: int | None, page: str, seconds: Any,
                 now: datetime, others_last: datetime | None) -> float | None:
    """The seconds added, or None when the one statement did not apply (nothing written)."""
    if assignment.state != "active":
        return None
    minutes = lease_minutes(session, project)
    added = active_time_to_add(assignment, seconds, now, cap=60.0 * minutes,
                               others_last=others_last)
    statement = _SAVE_ANY if base is None else _SAVE_OWN_PAGE if page else _SAVE_BASED
    row = execute_core(session, statement, {
        "assignment_id": assignment.id, "now": now, "until": now + timedelta(minutes=minutes),
        "base": base, "page": page or None, "draft": draft, "added": added,
        "last": assignment.draft_saved_at, "owner_id": assignment.user_id,
        "others_last": others_last or NO_CONTACT,
    }).first()
    if row is None:
        return None
    for key, value in zip(_RETURNED, row, strict=True):
        set_committed_value(assignment, key, value)
    set_committed_value(assignment, "draft", draft)
    return added


def _hold_user_lock(session: Session, assignment: Assignment) -> None:
    """PostgreSQL: take the user's advisory lock (USER_CONTACT) to the end of the
    transaction, unless the statement that loaded the assignment took it
    (`assignments.own_in_project` with `saving`). Two saves of one user's different
    assignments at once would otherwise each see the other's contact not yet committed
    (READ COMMITTED: a statement sees what was committed when it began) and both add the
    same time. SQLite needs nothing: one writer at a time, and the compare-and-set is
    checked by the write itself."""
    if session.get_bind().dialect.name == "postgresql":
        execute_core(session, text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                     {"ns": USER_CONTACT, "key": assignment.user_id})
        assignments.remember_contact(session, assignment, None, locked=True)
        assignments.recalled_contact(session, assignment)  # the lock, not a read


def save_draft(
    session: Session,
    assignment: Assignment,
    project: Project,
    draft: Any | None,
    *,
    active_seconds: Any = 0,
    revision: int | None = None,
    page: str = "",
    now: datetime | None = None,
) -> float:
    """Store the draft (None: a heartbeat only), add active time, renew the lease.

    A draft is held to the submission's rules but for completeness (`checked_draft`; pass a
    CheckedDraft to skip it) and must be based on the current revision
    (`next_revision`). Returns the seconds added. draft_saved_at doubles as the time of
    last contact.

    Every read and check comes before the first write, and the common case writes once
    (`_save_in_one`): on SQLite the database's write lock is held from a transaction's
    first write to its commit, so a save holds it for one statement, not for its checks
    (issue 13: 50 annotators saving at once).
    """
    now = now or utcnow()
    checked = None
    if draft is not None:
        checked = draft if isinstance(draft, CheckedDraft) else \
            checked_draft(session, assignment, project, draft)
    read, others_last, locked = assignments.recalled_contact(session, assignment)
    if not locked:  # a caller other than the web's (which took it with the assignment)
        _hold_user_lock(session, assignment)
    if checked is not None:
        if not read:
            others_last = assignments.others_last_contact(session, assignment)
        added = _save_in_one(session, assignment, project, checked.body, revision, page,
                             active_seconds, now, others_last)
        if added is not None:
            return added
    state = assignment.state
    writable(session, assignment, project, now)
    if state == "submitted" and session.get_bind().dialect.name == "sqlite":
        lock_assignment(session, assignment)  # writable wrote nothing: the write lock
    # read afresh under the lock (SQLite's write lock, PostgreSQL's user lock): exact
    others_last = assignments.others_last_contact(session, assignment)
    cap = 60.0 * lease_minutes(session, project)
    if checked is None:
        added = add_active_time(assignment, active_seconds, now, cap=cap,
                                others_last=others_last)
        assignment.draft_saved_at = now
        session.flush()
        return added
    # one UPDATE: the revision's compare-and-set, with the draft and the time
    added = active_time_to_add(assignment, active_seconds, now, cap=cap,
                               others_last=others_last)
    next_revision(session, assignment, revision, page, checked.body, now,
                  active_seconds=float(assignment.active_seconds or 0.0) + added)
    return added
