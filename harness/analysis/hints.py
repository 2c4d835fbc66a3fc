"""The shapes every analyzer returns: a Hint per finding, an AnalysisResult per candidate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("info", "low", "medium", "high")
"""Hint severities, mildest first (the page colours gutter markers by these)."""


@dataclass(frozen=True)
class Hint:
    """One finding on a line range of one file, in a shape stable across analyzers."""

    analyzer: str
    rule_id: str
    title: str
    severity: str
    confidence: str | None
    cwe: int | None
    file_path: str
    line_start: int
    line_end: int
    message: str
    doc_url: str | None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r}: expected one of {SEVERITIES}")
        if self.line_end < self.line_start:
            raise ValueError(f"line_end {self.line_end} is before line_start {self.line_start}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hint:
        return cls(
            analyzer=str(data["analyzer"]),
            rule_id=str(data["rule_id"]),
            title=str(data["title"]),
            severity=str(data["severity"]),
            confidence=None if data.get("confidence") is None else str(data["confidence"]),
            cwe=None if data.get("cwe") is None else int(data["cwe"]),
            file_path=str(data["file_path"]),
            line_start=int(data["line_start"]),
            line_end=int(data["line_end"]),
            message=str(data["message"]),
            doc_url=None if data.get("doc_url") is None else str(data["doc_url"]),
        )

    @property
    def key(self) -> str:
        """Identifies the hint within one candidate (e.g. for an annotator's verdict on it)."""
        return (
            f"{self.analyzer}:{self.rule_id}:{self.file_path}:{self.line_start}-{self.line_end}"
        )

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file_path, self.line_start, self.line_end, self.analyzer, self.rule_id)


@dataclass
class AnalysisResult:
    """Everything the analyzers say about one candidate (all fields JSON-serialisable)."""

    hints: list[Hint] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hints": [h.to_dict() for h in self.hints],
            "metrics": self.metrics,
            "summary": self.summary,
            "versions": self.versions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisResult:
        return cls(
            hints=[Hint.from_dict(h) for h in data.get("hints", [])],
            metrics=dict(data.get("metrics", {})),
            summary=dict(data.get("summary", {})),
            versions=dict(data.get("versions", {})),
        )
