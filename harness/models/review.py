"""What annotators record: assignments, annotation versions, findings, hint verdicts, probes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from harness.models.base import Base, CreatedMixin
from harness.models.core import Candidate, Project, Task, User


class Assignment(CreatedMixin, Base):
    """One annotator's turn at one task. display_order is the candidate ids as shown."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("task_id", "user_id"),
        CheckConstraint(
            "state IN ('active', 'submitted', 'skipped', 'expired')", name="state"
        ),
        Index("ix_assignments_project_state", "project_id", "state"),
        # every claim first expires the lapsed leases (harness.leases.expire_leases)
        Index("ix_assignments_state_lease", "state", "lease_expires_at"),
        # every draft save's last contact on the user's other assignments, in one probe
        # (harness.assignments._OTHERS_LAST; migration 0015 says why the one on user_id
        # alone stays)
        Index("ix_assignments_user_saved", "user_id", "draft_saved_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="active")
    display_order: Mapped[list[Any]] = mapped_column(default=list)
    lease_expires_at: Mapped[datetime | None]
    active_seconds: Mapped[float] = mapped_column(default=0.0)
    draft: Mapped[dict[str, Any] | None]
    draft_saved_at: Mapped[datetime | None]
    draft_revision: Mapped[int] = mapped_column(default=0, server_default="0")
    """Counts stored drafts; a save names the revision it was based on (stale: 409)."""
    draft_writer: Mapped[str | None] = mapped_column(String(64))
    """The page (a random id per page load) that stored the current revision."""
    submitted_revision: Mapped[int] = mapped_column(default=0, server_default="0")
    """The draft revision the latest version was submitted from (banner: changed since)."""
    skip_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship()
    task: Mapped[Task] = relationship()
    user: Mapped[User] = relationship()
    annotations: Mapped[list[Annotation]] = relationship(
        back_populates="assignment", order_by="Annotation.version"
    )


class Annotation(CreatedMixin, Base):
    """One submitted version. Resubmitting adds a row; history is kept."""

    __tablename__ = "annotations"
    __table_args__ = (UniqueConstraint("assignment_id", "version"),
                      Index("ix_annotations_project_id_id", "project_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    project_id: Mapped[int]
    """The assignment's project, copied so a project's versions are one index range in id
    order (the lab API's `since` pages, the exports); migration 0007 says why."""
    version: Mapped[int] = mapped_column(default=1)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubrics.id"))
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ranking: Mapped[list[Any]] = mapped_column(default=list)
    rationale: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[int | None]
    display_order: Mapped[list[Any]] = mapped_column(default=list)
    active_seconds: Mapped[float] = mapped_column(default=0.0)
    hints_visible: Mapped[bool] = mapped_column(default=True)
    submitted_at: Mapped[datetime]
    record: Mapped[str | None] = mapped_column(Text)
    """The members of this version's exported record fixed at submit, as JSON text
    (harness/records.py); NULL for a version from before migration 0012 until filled."""

    assignment: Mapped[Assignment] = relationship(back_populates="annotations")
    findings: Mapped[list[Finding]] = relationship(
        back_populates="annotation", cascade="all, delete-orphan", passive_deletes=True
    )
    hint_verdicts: Mapped[list[HintVerdict]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class Finding(Base):
    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint("line_start >= 1", name="line_start_positive"),
        CheckConstraint("line_end >= line_start", name="line_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    annotation_id: Mapped[int] = mapped_column(
        ForeignKey("annotations.id", ondelete="CASCADE"), index=True
    )
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    content_hash: Mapped[str] = mapped_column(String(64))
    file_path: Mapped[str] = mapped_column(String(500))
    line_start: Mapped[int]
    line_end: Mapped[int]
    category: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(20))
    cwe: Mapped[int | None]
    comment: Mapped[str] = mapped_column(Text, default="")

    annotation: Mapped[Annotation] = relationship(back_populates="findings")
    candidate: Mapped[Candidate] = relationship()


class HintVerdict(Base):
    """An annotator's triage of one static hint: confirmed or false_positive."""

    __tablename__ = "hint_verdicts"
    __table_args__ = (
        UniqueConstraint("annotation_id", "candidate_id", "hint_key"),
        CheckConstraint("verdict IN ('confirmed', 'false_positive')", name="verdict"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    annotation_id: Mapped[int] = mapped_column(ForeignKey("annotations.id", ondelete="CASCADE"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    hint_key: Mapped[str] = mapped_column(String(300))
    rule_id: Mapped[str] = mapped_column(String(80))
    verdict: Mapped[str] = mapped_column(String(20))


class ProbeTest(CreatedMixin, Base):
    """An extra test an annotator wrote in the browser, run against every candidate."""

    __tablename__ = "probe_tests"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(Text)
    results: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Webhook(CreatedMixin, Base):
    """A project's webhook: JSON bodies signed with HMAC-SHA256 of `secret`."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)


class WebhookDelivery(CreatedMixin, Base):
    """One event for one webhook: the durable queue of sends, retried with backoff."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'sent', 'failed')", name="state"),
        Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
