"""Qualification and gold: scoring an annotation against a task's known answer, the
one-attempt starter assessment, and pausing an annotator whose gold accuracy drops.

A gold task carries its answer in the task file's `gold` field:

    {"findings": [{"candidate": "b", "file_path": "solution.py", "line_start": 2,
                   "line_end": 2, "category": "bug"}],
     "ranking": [["a"], ["b"]]}

(candidates named by their ids in the file). An annotator's finding matches a gold
finding when the line ranges overlap and the category matches (agreement's
`same_finding`, without the CWE); the matching is one-to-one. The score of one
gold task is the mean of the findings' F1 and the ranking's Kendall tau mapped to
0..1; tasks without gold findings or without a gold ranking score on what they have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from harness import audit
from harness.agreement import FindingLike, kendalls_tau, match_findings
from harness.errors import Conflict, InvalidInput, NotFound
from harness.models import (
    Annotation,
    Assignment,
    Finding,
    Project,
    ProjectMember,
    Qualification,
    QualificationAttempt,
    Task,
    User,
    utcnow,
)

DEFAULT_PASS_MARK = 0.7
DEFAULT_GOLD_MIN = 3
"""Gold answers an annotator must have given before their accuracy can pause them."""
TIERS = ("general", "coding", "security")


class GoldFindingIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    candidate: str
    file_path: str
    line_start: int = Field(ge=1)
    line_end: int = Field(ge=1)
    category: str
    cwe: int | None = None


class GoldAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    findings: list[GoldFindingIn] = Field(default_factory=list)
    ranking: list[list[str]] = Field(default_factory=list)


@dataclass(frozen=True)
class GoldFinding:
    """A gold finding with its candidate resolved to the stored id (a FindingLike)."""

    candidate_id: int
    file_path: str
    line_start: int
    line_end: int
    category: str
    cwe: int | None = None
    candidate_label: str = ""


def gold_of(task: Task) -> tuple[list[GoldFinding], list[list[int]]]:
    """The task's gold findings and gold ranking in stored candidate ids."""
    if not task.is_gold or not task.gold_answer:
        raise NotFound("not_gold", f"task {task.external_id} has no gold answer")
    try:
        answer = GoldAnswer.model_validate(task.gold_answer)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"]
        raise InvalidInput("invalid_gold", f"task {task.external_id}: gold: {message}",
                           field="gold") from None
    ids = {c.label: c.id for c in task.candidates}
    unknown = [f.candidate for f in answer.findings if f.candidate not in ids]
    unknown += [label for group in answer.ranking for label in group if label not in ids]
    if unknown:
        raise InvalidInput("invalid_gold", f"task {task.external_id}: gold names no such "
                           f"candidate {unknown[0]!r}", field="gold")
    findings = [GoldFinding(ids[f.candidate], f.file_path, f.line_start, f.line_end, f.category,
                            f.cwe, f.candidate) for f in answer.findings]
    return findings, [[ids[label] for label in group] for group in answer.ranking]


@dataclass
class GoldScore:
    task_id: int
    matched: list[GoldFinding] = field(default_factory=list)
    missed: list[GoldFinding] = field(default_factory=list)
    false: list[dict[str, Any]] = field(default_factory=list)  # reported, not in the gold
    recall: float | None = None
    precision: float | None = None
    tau: float | None = None

    @property
    def f1(self) -> float | None:
        if self.recall is None or self.precision is None:
            return None
        if self.recall + self.precision == 0:
            return 0.0
        return 2 * self.recall * self.precision / (self.recall + self.precision)

    @property
    def score(self) -> float:
        parts = [v for v in (self.f1, None if self.tau is None else (self.tau + 1) / 2)
                 if v is not None]
        return sum(parts) / len(parts) if parts else 1.0

    def to_dict(self) -> dict[str, Any]:
        def brief(f: GoldFinding) -> dict[str, Any]:
            return {"candidate": f.candidate_label, "file_path": f.file_path,
                    "line_start": f.line_start, "line_end": f.line_end, "category": f.category}
        return {"task_id": self.task_id, "recall": self.recall, "precision": self.precision,
                "tau": self.tau, "score": self.score, "matched": [brief(f) for f in self.matched],
                "missed": [brief(f) for f in self.missed], "false": self.false}


def score_against_gold(task: Task, findings: Sequence[FindingLike],
                       ranking: Sequence[Sequence[int]]) -> GoldScore:
    """Recall and precision of the findings, Kendall's tau of the ranking, what was
    matched, missed and falsely reported."""
    gold_findings, gold_ranking = gold_of(task)
    pairs = match_findings(gold_findings, findings, check_cwe=False)
    hit_gold = {i for i, _ in pairs}
    hit_given = {j for _, j in pairs}
    result = GoldScore(task.id)
    result.matched = [gold_findings[i] for i in sorted(hit_gold)]
    result.missed = [f for i, f in enumerate(gold_findings) if i not in hit_gold]
    result.false = [{"candidate_id": f.candidate_id, "file_path": f.file_path,
                     "line_start": f.line_start, "line_end": f.line_end, "category": f.category}
                    for j, f in enumerate(findings) if j not in hit_given]
    if gold_findings or findings:
        result.recall = len(pairs) / len(gold_findings) if gold_findings else 1.0
        result.precision = len(pairs) / len(findings) if findings else (
            1.0 if not gold_findings else 0.0)
    else:  # nothing to find and nothing reported
        result.recall = result.precision = 1.0
    if gold_ranking and ranking:
        result.tau = kendalls_tau(gold_ranking, ranking)
    return result


# --- the annotator's answers on gold tasks --------------------------------------------------

def _latest(session: Session, project: Project, user_id: int, *, since: datetime | None = None,
            task_ids: Sequence[int] | None = None) -> list[tuple[Task, Annotation]]:
    query = (select(Task, Annotation)
             .join(Assignment, Assignment.task_id == Task.id)
             .join(Annotation, Annotation.assignment_id == Assignment.id)
             .where(Assignment.project_id == project.id, Assignment.user_id == user_id,
                    Task.is_gold.is_(True))
             .order_by(Annotation.submitted_at, Annotation.version))
    if since is not None:
        query = query.where(Annotation.submitted_at > since)
    if task_ids is not None:
        query = query.where(Task.id.in_(list(task_ids)))
    first: dict[int, tuple[Task, Annotation]] = {}
    for task, annotation in session.execute(query).all():
        first.setdefault(task.id, (task, annotation))  # the first answer counts, not a revision
    return list(first.values())


def _score(session: Session, task: Task, annotation: Annotation) -> GoldScore:
    findings = list(session.scalars(select(Finding).where(Finding.annotation_id == annotation.id)))
    ranking = [[int(c) for c in g] for g in annotation.ranking]
    return score_against_gold(task, findings, ranking)


def gold_accuracy(session: Session, project: Project, user_id: int,
                  since: datetime | None = None) -> tuple[int, float | None, list[GoldScore]]:
    """(answers, mean score, scores) of the user's first answers to gold tasks
    submitted after `since`."""
    scores = [_score(session, t, a) for t, a in _latest(session, project, user_id, since=since)]
    mean = sum(s.score for s in scores) / len(scores) if scores else None
    return len(scores), mean, scores


# --- automatic pause ------------------------------------------------------------------------

def _member(session: Session, project: Project, user_id: int) -> ProjectMember:
    member = session.scalars(select(ProjectMember).where(
        ProjectMember.project_id == project.id, ProjectMember.user_id == user_id)).one_or_none()
    if member is None:
        raise NotFound("not_found", "no such member of this project")
    return member


def tier_rank(tier: str | None) -> int:
    return TIERS.index(tier) + 1 if tier in TIERS else 0


@dataclass(frozen=True)
class Scope:
    """What the queue may hand this member: nothing (blocked says why), only the
    assessment, or live work without the assessment tasks (exclude)."""

    blocked: str | None = None
    assessment: bool = False
    exclude: tuple[int, ...] = ()
    prefer_gold: bool | None = None  # None: file order; else gold (or live) tasks first


_MEMBER_TIER = (
    select(ProjectMember.qualification, User.tier)
    .join(User, User.id == ProjectMember.user_id)
    .where(ProjectMember.project_id == bindparam("project_id"),
           ProjectMember.user_id == bindparam("user_id"))
)
"""work_scope's first query, built once: every claim asks it (harness.leases.renew_lease
says why the hot statements are)."""


BLOCKED = (Qualification.paused, Qualification.failed)
"""Member states whose work on the project stops: no claims, no saves or submits."""


def work_blocked(session: Session, project: Project, user_id: int) -> bool:
    """Is the member's work on the project stopped (`BLOCKED`)?"""
    return session.scalar(select(ProjectMember.qualification).where(
        ProjectMember.project_id == project.id, ProjectMember.user_id == user_id)) in BLOCKED


def work_scope(session: Session, project: Project, user_id: int) -> Scope:
    """One query for the member and user, one for the assessment's task ids when set."""
    row = session.execute(_MEMBER_TIER, {"project_id": project.id, "user_id": user_id}).first()
    state, tier = (row[0], row[1]) if row is not None else (None, None)
    if state in BLOCKED:
        return Scope(blocked="member_paused")
    settings = project.settings or {}
    needed = settings.get("tier_required")
    if needed in TIERS and tier_rank(tier) < tier_rank(needed):
        return Scope(blocked="tier")
    wanted = list(settings.get("qualification_tasks") or [])
    ids: tuple[int, ...] = ()
    if wanted:
        ids = tuple(session.scalars(select(Task.id).where(
            Task.project_id == project.id, Task.external_id.in_(wanted))))
        if state != Qualification.qualified:
            return Scope(assessment=True, exclude=ids)
    return Scope(exclude=ids, prefer_gold=_gold_due(session, project, user_id, ids))


def _gold_due(session: Session, project: Project, user_id: int,
              assessment: Sequence[int]) -> bool | None:
    """With settings["gold_rate"] r, the member's next task is gold while fewer than r of
    the tasks they have taken (the assessment aside) were gold: gold arrives at the set
    rate, in no pattern the review page shows (it never marks a task as gold)."""
    rate = (project.settings or {}).get("gold_rate")
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 < rate <= 1:
        return None
    query = (select(Task.is_gold, func.count(Assignment.id))
             .join(Task, Task.id == Assignment.task_id)
             .where(Assignment.project_id == project.id, Assignment.user_id == user_id)
             .group_by(Task.is_gold))
    if assessment:
        query = query.where(Task.id.not_in(list(assessment)))
    counts = {bool(g): int(n) for g, n in session.execute(query).all()}
    taken = counts.get(True, 0) + counts.get(False, 0)
    return counts.get(True, 0) < rate * (taken + 1)


def claim_assessment(session: Session, project: Project, user_id: int,
                     lease_until: datetime) -> Assignment | None:
    """The member's next unanswered assessment task (every member takes every one,
    whatever the project's k), or None when all are taken."""
    from harness.assignments import display_order  # the queue imports this module

    for task in qualification_tasks(session, project):
        taken = session.scalar(select(Assignment.id).where(
            Assignment.task_id == task.id, Assignment.user_id == user_id))
        if taken is not None:
            continue
        nth = int(session.scalar(select(func.count(Assignment.id)).where(
            Assignment.task_id == task.id)) or 0)
        assignment = Assignment(project_id=project.id, task_id=task.id, user_id=user_id,
                                state="active", lease_expires_at=lease_until,
                                display_order=display_order(
                                    task.id, [c.id for c in task.candidates], nth))
        session.add(assignment)
        session.flush()
        return assignment
    return None


def after_submit(session: Session, project: Project, assignment: Assignment) -> None:
    """Called by submit_annotation for gold tasks: grade the assessment once its last
    task is in; otherwise check the member's gold accuracy (gold mixed into live work)."""
    wanted = (project.settings or {}).get("qualification_tasks") or []
    member_state = session.scalar(select(ProjectMember.qualification).where(
        ProjectMember.project_id == project.id, ProjectMember.user_id == assignment.user_id))
    if assignment.task.external_id in wanted and member_state not in (
            Qualification.qualified, Qualification.failed):
        answered = _latest(session, project, assignment.user_id,
                           task_ids=[t.id for t in qualification_tasks(session, project)])
        if len(answered) == len(wanted):
            grade_qualification(session, project, assignment.user_id)
        return
    check_gold_pause(session, project, assignment.user_id)


def check_gold_pause(session: Session, project: Project, user_id: int) -> bool:
    """Pause the member when their gold accuracy since the last lift is below the
    project's `gold_pause_below` over at least `gold_min` answers. Returns paused."""
    settings = project.settings or {}
    below = settings.get("gold_pause_below")
    if not isinstance(below, int | float) or isinstance(below, bool):
        return False
    member = _member(session, project, user_id)
    if member.qualification == Qualification.paused:
        return True
    n, mean, _ = gold_accuracy(session, project, user_id, since=member.pause_lifted_at)
    if n >= int(settings.get("gold_min", DEFAULT_GOLD_MIN)) and mean is not None and mean < below:
        member.qualification = Qualification.paused
        member.paused_at = utcnow()
        session.execute(
            update(Assignment)
            .where(Assignment.project_id == project.id, Assignment.user_id == user_id,
                   Assignment.state == "active")
            .values(state="expired")
            .execution_options(synchronize_session=False))
        audit.record(session, "member.pause", project_id=project.id, object_type="user",
                     object_id=user_id, accuracy=mean, answers=n)
        session.flush()
        return True
    return False


def lift_pause(session: Session, project: Project, user_id: int, *, by: int | None) -> None:
    """A lead lets the member work again; accuracy counts afresh from now."""
    member = _member(session, project, user_id)
    if member.qualification != Qualification.paused:
        raise Conflict("not_paused", "this member is not paused", field="user")
    member.qualification = Qualification.qualified
    member.pause_lifted_at = utcnow()
    audit.record(session, "member.unpause", user_id=by, project_id=project.id,
                 object_type="user", object_id=user_id)
    session.flush()


# --- the one-attempt starter assessment -------------------------------------------------------

def qualification_tasks(session: Session, project: Project) -> list[Task]:
    """The project's assessment: settings["qualification_tasks"] (external ids), in order."""
    wanted = list((project.settings or {}).get("qualification_tasks") or [])
    tasks = {t.external_id: t for t in session.scalars(select(Task).where(
        Task.project_id == project.id, Task.external_id.in_(wanted), Task.is_gold.is_(True)))}
    return [tasks[e] for e in wanted if e in tasks]


def grade_qualification(session: Session, project: Project, user_id: int) -> QualificationAttempt:
    """Score the user's answers to every assessment task, once: a second grading is refused
    (one attempt per annotator and project). Sets the member's qualification."""
    tasks = qualification_tasks(session, project)
    if not tasks:
        raise Conflict("no_assessment", "this project has no qualification tasks")
    answered = _latest(session, project, user_id, task_ids=[t.id for t in tasks])
    if len(answered) < len(tasks):
        raise Conflict("unfinished", f"{len(tasks) - len(answered)} assessment task(s) "
                       "still to submit", field="qualification")
    scores = [_score(session, t, a) for t, a in answered]
    mean = sum(s.score for s in scores) / len(scores)
    mark = float((project.settings or {}).get("pass_mark", DEFAULT_PASS_MARK))
    attempt = QualificationAttempt(project_id=project.id, user_id=user_id, score=mean,
                                   passed=mean >= mark, details=[s.to_dict() for s in scores])
    try:
        with session.begin_nested():
            session.add(attempt)
            session.flush()
    except IntegrityError:
        raise Conflict("one_attempt", "the assessment can be taken once; it has been graded",
                       field="qualification") from None
    member = _member(session, project, user_id)
    member.qualification = Qualification.qualified if attempt.passed else Qualification.failed
    granted = (project.settings or {}).get("grants_tier")
    user = session.get(User, user_id)
    if attempt.passed and granted in TIERS and user is not None and (
            tier_rank(granted) > tier_rank(user.tier)):
        user.tier = granted
    audit.record(session, "qualification.grade", user_id=user_id, project_id=project.id,
                 object_type="qualification", object_id=attempt.id, score=mean,
                 passed=attempt.passed)
    session.flush()
    return attempt


def attempt_of(session: Session, project: Project, user_id: int) -> QualificationAttempt | None:
    return session.scalars(select(QualificationAttempt).where(
        QualificationAttempt.project_id == project.id,
        QualificationAttempt.user_id == user_id)).one_or_none()


def answered_assessment(session: Session, project: Project,
                        user_id: int) -> list[tuple[Task, Annotation]]:
    """The member's answers so far to the assessment's tasks."""
    return _latest(session, project, user_id,
                   task_ids=[t.id for t in qualification_tasks(session, project)])


@dataclass(frozen=True)
class AssessmentStatus:
    """What the annotator's queue says about a project's starter assessment."""

    tasks: int
    answered: int
    attempt: QualificationAttempt | None


def assessment_status(session: Session, project: Project,
                      user_id: int) -> AssessmentStatus | None:
    """None when the project asks for no assessment (no query then), or when the member
    was qualified without one (nothing to take); else how far the member is, or their
    graded attempt."""
    if not (project.settings or {}).get("qualification_tasks"):
        return None
    tasks = qualification_tasks(session, project)
    if not tasks:
        return None
    attempt = attempt_of(session, project, user_id)
    if attempt is None:
        state = session.scalar(select(ProjectMember.qualification).where(
            ProjectMember.project_id == project.id, ProjectMember.user_id == user_id))
        if state == Qualification.qualified:
            return None
    answered = 0 if attempt is not None else len(
        _latest(session, project, user_id, task_ids=[t.id for t in tasks]))
    return AssessmentStatus(len(tasks), answered, attempt)
