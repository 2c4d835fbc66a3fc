"""submit_annotation: an accepted submission is a new Annotation version; older ones stay."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from harness import audit, qualification, settings, stats, webhooks
from harness.agreement import rated_of
from harness.annotate.checks import (
    consistency_warnings,
    known_hints,
    run_outcomes,
    validate,
)
from harness.annotate.common import (
    Shown,
    SubmitResult,
    shown_candidates,
    task_candidates,
)
from harness.annotate.drafts import (
    lock_annotation_ids,
    lock_assignment,
    normalise_draft,
    writable,
)
from harness.models import (
    Annotation,
    Assignment,
    Candidate,
    Finding,
    HintVerdict,
    Project,
    utcnow,
)
from harness.records import record_body
from harness.rubric import RubricBody

# --- submit ---------------------------------------------------------------------------

_LATEST = (select(Annotation).where(Annotation.assignment_id == bindparam("assignment_id"))
           .order_by(Annotation.version.desc()).limit(1))
"""The assignment's latest version (built once: harness.leases.renew_lease says why)."""


def submit_annotation(
    session: Session,
    assignment: Assignment,
    project: Project,
    rubric: RubricBody,
    payload: Any,
    *,
    acknowledge_warnings: bool = False,
    lease_renewed: bool = False,
    now: datetime | None = None,
) -> SubmitResult:
    """Check the payload against the rubric and store it as a new annotation version.

    Nothing changes when there are errors, or warnings the annotator has not yet seen.
    `lease_renewed`: the caller's `save_draft` renewed the lease in this transaction,
    which holds the assignment's row (PostgreSQL) or the write lock (SQLite) to the
    commit, so the lease check is not repeated.
    """
    now = now or utcnow()
    draft = normalise_draft(payload)
    candidates = task_candidates(session, assignment.task)
    shown = shown_candidates(assignment, candidates)
    hints = None
    if project.hints_visible:
        hints = known_hints(session, assignment.task, shown,
                            max_bytes=settings.max_file_bytes(session))
    clean, errors = validate(rubric, shown, draft, hints)
    if errors:
        return SubmitResult(None, errors=errors)
    if not lease_renewed:
        writable(session, assignment, project, now)
        lock_assignment(session, assignment)
    # read under the assignment's lock (taken above, or by the caller's save_draft, whose
    # writes hold the row, PostgreSQL, or the write lock, SQLite, to the commit): of two
    # identical submits racing, the second sees the first's version. The same review
    # again is that version (its warnings were answered then).
    latest = session.scalars(_LATEST, {"assignment_id": assignment.id}).first()
    if latest is not None and _content_of(latest) == _content_of_clean(clean, project):
        _mark_submitted(assignment, None)
        stats.refresh_task(session, project, assignment.task_id)
        return SubmitResult(latest, unchanged=True)
    outcomes = run_outcomes(session, assignment.task, [s.candidate for s in shown])
    warnings = consistency_warnings(rubric, shown, draft, outcomes)
    if warnings and not acknowledge_warnings:
        return SubmitResult(None, warnings=warnings)
    annotation, parts = _new_version(assignment, project, clean, shown,
                                     (latest.version if latest else 0) + 1, now)
    annotation.record = _record_of(annotation, parts, rubric, candidates)
    _mark_submitted(assignment, now)
    assignment.draft = draft
    hooked = webhooks.any_for(session, project.id)
    # Everything that does not need the new annotation's id comes before it is drawn:
    # the task's figures count it as pending (stats.refresh_task flushes the assignment).
    stats.refresh_task(session, project, assignment.task_id, pending=rated_of(
        assignment.user_id, json_copy(annotation.scores), annotation.ranking,
        annotation.display_order, parts.findings))
    # The tail, from the id lock to the commit, is serialised per project on PostgreSQL
    # (lock_annotation_ids): keep it to the inserts that need the id.
    lock_annotation_ids(session, project.id)  # held to the commit: ids commit in order
    session.add(annotation)
    session.flush()
    parts.insert(session, annotation)
    audit.record(session, "annotation.submit", user_id=assignment.user_id,
                 project_id=assignment.project_id, object_type="annotation",
                 object_id=annotation.id, assignment=assignment.id,
                 version=annotation.version, warnings=[w.message for w in warnings])
    if hooked:
        webhooks.annotation_submitted(session, assignment, annotation.id, annotation.version)
    session.flush()
    if assignment.task.is_gold:  # graded from the stored annotations, so after the insert
        qualification.after_submit(session, project, assignment)
    return SubmitResult(annotation, warnings=warnings)


def _mark_submitted(assignment: Assignment, now: datetime | None) -> None:
    """The assignment is submitted and its lease released; `now` is the time of a new
    version (None: the same review again, which keeps the first submit's time)."""
    assignment.state = "submitted"
    assignment.lease_expires_at = None
    assignment.submitted_revision = assignment.draft_revision
    if now is not None:
        assignment.submitted_at = now
        assignment.draft_saved_at = now


@dataclass
class _Parts:
    """A new version's findings and hint verdicts, inserted once its id is drawn: one
    executemany each (`insert`), not the unit of work's INSERT a row, which fetches every
    row's id back (on SQLite one statement a finding: 20 findings, 20 statements)."""

    findings: list[Finding]
    verdicts: list[HintVerdict]

    def insert(self, session: Session, annotation: Annotation) -> None:
        for table, rows in ((Finding.__table__, self.findings),
                            (HintVerdict.__table__, self.verdicts)):
            if rows:
                assert isinstance(table, Table)
                columns = [c.key for c in table.columns if c.key not in ("id", "annotation_id")]
                session.execute(insert(table), [
                    {"annotation_id": annotation.id, **{k: getattr(row, k) for k in columns}}
                    for row in rows])
        # read from the database if asked for again in this session (never an empty list)
        session.expire(annotation, ["findings", "hint_verdicts"])


def _new_version(
    assignment: Assignment, project: Project, clean: dict[str, Any], shown: list[Shown],
    version: int, now: datetime,
) -> tuple[Annotation, _Parts]:
    """The checked review as Annotation `version`, and its findings and hint verdicts
    (not yet in the session: `_Parts.insert`)."""
    annotation = Annotation(
        assignment_id=assignment.id,
        project_id=assignment.project_id,
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
    findings = []
    for f in clean["findings"]:
        cand: Candidate = f["candidate"]
        findings.append(Finding(
            candidate_id=cand.id, content_hash=cand.content_hash, file_path=f["file_path"],
            line_start=f["line_start"], line_end=f["line_end"], category=f["category"],
            severity=f["severity"], cwe=f["cwe"], comment=f["comment"],
        ))
    verdicts = [HintVerdict(candidate_id=cid, hint_key=hint.key[:300], rule_id=hint.rule_id[:80],
                            verdict=verdict)
                for cid, hint, verdict in clean["hint_verdicts"]]
    return annotation, _Parts(findings, verdicts)


def _record_of(annotation: Annotation, parts: _Parts, rubric: RubricBody,
               candidates: list[Candidate]) -> str:
    """The version's record body (harness/records.py), from what is stored with it; the
    rubric body is the project's pinned row's, whose name and version it carries."""
    return record_body(
        labels={c.id: c.label for c in candidates}, rubric=rubric.name,
        rubric_version=rubric.version, submitted_at=annotation.submitted_at,
        active_seconds=annotation.active_seconds, display_order=annotation.display_order,
        hints_visible=annotation.hints_visible, scores=annotation.scores,
        ranking=annotation.ranking, rationale=annotation.rationale,
        confidence=annotation.confidence,
        findings=[(f.candidate_id, f.file_path, f.line_start, f.line_end, f.category,
                   f.severity, f.cwe, f.comment, f.content_hash) for f in parts.findings],
        verdicts=[(v.candidate_id, v.hint_key, v.rule_id, v.verdict) for v in parts.verdicts])


def json_copy(value: Any) -> Any:
    """`value` as a JSON column gives it back (string keys): what the figures read."""
    return json.loads(json.dumps(value))


def _content_of(annotation: Annotation) -> tuple[Any, ...]:
    """What a version records, comparable with `_content_of_clean`."""
    return (
        annotation.rubric_id, annotation.scores, annotation.ranking, annotation.rationale,
        annotation.confidence, annotation.hints_visible,
        sorted(repr((f.candidate_id, f.file_path, f.line_start, f.line_end, f.category,
                     f.severity, f.cwe, f.comment)) for f in annotation.findings),
        sorted(repr((v.candidate_id, v.hint_key, v.verdict)) for v in annotation.hint_verdicts),
    )


def _content_of_clean(clean: dict[str, Any], project: Project) -> tuple[Any, ...]:
    return (
        project.rubric_id, clean["scores"], clean["ranking"], clean["rationale"],
        clean["confidence"], project.hints_visible,
        sorted(repr((f["candidate"].id, f["file_path"], f["line_start"], f["line_end"],
                     f["category"], f["severity"], f["cwe"], f["comment"]))
               for f in clean["findings"]),
        sorted(repr((cid, hint.key[:300], verdict)) for cid, hint, verdict
               in clean["hint_verdicts"]),
    )
