"""What the annotate services share: limits, errors, problems, the candidates as shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from harness.models import (
    Annotation,
    Assignment,
    Candidate,
    Task,
)
from harness.text import line_count

MAX_DRAFT_BYTES = 512 * 1024
MAX_FINDINGS = 500
MAX_COMMENT = 5000
CLOCK_SLACK = 5.0
"""Seconds a client's clock may run ahead of ours between two contacts."""
DRAFT_KEYS = ("findings", "scores", "ranking", "rationale", "confidence", "hint_verdicts")
VERDICTS = ("confirmed", "false_positive")
FAILING = frozenset({"failed", "error", "timeout", "oom", "output_limit", "tamper_suspected"})


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class SubmitResult:
    annotation: Annotation | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    unchanged: bool = False
    """The submission equals the latest version: that version is returned, none is added."""


@dataclass(frozen=True)
class Shown:
    """A candidate as the annotator saw it: its letter comes from the display order."""

    candidate: Candidate
    letter: str
    line_counts: dict[str, int]


def letter(position: int) -> str:
    """A, B, C ... for the first twelve shown, then numbers."""
    return "ABCDEFGHIJKL"[position] if position < 12 else str(position + 1)


def _shown(candidates: Sequence[Candidate]) -> list[Shown]:
    return [
        Shown(c, letter(i), {path: line_count(str(text)) for path, text in c.files.items()})
        for i, c in enumerate(candidates)
    ]


def shown_candidates(assignment: Assignment, candidates: Sequence[Candidate]) -> list[Shown]:
    """The candidates in the order this annotator was shown them."""
    by_id = {c.id: c for c in candidates}
    order = [cid for cid in assignment.display_order if cid in by_id]
    order += [c.id for c in candidates if c.id not in order]
    return _shown([by_id[cid] for cid in order])


_CANDIDATES = (select(Candidate).where(Candidate.task_id == bindparam("task_id"))
               .order_by(Candidate.position))


def task_candidates(session: Session, task: Task) -> list[Candidate]:
    """`task.candidates`, loaded (when not yet) by a statement built once: a lazy load
    builds its statement and cache key again at every request of the write path."""
    if "candidates" not in task.__dict__:
        set_committed_value(task, "candidates",
                            list(session.scalars(_CANDIDATES, {"task_id": task.id})))
    return task.candidates


def in_file_order(candidates: Sequence[Candidate]) -> list[Shown]:
    """The candidates as the task file lists them (a lead's view of a task)."""
    return _shown(candidates)
