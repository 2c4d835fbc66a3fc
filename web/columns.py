"""The candidate columns both task pages share: code rows with hint markers (built in
Python, the pages' hot loop, cached by content), and hint summaries."""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Any

from flask import Response
from markupsafe import Markup, escape

from harness import annotate
from harness.analysis.hints import Hint
from harness.models import Task
from web.extensions import app_settings, db
from web.render import highlighted_lines


def max_file_bytes() -> int:
    settings = app_settings()
    return settings.max_file_bytes


def candidate_hints(task: Task, shown: list[annotate.Shown]) -> dict[int, dict[str, Any]]:
    """Hints (a tuple of Hint, hashable: the rendering below is cached by it) and summary
    per candidate id, from the newest analysis of its content under this task's tests
    (the same content in another task may have other hints)."""
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
        out[s.candidate.id] = {"hints": tuple(hints), "summary": summary}
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


@lru_cache(maxsize=512)
def marks_for(hints: tuple[Hint, ...], path: str) -> tuple[Mark, ...]:
    """The gutter markers of one file (cached by the hints, like the rows they key)."""
    return tuple(
        (
            h.line_start,
            h.line_end,
            h.severity,
            h.key,
            f"{h.severity}: {h.title} — {h.message}",
            f"Hint, {h.severity}, lines {h.line_start} to {h.line_end}: {h.title}. {h.message}",
        )
        for h in hints
        if h.file_path == path
    )


def _hint_text(h: Hint) -> str:
    """What a hint says: severity, place, title, rule, docs link (http(s) only), message."""
    lines = str(h.line_start) + (f"-{h.line_end}" if h.line_end != h.line_start else "")
    cwe = f" · CWE-{h.cwe}" if h.cwe else ""
    docs = ""
    if h.doc_url and h.doc_url.startswith(("https://", "http://")):
        docs = f'<a href="{escape(h.doc_url)}" rel="noopener noreferrer nofollow">rule docs</a>'
    return (
        f'<span class="sev sev-{escape(h.severity)}">{escape(h.severity)}</span>\n'
        f'<span class="muted">{escape(h.file_path)}:{lines}</span>\n'
        f'<strong>{escape(h.title)}</strong> '
        f'<span class="muted">{escape(h.analyzer)} {escape(h.rule_id)}{cwe}</span>\n'
        f"{docs}\n<div>{escape(h.message)}</div>"
    )


def _verdict_buttons(h: Hint) -> str:
    """The annotator's verdict on a hint, and turning it into a finding."""
    return (
        '<div class="verdict" role="group" aria-label="Your verdict on this hint">'
        '<button type="button" class="secondary small" data-verdict="confirmed" '
        'aria-pressed="false">Confirmed</button> '
        '<button type="button" class="secondary small" data-verdict="false_positive" '
        'aria-pressed="false">False positive</button> '
        f'<button type="button" class="secondary small add-hint-finding" '
        f'data-path="{escape(h.file_path)}" data-line-start="{h.line_start}" '
        f'data-line-end="{h.line_end}" data-severity="{escape(h.severity)}" '
        f'data-cwe="{h.cwe or ""}" data-analyzer="{escape(h.analyzer)}" '
        f'data-title="{escape(h.title)}" data-rule="{escape(h.rule_id)}">Add as finding</button>'
        "</div>"
    )


@lru_cache(maxsize=512)
def hint_items(hints: tuple[Hint, ...], verdicts: bool) -> Markup:
    """The list items of a candidate's hints (with the verdict buttons on the review
    page). Built here, cached by the hints, for the same reason as `code_rows`: a
    candidate can carry dozens of hints. Every hint field is escaped."""
    if verdicts:
        items = [f'<li class="hint" data-hint-key="{escape(h.key)}" tabindex="-1">'
                 f"{_hint_text(h)}{_verdict_buttons(h)}</li>" for h in hints]
    else:
        items = [f'<li class="hint">{_hint_text(h)}</li>' for h in hints]
    return Markup("\n".join(items))  # noqa: S704 - every part escaped above


@lru_cache(maxsize=512)
def code_rows(path: str, language: str, text: str, marks: tuple[Mark, ...]) -> bytes:
    """The rows of one file's code table as UTF-8: gutter markers, line numbers,
    highlighted source.

    Built here rather than in the template because it is the pages' hot loop
    (4 x 200 lines); cached by content and hints, and kept encoded (`CodeRows` splices
    the bytes into the rendered page). Every hint text is escaped; the source comes
    escaped from pygments (web.render.highlighted_lines).
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
    return "\n".join(rows).encode()


class CodeRows:
    """What the task pages' templates call as code_rows(candidate, path).

    The code rows are most of a page (a review page of 4 candidates of 200 lines is
    ~450 KB, ~90% of it rows). Rendered into the page's text they were copied at every
    step and encoded to UTF-8 again at every view (~0.9 ms of a 5 ms page: the page's
    text is not ASCII, so the encoding is not a copy). Instead the template gets a
    placeholder, and `response` splices the file's cached bytes (`code_rows`) into
    the encoded page. The placeholder carries a random token of the request, so no
    text on the page (hostile code included) can pass for one.
    """

    def __init__(self, task: Task, hints: dict[int, dict[str, Any]]) -> None:
        self._task = task
        self._hints = hints
        self._token = "\x00" + secrets.token_hex(8) + ":"
        self._rows: list[bytes] = []

    def __call__(self, cand: Any, path: str) -> Markup:
        marks = marks_for(self._hints.get(cand.id, {}).get("hints", ()), path)
        self._rows.append(code_rows(path, self._task.language, str(cand.files[path]), marks))
        return Markup(f"{self._token}{len(self._rows) - 1}\x00")  # noqa: S704 - no user text

    def response(self, page: str) -> Response:
        """The rendered page as an HTML response, with the rows in place of their
        placeholders."""
        first, *rest = page.split(self._token)
        body = [first.encode()]
        for piece in rest:
            index, _, after = piece.partition("\x00")
            body += [self._rows[int(index)], after.encode()]
        return Response(b"".join(body), mimetype="text/html")
