"""Static-analysis results, stored once per candidate content, analyzer versions and context;
highlighted source, once per content and language."""

from __future__ import annotations

from typing import Any

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from harness.models.base import Base, CreatedMixin


class Analysis(CreatedMixin, Base):
    """AnalysisResult of `harness.analysis.analyze_files`, as JSON columns.

    Keyed by (content_hash, versions_key, context_hash): a new bandit, radon,
    gaming-rule or Python version gives a new key, so old rows are never served
    for it. context_hash (harness.analysis.store.context_hash) covers what else a
    result depends on: the language, the task's tests (the test-gaming rules
    compare the code with them) and the size cap. The same content in two tasks
    with different tests has two rows, and each task's pages read their own.
    """

    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("content_hash", "versions_key", "context_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    versions_key: Mapped[str] = mapped_column(String(64))
    context_hash: Mapped[str] = mapped_column(String(64))
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hints: Mapped[list[Any]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Highlight(CreatedMixin, Base):
    """A candidate's files highlighted (harness.highlight: compressed JSON of one escaped
    HTML fragment per line), keyed by content hash, the task's language and the format
    (pygments' version). Written by the analysis pass at import, read by the task pages."""

    __tablename__ = "highlights"
    __table_args__ = (UniqueConstraint("content_hash", "language", "format_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(32))
    format_key: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
