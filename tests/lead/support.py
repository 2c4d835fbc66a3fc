"""Annotations made the way annotators make them: claim_next, then submit_annotation."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from harness import assignments
from harness.annotate import shown_candidates, submit_annotation
from harness.models import Annotation, Project, User
from harness.rubric import body_of


def payload_for(db: Session, project: Project, assignment: Any, **overrides: Any) -> dict[str, Any]:
    """A complete submission for the code-review rubric: everything scored 3, the
    candidates ranked in the order shown, no findings."""
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    shown = shown_candidates(assignment, assignment.task.candidates)
    scores = {str(s.candidate.id): {c.key: 3 for c in rubric.criteria} for s in shown}
    payload: dict[str, Any] = {
        "findings": [],
        "scores": scores,
        "ranking": [[s.candidate.id] for s in shown],
        "rationale": "A rationale long enough for the rubric.",
        "confidence": 3,
    }
    payload.update(overrides)
    return payload


def annotate_task(db: Session, project: Project, user: User, **overrides: Any) -> Annotation:
    """Claim the user's next task in the project and submit for it; commits."""
    claim = assignments.claim_next(db, user.id, project)
    assert claim.assignment is not None, claim.reason
    assignment = claim.assignment
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    payload = payload_for(db, project, assignment, **overrides)
    if callable(overrides.get("build")):
        payload = overrides["build"](assignment, payload)
    payload.pop("build", None)
    result = submit_annotation(db, assignment, project, rubric, payload,
                               acknowledge_warnings=True)
    assert result.annotation is not None, result.errors
    db.commit()
    return result.annotation
