"""Our own checks for code that games the test run instead of solving the task.

The rules and their explanations are in gaming_rules, the AST pass in gaming_checks.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.analysis.analyzers.gaming_checks import Checker
from harness.analysis.analyzers.gaming_rules import RULES, file_name_hints, literals_in
from harness.analysis.registry import Analyzer, Context, Report, SourceFile

VERSION = "3"
"""Bump when a rule changes: stored analyses are then recomputed."""

__all__ = ["RULES", "VERSION", "GamingAnalyzer"]


class GamingAnalyzer(Analyzer):
    name = "gaming"

    @classmethod
    def version(cls) -> str:
        return VERSION

    def analyze(self, sources: Sequence[SourceFile], context: Context) -> Report:
        report = Report()
        report.hints.extend(file_name_hints(context.files, context.tests))
        test_literals = literals_in(context.tests)
        data_files = frozenset(p for p in context.files if not p.endswith(".py"))
        for source in sources:
            checker = Checker(source.path, source.tree, test_literals, data_files)
            checker.visit(source.tree)
            report.hints.extend(checker.hints)
        report.summary["gaming"] = len(report.hints)
        return report
