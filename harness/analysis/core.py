"""analyze_files: parse each file once, then run every registered analyzer on it.

Nothing here raises on candidate content: code that does not parse, empty
files, oversized files and analyzer failures all become hints or `skipped`
entries of the result.
"""

from __future__ import annotations

import ast
import hashlib
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from harness.analysis import analyzers as _analyzers  # noqa: F401  (registers them)
from harness.analysis.analyzers.gaming import GamingAnalyzer
from harness.analysis.hints import AnalysisResult, Hint
from harness.analysis.registry import ANALYZERS, Context, SourceFile, get_analyzer
from harness.settings import DEFAULT_MAX_FILE_BYTES

PYTHON_SUFFIXES = (".py",)
"""What bandit -r and radon pick up in a directory."""
DEFAULT_MAX_BYTES = DEFAULT_MAX_FILE_BYTES


def analyzer_versions() -> dict[str, str]:
    """Analyzer name -> version, plus the Python that parses the code (its grammar matters)."""
    versions = {name: cls.version() for name, cls in sorted(ANALYZERS.items())}
    versions["python"] = f"{sys.version_info.major}.{sys.version_info.minor}"
    return versions


def versions_key(versions: Mapping[str, str]) -> str:
    """A readable key ("bandit=1.9.4;gaming=1;..."), hashed if it would not fit 64 chars."""
    key = ";".join(f"{name}={versions[name]}" for name in sorted(versions))
    return key if len(key) <= 64 else hashlib.sha256(key.encode()).hexdigest()


def is_python_file(path: str) -> bool:
    return path.endswith(PYTHON_SUFFIXES)


def _empty_summary(language: str) -> dict[str, Any]:
    return {
        "language": language,
        "bandit": {"low": 0, "medium": 0, "high": 0},
        "worst_cc": None,
        "mi": None,
        "mi_rank": None,
        "gaming": 0,
        "syntax_error": False,
        "skipped": [],
        "hints": 0,
    }


def _problem(rule_id: str, title: str, severity: str, path: str, line: int, msg: str) -> Hint:
    return Hint(
        analyzer="python",
        rule_id=rule_id,
        title=title,
        severity=severity,
        confidence=None,
        cwe=None,
        file_path=path,
        line_start=max(1, line),
        line_end=max(1, line),
        message=msg,
        doc_url=None,
    )


def parse_sources(
    files: Mapping[str, str], max_bytes: int
) -> tuple[list[SourceFile], list[Hint], list[dict[str, str]]]:
    """The Python files that parse; a hint and a `skipped` entry for each that cannot."""
    sources: list[SourceFile] = []
    hints: list[Hint] = []
    skipped: list[dict[str, str]] = []
    for path in sorted(files):
        if not is_python_file(path):
            continue
        text = files[path]
        data = text.encode("utf-8", errors="replace")
        if len(data) > max_bytes:
            reason = f"not analysed: {len(data):,} bytes is over the {max_bytes:,}-byte cap"
            hints.append(_problem("not-analysed", "file not analysed", "info", path, 1, reason))
            skipped.append({"file": path, "reason": reason})
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(data, filename=path)
        except SyntaxError as exc:
            line = exc.lineno or 1
            msg = f"syntax error at line {line}: {exc.msg}"
            hints.append(_problem("syntax-error", "syntax error", "high", path, line, msg))
            skipped.append({"file": path, "reason": msg})
            continue
        except ValueError as exc:  # null bytes (Python 3.11 raises ValueError, not SyntaxError)
            line = data[: max(data.find(b"\0"), 0)].count(b"\n") + 1
            msg = f"syntax error at line {line}: {exc}"
            hints.append(_problem("syntax-error", "syntax error", "high", path, line, msg))
            skipped.append({"file": path, "reason": msg})
            continue
        except (RecursionError, MemoryError):
            reason = "not analysed: nested too deeply for the parser"
            hints.append(_problem("not-analysed", "file not analysed", "info", path, 1, reason))
            skipped.append({"file": path, "reason": reason})
            continue
        sources.append(SourceFile(path=path, text=text, data=data, tree=tree))
    return sources, hints, skipped


def analyze_files(
    files: Mapping[str, str],
    *,
    language: str = "python",
    tests: Mapping[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> AnalysisResult:
    """Hints, metrics and a summary for one candidate's files (path -> text)."""
    result = AnalysisResult(versions=analyzer_versions(), summary=_empty_summary(language))
    lang = language.lower()
    if lang != "python":
        return result
    summary = result.summary
    with warnings.catch_warnings():
        # Candidate code triggers SyntaxWarnings/DeprecationWarnings while parsing;
        # they are not findings and must not turn into errors under -W error.
        warnings.simplefilter("ignore")
        sources, hints, skipped = parse_sources(files, max_bytes)
        summary["syntax_error"] = any(h.rule_id == "syntax-error" for h in hints)
        context = Context(files=files, tests=tests or {}, language=lang)
        for name, cls in ANALYZERS.items():
            if lang not in cls.languages:
                continue
            try:
                report = get_analyzer(name).analyze(sources, context)
            except Exception as exc:  # an analyzer bug must not lose the other analyzers' hints
                skipped.append({"file": "*", "reason": f"{name} failed: {exc!r}"})
                continue
            hints.extend(report.hints)
            for path, metrics in report.metrics.items():
                result.metrics.setdefault(path, {}).update(metrics)
            summary.update(report.summary)
            skipped.extend(report.skipped)
            for entry in report.skipped:  # the annotator should know hints may be missing
                hints.append(
                    _problem("not-analysed", f"{name} could not analyse this file", "info",
                             entry["file"], 1, f"not analysed by {entry['reason']}")
                )
    result.hints = sorted(hints, key=Hint.sort_key)
    summary["skipped"] = skipped
    summary["hints"] = len(result.hints)
    return result


def gaming_flags(files: Mapping[str, str], tests: Mapping[str, str]) -> list[Hint]:
    """Only the test-gaming analyzer's hints (for flagging a passing run as suspect)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sources, _hints, _skipped = parse_sources(files, DEFAULT_MAX_BYTES)
        context = Context(files=files, tests=tests, language="python")
        report = get_analyzer(GamingAnalyzer.name).analyze(sources, context)
    return sorted(report.hints, key=Hint.sort_key)
