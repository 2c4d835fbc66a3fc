"""bandit, through its Python API, on in-memory sources.

One BanditManager per process, configured as the `bandit` command is with no
config file and no profile; each file goes through the manager's own per-file
path (`_parse_file`: nosec comments, AST visit, every plugin and blacklist), so
the issues are the ones `bandit -f json` reports for that file.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence
from functools import cache
from typing import Any

from harness.analysis.hints import Hint
from harness.analysis.registry import Analyzer, Context, Report, SourceFile

with warnings.catch_warnings():
    # bandit's plugin loader (stevedore) warns about a deprecated argument on import.
    warnings.simplefilter("ignore", DeprecationWarning)
    import bandit
    from bandit.core import config as b_config
    from bandit.core import docs_utils, extension_loader
    from bandit.core import manager as b_manager
    from bandit.core import metrics as b_metrics

_SEVERITY = {"UNDEFINED": "info", "LOW": "low", "MEDIUM": "medium", "HIGH": "high"}
# A root that does not exist: bandit derives a module name from the path and
# probes for __init__.py files; it must never look at the real file system.
_VIRTUAL_ROOT = "/nonexistent-review-harness-candidate"


@cache
def title(test_id: str, test_name: str) -> str:
    """bandit's test name; for blacklist issues (all named "blacklist") the entry's own name."""
    info = extension_loader.MANAGER.blacklist_by_id.get(test_id)
    if test_name == "blacklist" and info is not None:
        # docs_utils.get_url rewrites these names with dashes in place; undo that.
        return str(info["name"]).replace("-", "_")
    return test_name


@cache
def doc_url(test_id: str) -> str:
    """The rule's page, built by bandit's own docs helper (as its reports link it)."""
    return str(docs_utils.get_url(test_id))


class BanditAnalyzer(Analyzer):
    name = "bandit"

    def __init__(self) -> None:
        # bandit logs per-file problems; they end up in Report.skipped instead.
        logging.getLogger("bandit").setLevel(logging.CRITICAL)
        self._manager = b_manager.BanditManager(
            b_config.BanditConfig(),
            "file",
            profile={"include": set(), "exclude": set()},
        )

    @classmethod
    def version(cls) -> str:
        return str(bandit.__version__)

    def analyze(self, sources: Sequence[SourceFile], context: Context) -> Report:
        report = Report()
        counts = {"low": 0, "medium": 0, "high": 0}
        for source in sources:
            for issue in self._issues(source, report):
                hint = _to_hint(issue, source.path)
                report.hints.append(hint)
                if hint.severity in counts:
                    counts[hint.severity] += 1
        report.summary["bandit"] = counts
        return report

    def _issues(self, source: SourceFile, report: Report) -> list[Any]:
        mgr = self._manager
        fname = f"{_VIRTUAL_ROOT}/{source.path}"
        mgr.results = []
        mgr.skipped = []
        mgr.scores = []
        mgr.metrics = b_metrics.Metrics()
        remaining = [fname]
        mgr._parse_file(fname, io.BytesIO(source.data), remaining)
        for _name, reason in mgr.skipped:
            report.skipped.append({"file": source.path, "reason": f"bandit: {reason}"})
        issues = list(mgr.results)
        mgr.results = []
        return issues


def _to_hint(issue: Any, path: str) -> Hint:
    lines = [int(n) for n in (issue.linerange or [issue.lineno])]
    cwe = int(issue.cwe.id) if issue.cwe is not None and issue.cwe.id else None
    return Hint(
        analyzer="bandit",
        rule_id=str(issue.test_id),
        title=title(str(issue.test_id), str(issue.test)),
        severity=_SEVERITY.get(str(issue.severity), "info"),
        confidence=_SEVERITY.get(str(issue.confidence), "info"),
        cwe=cwe,
        file_path=path,
        line_start=min(lines),
        line_end=max(lines),
        message=str(issue.text),
        doc_url=doc_url(str(issue.test_id)),
    )
