"""Turning untrusted text into safe HTML: sanitised markdown and highlighted code.

Both outputs are built by libraries that escape their input (markdown-it with
raw HTML off, then nh3; pygments' HTML formatter), so templates may mark them
safe. Nothing else from a task, candidate or user is ever marked safe.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING

from flask import Flask
from markupsafe import Markup

from harness.text import line_count, normalise_newlines

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from pygments.formatters import HtmlFormatter
    from pygments.lexer import Lexer

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
        link_rel="noopener noreferrer nofollow",
    )


def markdown(text: str) -> Markup:
    return Markup(_markdown(text))  # noqa: S704 - sanitised by markdown-it (html off) and nh3


def _lexer(path: str, language: str) -> Lexer:
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        return get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        pass
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return get_lexer_by_name("text", stripnl=False, ensurenl=False)


@cache
def _formatter() -> HtmlFormatter:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


@lru_cache(maxsize=2048)
def _highlight(path: str, language: str, text: str) -> tuple[str, ...]:
    from pygments import highlight

    text = normalise_newlines(text)
    html = highlight(text, _lexer(path, language), _formatter())
    lines = html.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # one row per line as harness.text counts them, whatever the lexer did at the end
    want = line_count(text)
    lines = lines[:want] + [""] * (want - len(lines))
    return tuple(lines)


def highlighted_lines(path: str, language: str, text: str) -> list[Markup]:
    """One escaped, highlighted HTML fragment per source line (cached by content)."""
    # pygments' HtmlFormatter escapes every token and closes spans at each newline
    return [Markup(line) for line in _highlight(path, language, text)]  # noqa: S704


def init_app(app: Flask) -> None:
    app.jinja_env.filters["markdown"] = markdown
    app.jinja_env.globals["highlighted_lines"] = highlighted_lines
