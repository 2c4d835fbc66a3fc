"""Static-analysis hints on candidate code: bandit, radon and our test-gaming checks.

    analyze_files(files, language=..., tests=..., max_bytes=...) -> AnalysisResult
    gaming_flags(files, tests) -> list[Hint]
    analyzer_versions() -> {"bandit": ..., "radon": ..., "gaming": ..., "python": ...}

Storage (cache by content hash) lives in `harness.analysis.store`.
"""

from __future__ import annotations

from harness.analysis.core import (
    analyze_files,
    analyzer_versions,
    gaming_flags,
    is_python_file,
    versions_key,
)
from harness.analysis.hints import SEVERITIES, AnalysisResult, Hint
from harness.analysis.registry import ANALYZERS, Analyzer, register

__all__ = [
    "ANALYZERS",
    "SEVERITIES",
    "AnalysisResult",
    "Analyzer",
    "Hint",
    "analyze_files",
    "analyzer_versions",
    "gaming_flags",
    "is_python_file",
    "register",
    "versions_key",
]
