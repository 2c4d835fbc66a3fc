"""Static-analysis hints on candidate code: bandit, radon and our test-gaming checks.

    analyze_files(files, language=..., tests=..., max_bytes=...) -> AnalysisResult
    gaming_flags(files, tests) -> list[Hint]
    analyzer_versions() -> {"bandit": ..., "radon": ..., "gaming": ..., "python": ...}

Storage (cache by content hash) lives in `harness.analysis.store`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.analysis.core import (
        analyze_files,
        analyzer_versions,
        gaming_flags,
        is_python_file,
        versions_key,
    )
    from harness.analysis.hints import SEVERITIES, AnalysisResult, Hint
    from harness.analysis.registry import ANALYZERS, Analyzer, register

_WHERE = {
    "analyze_files": "core", "analyzer_versions": "core", "gaming_flags": "core",
    "is_python_file": "core", "versions_key": "core",
    "SEVERITIES": "hints", "AnalysisResult": "hints", "Hint": "hints",
    "ANALYZERS": "registry", "Analyzer": "registry", "register": "registry",
}


def __getattr__(name: str) -> Any:
    """Names load on first use: importing `harness.analysis.hints` (a dataclass the
    review pages need) must not load bandit and radon, which only analysis uses."""
    if name not in _WHERE:
        raise AttributeError(f"module 'harness.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"harness.analysis.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


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
