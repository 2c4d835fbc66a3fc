"""Static-analysis results, stored once per candidate content hash and analyzer versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from harness.models.base import Base, CreatedMixin


class Analysis(CreatedMixin, Base):
    """AnalysisResult of `harness.analysis.analyze_files`, as JSON columns.

    Keyed by (content_hash, versions_key): a new bandit, radon, gaming-rule or
    Python version gives a new key, so old rows are never served for it.
    What else a result depends on (language, the task's tests, the size cap) is
    hashed into summary["context_hash"]; a row whose context differs is
    recomputed in place by harness.analysis.store.
    """

    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("content_hash", "versions_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    versions_key: Mapped[str] = mapped_column(String(64))
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hints: Mapped[list[Any]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
