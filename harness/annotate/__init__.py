"""Drafts, submissions and their checks: what an annotator records on the review page.

A draft is the page's state as JSON, saved as it is typed (shape-checked, never
judged). A submission is checked against the project's rubric; every problem
names the field it concerns, and a submission with any problem changes
nothing. Each accepted submission is a new Annotation version; older versions
stay. Consistency warnings never block: they ask the annotator to look again.
"""

from __future__ import annotations

from harness.annotate.checks import (
    consistency_warnings,
    known_hints,
    run_outcomes,
    validate,
)
from harness.annotate.common import (
    CLOCK_SLACK,
    DRAFT_KEYS,
    FAILING,
    MAX_COMMENT,
    MAX_DRAFT_BYTES,
    MAX_FINDINGS,
    VERDICTS,
    Problem,
    Shown,
    SubmitResult,
    in_file_order,
    letter,
    shown_candidates,
)
from harness.annotate.drafts import (
    CheckedDraft,
    add_active_time,
    checked_draft,
    draft_warnings,
    normalise_draft,
    save_draft,
)
from harness.annotate.submit import submit_annotation

__all__ = [
    "CheckedDraft",
    "CLOCK_SLACK",
    "DRAFT_KEYS",
    "FAILING",
    "MAX_COMMENT",
    "MAX_DRAFT_BYTES",
    "MAX_FINDINGS",
    "Problem",
    "Shown",
    "SubmitResult",
    "VERDICTS",
    "add_active_time",
    "checked_draft",
    "consistency_warnings",
    "draft_warnings",
    "known_hints",
    "normalise_draft",
    "run_outcomes",
    "save_draft",
    "in_file_order",
    "letter",
    "shown_candidates",
    "submit_annotation",
    "validate",
]
