"""submit_annotation: an accepted submission is a new Annotation version; older ones stay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness import audit, settings, webhooks
from harness.analysis.hints import Hint
from harness.annotate.checks import (
    consistency_warnings,
    known_hints,
    run_outcomes,
    validate,
)
from harness.annotate.common import (
    SubmitResult,
    shown_candidates,
)
from harness.annotate.drafts import normalise_draft, writable
from harness.models import (
    Annotation,
    Assignment,
    Candidate,
    Finding,
    HintVerdict,
    Project,
    utcnow,
)
from harness.rubric import RubricBody

# --- submit ---------------------------------------------------------------------------


def submit_annotation(
    session: Session,
    assignment: Assignment,
    project: Project,
    rubric: RubricBody,
    payload: Any,
    *,
    acknowledge_warnings: bool = False,
    now: datetime | None = None,
) -> SubmitResult:
    """Check the payload against the rubric and store it as a new annotation version.

    Nothing changes when there are errors, or warnings the annotator has not yet seen.
    """
    now = now or utcnow()
    draft = normalise_draft(payload)
    task = assignment.task
    shown = shown_candidates(assignment, task.candidates)
    hints = None
    if project.hints_visible:
        hints = known_hints(session, task, shown, max_bytes=settings.max_file_bytes(session))
    clean, errors = validate(rubric, shown, draft, hints)
    if errors:
        return SubmitResult(None, errors=errors)
    outcomes = run_outcomes(session, assignment.task, [s.candidate for s in shown])
    warnings = consistency_warnings(rubric, shown, draft, outcomes)
    if warnings and not acknowledge_warnings:
        return SubmitResult(None, warnings=warnings)
    writable(session, assignment, project, now)
    version = (
        session.scalar(
            select(func.max(Annotation.version)).where(Annotation.assignment_id == assignment.id)
        )
        or 0
    ) + 1
    annotation = Annotation(
        assignment_id=assignment.id,
        version=version,
        rubric_id=project.rubric_id,
        scores=clean["scores"],
        ranking=clean["ranking"],
        rationale=clean["rationale"],
        confidence=clean["confidence"],
        display_order=[s.candidate.id for s in shown],
        active_seconds=float(assignment.active_seconds or 0.0),
        hints_visible=project.hints_visible,
        submitted_at=now,
    )
    for f in clean["findings"]:
        cand: Candidate = f["candidate"]
        annotation.findings.append(
            Finding(
                candidate_id=cand.id,
                content_hash=cand.content_hash,
                file_path=f["file_path"],
                line_start=f["line_start"],
                line_end=f["line_end"],
                category=f["category"],
                severity=f["severity"],
                cwe=f["cwe"],
                comment=f["comment"],
            )
        )
    hint: Hint
    for cid, hint, verdict in clean["hint_verdicts"]:
        annotation.hint_verdicts.append(
            HintVerdict(
                candidate_id=cid,
                hint_key=hint.key[:300],
                rule_id=hint.rule_id[:80],
                verdict=verdict,
            )
        )
    session.add(annotation)
    assignment.state = "submitted"
    assignment.submitted_at = now
    assignment.draft = draft
    assignment.draft_saved_at = now
    assignment.lease_expires_at = None
    session.flush()
    audit.record(session, "annotation.submit", user_id=assignment.user_id,
                 project_id=assignment.project_id, object_type="annotation",
                 object_id=annotation.id, assignment=assignment.id, version=version,
                 warnings=[w.message for w in warnings])
    webhooks.annotation_submitted(session, assignment, annotation.id, version)
    session.flush()
    return SubmitResult(annotation, warnings=warnings)
