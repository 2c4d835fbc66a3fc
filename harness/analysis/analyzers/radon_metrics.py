"""radon, through its Python API: CC per function, MI, raw and Halstead per file.

Each file is parsed once (the shared tree) and fed to radon's visitors the way
`radon cc` and `radon mi` (default options: multi-line strings count as
comments) compute them, so the figures equal the command-line tools'.
Functions ranked C or worse and files with MI rank C also become hints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import radon
from radon.complexity import cc_rank
from radon.metrics import h_visit_ast, mi_compute, mi_rank
from radon.raw import analyze as raw_analyze
from radon.visitors import ComplexityVisitor, Function

from harness.analysis.hints import Hint
from harness.analysis.registry import Analyzer, Context, Report, SourceFile

CC_DOC_URL = "https://radon.readthedocs.io/en/latest/commandline.html#the-cc-command"
MI_DOC_URL = "https://radon.readthedocs.io/en/latest/commandline.html#the-mi-command"
_CC_HINT_SEVERITY = {"C": "low", "D": "medium", "E": "high", "F": "high"}
_CC_RISK = {
    "C": "moderate risk, slightly complex",
    "D": "more than moderate risk, more complex",
    "E": "high risk, complex, alarming",
    "F": "very high risk, error-prone, unstable",
}


class RadonAnalyzer(Analyzer):
    name = "radon"

    @classmethod
    def version(cls) -> str:
        return str(radon.__version__)

    def analyze(self, sources: Sequence[SourceFile], context: Context) -> Report:
        report = Report()
        worst: dict[str, Any] | None = None
        mi_min: float | None = None
        for source in sources:
            try:
                metrics = file_metrics(source)
            except Exception as exc:  # radon has its own bugs; never let one sink the candidate
                report.skipped.append({"file": source.path, "reason": f"radon: {exc}"})
                continue
            report.metrics[source.path] = metrics
            report.hints.extend(_hints(source.path, metrics))
            if mi_min is None or metrics["mi"] < mi_min:
                mi_min = metrics["mi"]
            for fn in metrics["functions"]:
                if worst is None or fn["cc"] > worst["cc"]:
                    name = fn["name"] if fn["classname"] is None else (
                        f"{fn['classname']}.{fn['name']}"
                    )
                    worst = {
                        "cc": fn["cc"],
                        "rank": fn["rank"],
                        "function": name,
                        "file": source.path,
                        "line": fn["lineno"],
                    }
        report.summary["worst_cc"] = worst
        report.summary["mi"] = mi_min
        report.summary["mi_rank"] = None if mi_min is None else mi_rank(mi_min)
        return report


def file_metrics(source: SourceFile) -> dict[str, Any]:
    # radon's command line reads files in text mode with the detected encoding:
    # universal newlines, and a UTF-8 byte-order mark dropped.
    text = source.text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    visitor = ComplexityVisitor.from_ast(source.tree)
    functions = [
        {
            "name": block.name,
            "lineno": block.lineno,
            "endline": block.endline,
            "cc": block.complexity,
            "rank": cc_rank(block.complexity),
            "classname": block.classname,
        }
        for block in visitor.blocks
        if isinstance(block, Function)
    ]
    halstead = h_visit_ast(source.tree).total
    raw = raw_analyze(text)
    comment_lines = raw.comments + raw.multi
    comments_pct = comment_lines / float(raw.sloc) * 100 if raw.sloc != 0 else 0
    mi = mi_compute(halstead.volume, visitor.total_complexity, raw.lloc, comments_pct)
    return {
        "loc": raw.loc,
        "lloc": raw.lloc,
        "sloc": raw.sloc,
        "comments": raw.comments,
        "multi": raw.multi,
        "single_comments": raw.single_comments,
        "blank": raw.blank,
        "mi": mi,
        "mi_rank": mi_rank(mi),
        "halstead_volume": halstead.volume,
        "halstead_difficulty": halstead.difficulty,
        "functions": functions,
    }


def _hints(path: str, metrics: dict[str, Any]) -> list[Hint]:
    hints = []
    for fn in metrics["functions"]:
        rank = fn["rank"]
        if rank not in _CC_HINT_SEVERITY:
            continue
        kind = "method" if fn["classname"] else "function"
        name = fn["name"] if fn["classname"] is None else f"{fn['classname']}.{fn['name']}"
        hints.append(
            Hint(
                analyzer="radon",
                rule_id="cc",
                title=f"cyclomatic complexity rank {rank}",
                severity=_CC_HINT_SEVERITY[rank],
                confidence=None,
                cwe=None,
                file_path=path,
                line_start=fn["lineno"],
                line_end=max(fn["endline"], fn["lineno"]),
                message=(
                    f"{kind} {name} has cyclomatic complexity {fn['cc']} "
                    f"(rank {rank}: {_CC_RISK[rank]})"
                ),
                doc_url=CC_DOC_URL,
            )
        )
    if metrics["mi_rank"] == "C":
        hints.append(
            Hint(
                analyzer="radon",
                rule_id="mi",
                title="maintainability index rank C",
                severity="low",
                confidence=None,
                cwe=None,
                file_path=path,
                line_start=1,
                line_end=1,
                message=(
                    f"maintainability index {metrics['mi']:.1f} (rank C, 0-9: "
                    "extremely low maintainability)"
                ),
                doc_url=MI_DOC_URL,
            )
        )
    return hints
