"""What the review page's script needs to know, as plain data (the view adds URLs)."""

from __future__ import annotations

from typing import Any

from harness.annotate.common import Shown
from harness.cwe import COMMON_CWES
from harness.models import Assignment
from harness.rubric import RubricBody


def rubric_state(rubric: RubricBody) -> dict[str, Any]:
    return {
        "criteria": [
            {"key": c.key, "label": c.label, "min": c.scale.min, "max": c.scale.max,
             "required": c.required}
            for c in rubric.criteria
        ],
        "categories": [{"key": c.key, "label": c.label, "cwe": c.cwe} for c in rubric.categories],
        "severities": rubric.severities,
        "ties": rubric.ranking.ties,
        "ranking": rubric.ranking.enabled,
    }


def review_state(assignment: Assignment, shown: list[Shown], rubric: RubricBody,
                 versions: int) -> dict[str, Any]:
    """The assignment, its candidates as shown, the rubric, the CWE list and the draft."""
    return {
        "assignment": assignment.id,
        "state": assignment.state,
        "candidates": [
            {"id": s.candidate.id, "letter": s.letter, "files": s.line_counts} for s in shown
        ],
        "rubric": rubric_state(rubric),
        "cwes": [[cwe_id, name] for cwe_id, name in COMMON_CWES],
        "draft": assignment.draft or {},
        "versions": versions,
        "active_seconds": assignment.active_seconds,
    }
