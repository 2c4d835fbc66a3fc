"""What leads record about quality, apart from the annotators' raw annotations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from harness.models.base import Base, CreatedMixin, utcnow


class Adjudication(CreatedMixin, Base):
    """A lead's final word on one task: the final ranking and the final findings.

    Kept apart from the annotations it was made from (those stay as submitted);
    exports use it where it exists. findings: the final findings as JSON objects
    (candidate_id, file_path, line_start, line_end, category, severity, cwe,
    comment, merged_from: the ids of the annotators' findings it stands for).
    """

    __tablename__ = "adjudications"
    __table_args__ = (UniqueConstraint("task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ranking: Mapped[list[Any]] = mapped_column(default=list)
    findings: Mapped[list[Any]] = mapped_column(default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    annotation_ids: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QualificationAttempt(CreatedMixin, Base):
    """An annotator's one graded attempt at a project's starter assessment."""

    __tablename__ = "qualification_attempts"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    score: Mapped[float]
    passed: Mapped[bool]
    details: Mapped[list[Any]] = mapped_column(default=list)


class TaskStats(Base):
    """A task's agreement and progress figures, kept so pages never recompute them.

    Written by `harness.stats.refresh_task` in the same transaction as each submit,
    skip and adjudication of the task; a page reads rows, never annotations.
    coincidences: the task's Krippendorff coincidence matrix as [c, k, weight]
    rows (summed over tasks they give the project's pooled alpha exactly);
    positions: {"ranked", "expected", "wins": [per display position]} from the
    latest version of each submitted annotation; lowest: the smallest defined
    figure (the adjudication queue's order), None when none is defined.
    """

    __tablename__ = "task_stats"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    submitted: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    alpha: Mapped[float | None]
    w: Mapped[float | None]
    findings: Mapped[float | None]
    lowest: Mapped[float | None]
    coincidences: Mapped[list[Any]] = mapped_column(default=list)
    positions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    adjudicated: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


IMPORT_STATES = ("queued", "running", "analysing", "done", "failed", "interrupted")


class ImportJob(CreatedMixin, Base):
    """A background import from the browser, kept in the database so its page survives a
    restart. owner: the process running it (`host:pid:start`, sandboxes.owners); a job
    left queued, running or analysing by a dead owner is shown as interrupted. The
    import itself is one transaction, which also moves the job to `analysing` with its
    counts: a job still `running` when its owner died imported nothing."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'analysing', 'done', 'failed', "
                        "'interrupted')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(255))
    lines: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    owner: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    candidates: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list[Any]] = mapped_column(default=list)
    interrupted_in: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]
