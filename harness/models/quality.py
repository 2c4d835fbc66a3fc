"""What leads record about quality, apart from the annotators' raw annotations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Text, UniqueConstraint
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
