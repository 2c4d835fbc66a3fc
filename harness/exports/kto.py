"""kto: (prompt, completion, label) with label from a rubric threshold the caller sets:
a candidate whose mean score is at or above it is desirable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from harness.exports.adjudicated import ANNOTATIONS
from harness.exports.base import Exporter
from harness.exports.ratings import candidate_scores
from harness.exports.source import AnnotationRow
from harness.models import Project
from harness.rubric import body_of


def default_threshold(project: Project) -> float:
    """The middle of the rubric's scales, averaged over its criteria."""
    body = body_of(project.rubric.content_hash, project.rubric.body)
    if not body.criteria:
        return 0.0
    return sum((c.scale.min + c.scale.max) / 2 for c in body.criteria) / len(body.criteria)


class Kto(Exporter):
    name = "kto"
    adjudications = "ignore"  # labels come from scores, which adjudication does not record

    def from_annotation(self, session: Session, project: Project,
                        row: AnnotationRow) -> Iterator[dict[str, Any]]:
        threshold = self.options.threshold
        if threshold is None:
            threshold = default_threshold(project)
        cands = row.task.candidates
        for cid, _, mean in candidate_scores(row):
            if cid not in cands or mean is None:
                continue
            yield {
                "prompt": row.task.prompt,
                "completion": cands[cid].completion,
                "label": mean >= threshold,
                "mean_rating": mean,
                "threshold": threshold,
                "task_id": row.task.external_id,
                "candidate": cands[cid].label,
                "model": row.model_of(cid),
                "source": ANNOTATIONS,
                "annotation_id": row.id,
                "annotator": row.annotator,
                "simulated": row.simulated,
            }
