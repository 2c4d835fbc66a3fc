"""Sandboxed test runs, as a durable queue in the database.

A run is identified by what decides its outcome: (candidate hash, tests hash
(visible and hidden tests), image, limits, execution mode) — the dedup key.
Identical candidates share one run. A lead's re-run adds a row with the next
generation; the newest generation is current.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from harness.models.base import Base, CreatedMixin


class TestRun(CreatedMixin, Base):
    __tablename__ = "test_runs"
    __test__ = False  # not a pytest class
    __table_args__ = (
        UniqueConstraint("dedup_key", "generation"),
        CheckConstraint("state IN ('queued', 'running', 'done')", name="state"),
        Index("ix_test_runs_state_created", "state", "created_at"),
        Index("ix_test_runs_candidate_tests", "candidate_hash", "tests_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(64))
    generation: Mapped[int] = mapped_column(default=1)
    candidate_hash: Mapped[str] = mapped_column(String(64))
    tests_hash: Mapped[str] = mapped_column(String(64))
    image: Mapped[str] = mapped_column(String(200))
    limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tests: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The task's hidden tests: they run with `tests`; their outcomes are marked hidden.
    hidden_tests: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # "split" or "in_process": how the worker runs it (None: rows from before 0010).
    mode: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    status: Mapped[str | None] = mapped_column(String(32))
    backend: Mapped[str | None] = mapped_column(String(16))
    isolation: Mapped[str | None] = mapped_column(String(16))
    result: Mapped[dict[str, Any] | None]
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
