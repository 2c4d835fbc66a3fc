"""Turning untrusted text into safe HTML: sanitised markdown and highlighted code.

Both outputs are built by libraries that escape their input (markdown-it with
raw HTML off, then nh3; pygments' HTML formatter), so templates may mark them
safe. Nothing else from a task, candidate or user is ever marked safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from flask import Flask
from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from sqlalchemy.orm import Session

    from harness.models import Candidate

# markdown-it, nh3 and pygments load on the first page that renders a prompt or code,
# not when the server starts (a tenth of a second of its cold start).

_ALLOWED_TAGS = {
    "p", "pre", "code", "em", "strong", "ul", "ol", "li", "a", "blockquote", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "br", "table", "thead", "tbody", "tr", "th", "td",
}


@cache
def _md() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


@lru_cache(maxsize=4096)
def _markdown(text: str) -> str:
    import nh3

    html = _md().render(text)
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "code": {"class"}},
        url_schemes={"http", "https", "mailto"},
        attribute_filter=_absolute_links,
        link_rel="noopener noreferrer nofollow",
    )


def _absolute_links(tag: str, attribute: str, value: str) -> str | None:
    """A link in a prompt or a rubric goes to an absolute http(s) or mailto address only:
    url_schemes lets relative ones through, and a task file's "[Save](/logout)" or
    "[docs](//elsewhere.example)" would act on this site or leave it in disguise."""
    if tag == "a" and attribute == "href":
        return value if value.lower().startswith(("http://", "https://", "mailto:")) else None
    return value


def markdown(text: str) -> Markup:
    return Markup(_markdown(text))  # noqa: S704 - sanitised by markdown-it (html off) and nh3


LINES_CACHED = 2048
"""Files whose highlighted lines a server process keeps (~25 KB each for 200 lines)."""

_lines: OrderedDict[tuple[str, str, str], tuple[str, ...]] = OrderedDict()
_lines_lock = threading.Lock()


def _remember(key: tuple[str, str, str], lines: tuple[str, ...]) -> None:
    with _lines_lock:
        _lines[key] = lines
        _lines.move_to_end(key)
        while len(_lines) > LINES_CACHED:
            _lines.popitem(last=False)


def highlighted_lines(path: str, language: str, text: str) -> list[Markup]:
    """One escaped, highlighted HTML fragment per source line: kept by content in this
    process, else the stored lines `preload` put here, else pygments now."""
    key = (path, language, text)
    with _lines_lock:
        lines = _lines.get(key)
        if lines is not None:
            _lines.move_to_end(key)
    if lines is None:
        from harness.highlight import highlight

        lines = highlight(path, language, text)
        _remember(key, lines)
    # pygments' HtmlFormatter escapes every token and closes spans at each newline
    return [Markup(line) for line in lines]  # noqa: S704


def preload(session: Session, candidates: Iterable[Candidate], language: str) -> None:
    """Before a page highlights these candidates' files: the stored lines of those this
    process does not keep yet, read in one statement (none when it keeps them all)."""
    missing = [c for c in candidates
               if any((path, language, str(text)) not in _lines for path, text in c.files.items())]
    if not missing:
        return
    from harness.highlight import stored, unpack

    bodies = stored(session, (c.content_hash for c in missing), language)
    for cand in missing:
        body = bodies.get(cand.content_hash)
        if body is not None:
            for path, lines in unpack(body, cand.files).items():
                _remember((path, language, str(cand.files[path])), lines)


def forget_lines() -> None:
    """Empty this process's highlighted lines (a first view's cost, bench/review_page.py)."""
    with _lines_lock:
        _lines.clear()


def init_app(app: Flask) -> None:
    app.jinja_env.filters["markdown"] = markdown
    app.jinja_env.globals["highlighted_lines"] = highlighted_lines
