"""The candidate columns both task pages share: code rows with hint markers (built in
Python, the pages' hot loop, cached by content), and hint summaries."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape

from harness import annotate
from harness.models import Task
from web.extensions import app_settings, db
from web.render import highlighted_lines


def max_file_bytes() -> int:
    settings = app_settings()
    return settings.max_file_bytes


def candidate_hints(task: Task, shown: list[annotate.Shown]) -> dict[int, dict[str, Any]]:
    """Hints and summary per candidate id, from the newest analysis of its content
    under this task's tests (the same content in another task may have other hints)."""
    from harness.analysis.store import analyses_for, task_context  # loads the analyzers

    found = analyses_for(
        db.session,
        (s.candidate.content_hash for s in shown),
        context=task_context(task, max_file_bytes()),
    )
    out: dict[int, dict[str, Any]] = {}
    for s in shown:
        if s.candidate.content_hash not in found:
            continue
        hints, summary = found[s.candidate.content_hash]
        out[s.candidate.id] = {
            "hints": [{**h.to_dict(), "key": h.key} for h in hints],
            "summary": summary,
        }
    return out


def summary_text(summary: dict[str, Any]) -> list[str]:
    parts = []
    bandit = summary.get("bandit")
    if isinstance(bandit, dict) and bandit:
        counts = ", ".join(f"{v} {k}" for k, v in bandit.items() if isinstance(v, int) and v)
        parts.append(f"bandit: {counts or 'no issues'}")
    cc = summary.get("worst_cc")
    if isinstance(cc, dict) and cc.get("rank"):
        parts.append(f"worst complexity {cc['rank']} ({cc.get('function', '')}, CC {cc.get('cc')})")
    mi = summary.get("mi")
    if isinstance(mi, int | float):
        parts.append(f"maintainability {mi:.0f}")
    return parts


HINTED = ' class="hinted"'
Mark = tuple[int, int, str, str, str, str]
"""A gutter marker: (first line, last line, severity, hint key, title, aria-label)."""


def marks_for(hints: list[dict[str, Any]], path: str) -> tuple[Mark, ...]:
    return tuple(
        (
            h["line_start"],
            h["line_end"],
            h["severity"],
            h["key"],
            f"{h['severity']}: {h['title']} — {h['message']}",
            f"Hint, {h['severity']}, lines {h['line_start']} to {h['line_end']}: "
            f"{h['title']}. {h['message']}",
        )
        for h in hints
        if h["file_path"] == path
    )


@lru_cache(maxsize=512)
def code_rows(path: str, language: str, text: str, marks: tuple[Mark, ...]) -> Markup:
    """The rows of one file's code table: gutter markers, line numbers, highlighted source.

    Built here rather than in the template because it is the page's hot loop
    (4 x 200 lines); cached by content and hints. Every hint text is escaped;
    the source comes escaped from pygments (web.render.highlighted_lines).
    """
    by_line: dict[int, list[str]] = {}
    hinted: set[int] = set()
    for line, last, severity, key, title, aria in marks:
        hinted.update(range(line, min(last, line + 500) + 1))
        by_line.setdefault(line, []).append(
            f'<button type="button" class="hint-marker sev-{escape(severity)}" '
            f'data-hint-key="{escape(key)}" title="{escape(title)}" aria-label="{escape(aria)}">'
            "</button>"
        )
    rows = [
        f'<tr data-line="{n}"{HINTED if n in hinted else ""}>'
        f'<td class="gutter">{"".join(by_line.get(n, ()))}</td>'
        f'<td class="ln">{n}</td><td class="src"><code>{html}</code></td></tr>'
        for n, html in enumerate(highlighted_lines(path, language, text), start=1)
    ]
    return Markup("\n".join(rows))  # noqa: S704 - every part escaped above


def rows_renderer(task: Task, hints: dict[int, dict[str, Any]]) -> Callable[[Any, str], Markup]:
    """What the templates call as code_rows(candidate, path)."""

    def render(cand: Any, path: str) -> Markup:
        marks = marks_for(hints.get(cand.id, {}).get("hints", []), path)
        return code_rows(path, task.language, str(cand.files[path]), marks)

    return render
