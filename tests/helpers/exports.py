"""The export records as their definition reads, computed the slow, obvious way from the
ORM objects: what the fast readers in harness/exports must give, record for record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from harness.exports.source import annotator_hash
from harness.exports.tasks import run_summary
from harness.models import Adjudication, Annotation, Candidate, Project, Rubric, Task
from harness.runs import runs_for_task


def _completion(cand: Candidate) -> str:
    if len(cand.files) == 1:
        return str(next(iter(cand.files.values())))
    return "\n".join(f"# file: {p}\n{t}" for p, t in sorted(cand.files.items()))


def _annotations(session: Session, project: Project) -> list[Annotation]:
    return list(session.scalars(select(Annotation).where(Annotation.project_id == project.id)
                                .order_by(Annotation.id)))


def _newest(annotations: list[Annotation]) -> dict[int, int]:
    newest: dict[int, int] = {}
    for a in annotations:
        newest[a.assignment_id] = max(newest.get(a.assignment_id, 0), a.version)
    return newest


def jsonl_records(session: Session, project: Project) -> list[dict[str, Any]]:
    """Every annotation version of the project, in id order, as the jsonl export and the
    API's annotation pages give it (without the adjudicated records)."""
    annotations = _annotations(session, project)
    newest = _newest(annotations)
    out = []
    for a in annotations:
        task = a.assignment.task
        label = {c.id: c.label for c in task.candidates}
        runs = runs_for_task(session, task) if project.tests_enabled else {}
        rubric = session.get(Rubric, a.rubric_id)
        assert rubric is not None
        out.append({
            "source": "annotations", "id": a.id, "assignment_id": a.assignment_id,
            "version": a.version, "latest": a.version == newest[a.assignment_id],
            "task_id": task.external_id, "is_gold": task.is_gold,
            "annotator": annotator_hash(session, project, a.assignment.user_id),
            "simulated": a.assignment.user.simulated,
            "rubric": rubric.name, "rubric_version": rubric.version,
            "submitted_at": a.submitted_at.isoformat(),
            "active_seconds": round(a.active_seconds, 3),
            "display_order": [label[c] for c in a.display_order],
            "hints_visible": a.hints_visible,
            "scores": {label[int(c)]: s for c, s in a.scores.items()},
            "ranking": [[label[c] for c in group] for group in a.ranking],
            "rationale": a.rationale, "confidence": a.confidence,
            "findings": [{"file_path": f.file_path, "line_start": f.line_start,
                          "line_end": f.line_end, "category": f.category,
                          "severity": f.severity, "cwe": f.cwe, "comment": f.comment,
                          "content_hash": f.content_hash, "candidate": label[f.candidate_id]}
                         for f in sorted(a.findings, key=lambda f: f.id)],
            "hint_verdicts": [{"candidate": label[v.candidate_id], "hint_key": v.hint_key,
                               "rule_id": v.rule_id, "verdict": v.verdict}
                              for v in sorted(a.hint_verdicts, key=lambda v: v.id)],
            "candidates": [{"label": c.label, "model": c.model, "content_hash": c.content_hash,
                            "run": run_summary(runs.get(c.id))} for c in task.candidates],
        })
    return out


def preference_records(session: Session, project: Project) -> list[dict[str, Any]]:
    """The preferences export's records of annotations (each assignment's newest version of
    a task nobody adjudicated, in id order), every ordered pair of its ranking."""
    annotations = _annotations(session, project)
    newest = _newest(annotations)
    adjudicated = set(session.scalars(select(Adjudication.task_id)
                                      .where(Adjudication.project_id == project.id)))
    out = []
    for a in annotations:
        task: Task = a.assignment.task
        if a.version != newest[a.assignment_id] or task.id in adjudicated:
            continue
        cands = {c.id: c for c in task.candidates}
        rubric = session.get(Rubric, a.rubric_id)
        assert rubric is not None
        for i, upper in enumerate(a.ranking):
            for j in range(i + 1, len(a.ranking)):
                for better in upper:
                    for worse in a.ranking[j]:
                        b, w = cands[better], cands[worse]
                        out.append({
                            "prompt": task.prompt, "chosen": _completion(b),
                            "rejected": _completion(w), "margin": float(j - i),
                            "task_id": task.external_id, "chosen_candidate": b.label,
                            "rejected_candidate": w.label,
                            "chosen_model": b.model or b.label,
                            "rejected_model": w.model or w.label,
                            "source": "annotations", "annotation_id": a.id,
                            "annotator": annotator_hash(session, project,
                                                        a.assignment.user_id),
                            "adjudicator": None, "simulated": a.assignment.user.simulated,
                            "rubric_version": rubric.version})
    return out
