"""jsonl: every annotation version with its full provenance, then each adjudicated
result (`"source": "adjudicated"`; the annotation versions carry `"source": "annotations"`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from harness.exports.adjudicated import ANNOTATIONS, AdjudicatedRow, adjudication_record
from harness.exports.base import Exporter
from harness.exports.source import AnnotationRow
from harness.models import Project


def annotation_record(row: AnnotationRow) -> dict[str, Any]:
    """One annotation version as the API and the jsonl export give it."""
    return {
        "source": ANNOTATIONS,
        "id": row.id,
        "assignment_id": row.assignment_id,
        "version": row.version,
        "latest": row.latest,
        "task_id": row.task.external_id,
        "is_gold": row.task.is_gold,
        "annotator": row.annotator,
        "simulated": row.simulated,
        "rubric": row.rubric,
        "rubric_version": row.rubric_version,
        "submitted_at": row.submitted_at.isoformat(),
        "active_seconds": round(row.active_seconds, 3),
        "display_order": [row.task.candidates[c].label for c in row.display_order
                          if c in row.task.candidates],
        "hints_visible": row.hints_visible,
        "scores": {_label(row, cid): s for cid, s in row.scores.items()},
        "ranking": [[_label(row, c) for c in group] for group in row.ranking],
        "rationale": row.rationale,
        "confidence": row.confidence,
        "findings": [
            {k: v for k, v in f.items() if k != "candidate_id"} | {
                "candidate": _label(row, f["candidate_id"])}
            for f in row.findings
        ],
        "hint_verdicts": [
            {"candidate": _label(row, v["candidate_id"]), "hint_key": v["hint_key"],
             "rule_id": v["rule_id"], "verdict": v["verdict"]}
            for v in row.hint_verdicts
        ],
        "candidates": [
            {"label": c.label, "model": c.model, "content_hash": c.content_hash, "run": c.run}
            for c in row.task.candidates.values()
        ],
    }


def _label(row: AnnotationRow, cid: Any) -> str:
    cand = row.task.candidates.get(int(cid))
    return cand.label if cand is not None else str(cid)


class Jsonl(Exporter):
    name = "jsonl"
    tabular = False
    latest_only: ClassVar[bool] = False
    with_runs = True
    with_files = False
    adjudications = "append"

    def from_annotation(self, session: Session, project: Project,
                        row: AnnotationRow) -> Iterator[dict[str, Any]]:
        yield annotation_record(row)

    def from_adjudication(self, session: Session, project: Project,
                          row: AdjudicatedRow) -> Iterator[dict[str, Any]]:
        yield adjudication_record(row)
