"""Every annotator's latest review of a task, as a lead reads them side by side.

Annotations store real candidate ids (scores keyed by id, rankings as groups of
ids, findings on a candidate); each annotator saw the candidates under shuffled
letters (Annotation.display_order). A lead reads columns of real candidates and,
beside each annotator's entry, the letter that annotator saw: so two annotators'
findings on "their A" and "their B" line up when they concern the same code.
A task's reviews load in four queries however many annotators it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.annotate.common import letter
from harness.models import Annotation, Assignment, Finding, Rubric, Task, User
from harness.rubric import version_label


@dataclass
class Review:
    """One annotator's turn at a task, with their latest submitted version (if any)."""

    assignment_id: int
    user_id: int
    user_name: str
    state: str
    active_seconds: float
    skip_reason: str | None
    versions: int = 0
    annotation: Annotation | None = None
    rubric_label: str = ""
    letters: dict[int, str] = field(default_factory=dict)  # candidate id -> letter shown
    findings: list[Finding] = field(default_factory=list)

    @property
    def submitted(self) -> bool:
        return self.annotation is not None

    def rank_of(self) -> dict[int, int]:
        """candidate id -> rank (1 = best; tied candidates share a rank)."""
        out: dict[int, int] = {}
        if self.annotation is None:
            return out
        position = 1
        for group in self.annotation.ranking:
            for cid in group:
                out[int(cid)] = position
            position += len(group)
        return out

    def scores_of(self, candidate_id: int) -> dict[str, Any]:
        if self.annotation is None:
            return {}
        return dict(self.annotation.scores.get(str(candidate_id), {}))

    def findings_on(self, candidate_id: int) -> list[Finding]:
        return [f for f in self.findings if f.candidate_id == candidate_id]


def letters_of(display_order: Sequence[Any]) -> dict[int, str]:
    return {int(cid): letter(i) for i, cid in enumerate(display_order)}


def task_reviews(session: Session, task: Task) -> list[Review]:
    """Every assignment of the task (skipped and active ones too), oldest first."""
    rows = session.execute(
        select(Assignment, User.name)
        .join(User, User.id == Assignment.user_id)
        .where(Assignment.task_id == task.id)
        .order_by(Assignment.created_at, Assignment.id)
    ).all()
    reviews = {
        a.id: Review(a.id, a.user_id, name, a.state, float(a.active_seconds or 0.0),
                     a.skip_reason, letters=letters_of(a.display_order))
        for a, name in rows
    }
    if not reviews:
        return []
    latest = (
        select(Annotation.assignment_id, func.max(Annotation.version).label("v"),
               func.count(Annotation.id).label("n"))
        .where(Annotation.assignment_id.in_(list(reviews)))
        .group_by(Annotation.assignment_id)
        .subquery()
    )
    found = session.execute(
        select(Annotation, latest.c.n)
        .join(latest, (latest.c.assignment_id == Annotation.assignment_id)
              & (latest.c.v == Annotation.version))
    ).all()
    by_annotation: dict[int, Review] = {}
    rubric_ids = set()
    for annotation, n in found:
        review = reviews[annotation.assignment_id]
        review.annotation = annotation
        review.versions = int(n)
        review.letters = letters_of(annotation.display_order) or review.letters
        review.active_seconds = float(annotation.active_seconds or review.active_seconds)
        by_annotation[annotation.id] = review
        rubric_ids.add(annotation.rubric_id)
    if by_annotation:
        for finding in session.scalars(
            select(Finding).where(Finding.annotation_id.in_(list(by_annotation)))
            .order_by(Finding.candidate_id, Finding.file_path, Finding.line_start, Finding.id)
        ):
            by_annotation[finding.annotation_id].findings.append(finding)
        labels = {r.id: version_label(r)
                  for r in session.scalars(select(Rubric).where(Rubric.id.in_(rubric_ids)))}
        for review in by_annotation.values():
            assert review.annotation is not None
            review.rubric_label = labels.get(review.annotation.rubric_id, "")
    return list(reviews.values())
