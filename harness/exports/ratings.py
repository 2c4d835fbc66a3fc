"""ratings: per annotation and candidate, the score on each rubric criterion
(UltraFeedback-like: a completion with its per-aspect ratings)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from harness.exports.adjudicated import ANNOTATIONS
from harness.exports.base import Exporter
from harness.exports.source import AnnotationRow
from harness.models import Project


def candidate_scores(row: AnnotationRow) -> Iterator[tuple[int, dict[str, int], float | None]]:
    """(candidate id, criterion -> score, mean score) for each scored candidate."""
    for cid, scores in row.scores.items():
        values = [v for v in scores.values() if isinstance(v, int | float)]
        yield int(cid), dict(scores), (sum(values) / len(values) if values else None)


class Ratings(Exporter):
    name = "ratings"
    adjudications = "ignore"  # adjudication records no scores

    def from_annotation(self, session: Session, project: Project,
                        row: AnnotationRow) -> Iterator[dict[str, Any]]:
        cands = row.task.candidates
        for cid, scores, mean in candidate_scores(row):
            if cid not in cands:
                continue
            yield {
                "prompt": row.task.prompt,
                "completion": cands[cid].completion,
                "task_id": row.task.external_id,
                "candidate": cands[cid].label,
                "model": row.model_of(cid),
                "ratings": scores,
                "mean_rating": mean,
                "source": ANNOTATIONS,
                "annotation_id": row.id,
                "annotator": row.annotator,
                "simulated": row.simulated,
                "rubric_version": row.rubric_version,
            }
