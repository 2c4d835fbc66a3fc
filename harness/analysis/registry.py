"""The analyzer registry: one class per analyzer, one registration line each.

Adding an analyzer is a new module in `harness/analysis/analyzers/` with a subclass
of `Analyzer`, plus a `register(...)` line in that package's `__init__`.
"""

from __future__ import annotations

import ast
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.analysis.hints import Hint


@dataclass(frozen=True)
class SourceFile:
    """A Python file of a candidate that parsed: its path, text, bytes and tree."""

    path: str
    text: str
    data: bytes
    tree: ast.Module


@dataclass(frozen=True)
class Context:
    """What an analyzer may look at beyond the parsed sources."""

    files: Mapping[str, str]
    """Every file of the candidate, Python or not, parsed or not."""
    tests: Mapping[str, str]
    """The task's test files (not analysed; some rules compare against them)."""
    language: str = "python"


@dataclass
class Report:
    """One analyzer's output for one candidate."""

    hints: list[Hint] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per file path, merged into AnalysisResult.metrics."""
    summary: dict[str, Any] = field(default_factory=dict)
    """Merged into AnalysisResult.summary (keys are the analyzer's own)."""
    skipped: list[dict[str, str]] = field(default_factory=list)
    """{"file": path, "reason": ...} for files this analyzer could not handle."""


class Analyzer(ABC):
    """A static analyzer. Instances are created once per process and reused."""

    name: ClassVar[str]
    languages: ClassVar[frozenset[str]] = frozenset({"python"})

    @classmethod
    @abstractmethod
    def version(cls) -> str:
        """The version that goes into the cache key; a change re-analyses everything."""

    @abstractmethod
    def analyze(self, sources: Sequence[SourceFile], context: Context) -> Report:
        """Hints, metrics and summary for the parsed Python files of one candidate."""


ANALYZERS: dict[str, type[Analyzer]] = {}
_instances: dict[str, Analyzer] = {}


def register(cls: type[Analyzer]) -> type[Analyzer]:
    if cls.name in ANALYZERS and ANALYZERS[cls.name] is not cls:
        raise ValueError(f"analyzer {cls.name!r} is already registered")
    ANALYZERS[cls.name] = cls
    return cls


def get_analyzer(name: str) -> Analyzer:
    """The process-wide instance of a registered analyzer (created on first use)."""
    instance = _instances.get(name)
    if instance is None:
        instance = _instances[name] = ANALYZERS[name]()
    return instance
