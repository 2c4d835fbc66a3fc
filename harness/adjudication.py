"""Adjudication: a lead's final ranking and final findings for a task, kept apart from
the annotations they were made from, and the queue of tasks that need one.

The annotators' findings are clustered with the agreement rule (`same_finding`):
each cluster is offered as one merged finding (the union of the line ranges,
the most severe severity, the CWE most named, every comment), and the lead keeps,
edits or drops each. What the lead records is checked against the project's
rubric and the task's candidates like an annotation is, and stored in the
`adjudications` table; `final_results` is what exports read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from harness import audit, stats
from harness.agreement import TaskAgreement, same_finding
from harness.annotate.common import MAX_COMMENT, MAX_FINDINGS
from harness.cwe import MAX_CWE
from harness.errors import InvalidInput
from harness.models import Adjudication, Finding, Project, Task
from harness.reviews import Review
from harness.rubric import RubricBody, body_of
from harness.text import line_count


class FinalFindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidate_id: int
    file_path: str = Field(max_length=500)
    line_start: int
    line_end: int
    category: str
    severity: str
    cwe: int | None = None
    comment: str = Field(default="", max_length=MAX_COMMENT)
    merged_from: list[int] = Field(default_factory=list)


class AdjudicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ranking: list[list[int]] = Field(default_factory=list)
    findings: list[FinalFindingIn] = Field(default_factory=list, max_length=MAX_FINDINGS)
    notes: str = Field(default="", max_length=20_000)


# --- suggestions ---------------------------------------------------------------------------

@dataclass
class Cluster:
    """Findings of several annotators that are the same finding, offered merged."""

    members: list[tuple[str, Finding]] = field(default_factory=list)  # (annotator, finding)

    def merged(self, rubric: RubricBody) -> dict[str, Any]:
        findings = [f for _, f in self.members]
        order = {s: i for i, s in enumerate(rubric.severities)}
        cwes = Counter(f.cwe for f in findings if f.cwe is not None)
        first = findings[0]
        comments = [f"{name}: {f.comment}" for name, f in self.members if f.comment]
        return {
            "candidate_id": first.candidate_id,
            "file_path": first.file_path,
            "line_start": min(f.line_start for f in findings),
            "line_end": max(f.line_end for f in findings),
            "category": first.category,
            "severity": max((f.severity for f in findings), key=lambda s: order.get(s, -1)),
            "cwe": cwes.most_common(1)[0][0] if cwes else None,
            "comment": "\n".join(comments)[:MAX_COMMENT],
            "merged_from": [f.id for f in findings],
        }

    @property
    def annotators(self) -> list[str]:
        return sorted({name for name, _ in self.members})


def clusters(reviews: Sequence[Review]) -> list[Cluster]:
    """Every submitted finding of the task in a cluster with the ones it is the same as
    (transitively), ordered by candidate, file and line."""
    items = [(r.user_name, f) for r in reviews if r.submitted for f in r.findings]
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if same_finding(items[i][1], items[j][1]):
                parent[root(i)] = root(j)
    grouped: dict[int, Cluster] = {}
    for i, item in enumerate(items):
        grouped.setdefault(root(i), Cluster()).members.append(item)
    return sorted(grouped.values(), key=lambda c: (
        c.members[0][1].candidate_id, c.members[0][1].file_path,
        min(f.line_start for _, f in c.members)))


def suggested_ranking(reviews: Sequence[Review]) -> list[list[int]]:
    """Candidates by mean rank over the submitted reviews (equal means tie)."""
    sums: dict[int, list[int]] = {}
    for r in reviews:
        for cid, rank in r.rank_of().items():
            sums.setdefault(cid, []).append(rank)
    means = sorted((sum(v) / len(v), cid) for cid, v in sums.items())
    groups: list[list[int]] = []
    last: float | None = None
    for mean, cid in means:
        if groups and mean == last:
            groups[-1].append(cid)
        else:
            groups.append([cid])
        last = mean
    return groups


# --- recording -----------------------------------------------------------------------------

def _check(rubric: RubricBody, task: Task, body: AdjudicationIn,
           known_findings: set[int]) -> list[str]:
    errors: list[str] = []
    candidates = {c.id: c for c in task.candidates}
    flat = [c for group in body.ranking for c in group]
    if rubric.ranking.enabled and sorted(flat) != sorted(candidates):
        errors.append("ranking: rank every candidate of the task exactly once")
    for i, f in enumerate(body.findings):
        where = f"findings.{i}"
        cand = candidates.get(f.candidate_id)
        if cand is None:
            errors.append(f"{where}.candidate_id: not a candidate of this task")
            continue
        if f.file_path not in cand.files:
            errors.append(f"{where}.file_path: candidate {cand.label} has no file {f.file_path}")
            continue
        lines = line_count(str(cand.files[f.file_path]))
        if not 1 <= f.line_start <= f.line_end <= lines:
            errors.append(f"{where}.line_start: lines must be a range within 1..{lines}")
        category = rubric.category(f.category)
        if category is None:
            errors.append(f"{where}.category: not a category of the rubric")
        elif f.cwe is not None and (not category.cwe or not 1 <= f.cwe <= MAX_CWE):
            errors.append(f"{where}.cwe: a CWE only on {category.key} findings, 1..{MAX_CWE}"
                          if category.cwe else f"{where}.cwe: {category.key} takes no CWE")
        if f.severity not in rubric.severities:
            errors.append(f"{where}.severity: one of {', '.join(rubric.severities)}")
        unknown = set(f.merged_from) - known_findings
        if unknown:
            errors.append(f"{where}.merged_from: not findings of this task's annotations")
    return errors


def record_adjudication(session: Session, project: Project, task: Task, reviews: Sequence[
        Review], body: AdjudicationIn, *, user_id: int) -> Adjudication:
    """Store (or replace) the task's adjudication; every problem at once, nothing stored
    when there is one. `reviews`: the task's reviews the lead was shown."""
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    known = {f.id for r in reviews for f in r.findings}
    errors = _check(rubric, task, body, known)
    if errors:
        raise InvalidInput("invalid_adjudication",
                           "nothing was recorded: " + "; ".join(errors), errors=errors)
    found = session.scalars(
        select(Adjudication).where(Adjudication.task_id == task.id)).one_or_none()
    if found is None:
        found = Adjudication(project_id=project.id, task_id=task.id)
        session.add(found)
    found.user_id = user_id
    found.ranking = [list(g) for g in body.ranking]
    found.findings = [f.model_dump() for f in body.findings]
    found.notes = body.notes
    found.annotation_ids = sorted(r.annotation.id for r in reviews if r.annotation is not None)
    session.flush()
    audit.record(session, "adjudication.record", user_id=user_id, project_id=project.id,
                 object_type="task", object_id=task.id, findings=len(body.findings))
    session.flush()
    stats.refresh_task(session, project, task.id)
    return found


def adjudication_of(session: Session, task: Task) -> Adjudication | None:
    return session.scalars(
        select(Adjudication).where(Adjudication.task_id == task.id)).one_or_none()


# --- what exports and pages read -------------------------------------------------------------

@dataclass(frozen=True)
class FinalResult:
    task_id: int
    ranking: list[list[int]]
    findings: list[dict[str, Any]]
    notes: str
    adjudicated_by: int | None
    updated_at: datetime
    annotation_ids: list[int]


def final_results(session: Session, task_ids: Sequence[int]) -> dict[int, FinalResult]:
    """The adjudicated result of each of these tasks that has one (tasks without are
    absent: their raw annotations are all there is). One query per 500 tasks."""
    out: dict[int, FinalResult] = {}
    ids = list(task_ids)
    for start in range(0, len(ids), 500):
        for a in session.scalars(
                select(Adjudication).where(Adjudication.task_id.in_(ids[start:start + 500]))):
            out[a.task_id] = FinalResult(a.task_id, [list(g) for g in a.ranking],
                                         [dict(f) for f in a.findings], a.notes, a.user_id,
                                         a.updated_at, list(a.annotation_ids))
    return out


@dataclass(frozen=True)
class QueueEntry:
    external_id: str
    agreement: TaskAgreement


def adjudication_queue(session: Session, project: Project, threshold: float,
                       limit: int = 200) -> list[QueueEntry]:
    """Tasks with two or more annotations and a figure below the threshold that no
    lead has adjudicated yet, lowest agreement first (read from the kept task figures)."""
    return [QueueEntry(external_id, figures) for external_id, figures
            in stats.below_threshold(session, project, threshold, limit)]
