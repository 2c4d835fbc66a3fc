"""People, access and the work itself: users, tokens, rubrics, projects, tasks, candidates."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from harness.models.base import Base, CreatedMixin, utcnow


class Role(enum.StrEnum):
    annotator = "annotator"
    lead = "lead"
    admin = "admin"
    lab = "lab"


class Qualification(enum.StrEnum):
    not_required = "not_required"
    pending = "pending"
    qualified = "qualified"
    failed = "failed"
    paused = "paused"  # gold accuracy fell below the project's mark; a lead lifts it


class User(CreatedMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('annotator', 'lead', 'admin', 'lab')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    simulated: Mapped[bool] = mapped_column(default=False)
    """Made by `harness simulate`: their annotations are marked simulated in every export."""
    tier: Mapped[str | None] = mapped_column(String(16))  # general < coding < security
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    """Bumped when the password changes: a browser session made under another epoch is
    no longer accepted (web.auth.load_user), so a stolen session dies with the password."""

    memberships: Mapped[list[ProjectMember]] = relationship(back_populates="user")


class LoginFailure(Base):
    """One failed login, kept in the database so every server process counts the same
    failures (harness.logins): one row per account key and one per client address key."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))  # "user:NAME" or "addr:ADDRESS"
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectMember(CreatedMixin, Base):
    """A user's access to a project, and their qualification state in it."""

    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    qualification: Mapped[str] = mapped_column(String(16), default=Qualification.not_required)
    paused_at: Mapped[datetime | None]
    pause_lifted_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="memberships")
    project: Mapped[Project] = relationship(back_populates="members")


token_projects = Table(
    "token_projects",
    Base.metadata,
    Column("token_id", ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
)


class ApiToken(CreatedMixin, Base):
    """A lab's token. Only a SHA-256 of the secret is stored; the prefix identifies it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    projects: Mapped[list[Project]] = relationship(secondary=token_projects)


class Rubric(CreatedMixin, Base):
    """One version of a rubric file, stored parsed; a project pins one row."""

    __tablename__ = "rubrics"
    __table_args__ = (UniqueConstraint("name", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[str] = mapped_column(String(40))
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]]


class Project(CreatedMixin, Base):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("overlap >= 1", name="overlap_positive"),
        CheckConstraint("state IN ('active', 'paused', 'archived')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubrics.id"))
    overlap: Mapped[int] = mapped_column(default=1)
    blind: Mapped[bool] = mapped_column(default=True)
    hints_visible: Mapped[bool] = mapped_column(default=True)
    tests_enabled: Mapped[bool] = mapped_column(default=True)
    sandbox_limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # How candidates run: "split" (the trusted tests in a judge the candidate cannot
    # reach) or "in_process" (the project opts out; harness.runs.keys.run_mode).
    execution_mode: Mapped[str] = mapped_column(String(16), default="split",
                                                server_default="split")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="active")
    # kept by the importer (the one place tasks are added), in the same transaction
    task_count: Mapped[int] = mapped_column(default=0, server_default="0")

    rubric: Mapped[Rubric] = relationship()
    members: Mapped[list[ProjectMember]] = relationship(back_populates="project")


class Task(CreatedMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("project_id", "external_id"),
        Index("ix_tasks_project_position", "project_id", "position"),
        Index("ix_tasks_project_open", "project_id", "is_full", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)
    prompt: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(32))
    tests: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Run like `tests`, never shown to candidates, and to annotators only after they
    # submit. tests_hash covers both (harness.taskfile.tests_hash).
    hidden_tests: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tests_hash: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_gold: Mapped[bool] = mapped_column(default=False)
    gold_answer: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Kept by the database, never written here (migration 0013's triggers): how many
    # assignments hold the task (active or submitted), and whether that is the project's
    # k. A claim walks the open tasks by ix_tasks_project_open.
    holding: Mapped[int] = mapped_column(default=0, server_default="0")
    is_full: Mapped[bool] = mapped_column(default=False, server_default=false())

    project: Mapped[Project] = relationship()
    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="task",
        order_by="Candidate.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Candidate(CreatedMixin, Base):
    """One implementation of a task. content_hash covers file names and contents."""

    __tablename__ = "candidates"
    __table_args__ = (UniqueConstraint("task_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)
    model: Mapped[str] = mapped_column(String(200), default="")
    files: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)

    task: Mapped[Task] = relationship(back_populates="candidates")


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
