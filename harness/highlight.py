"""Highlighted source: pygments' escaped HTML, one fragment per line, stored once per
candidate content and language.

Highlighting 4 candidates of 200 lines costs pygments 35-60 ms of CPU here, ten times a
warm review page: a page cached it per server process, so the first view of a task in
each process paid it (with k annotators and several server processes, most views).
The analysis pass that computes a candidate's hints at import
(harness.analysis.store.analyze_many) now highlights its files too, and `stored` reads
them back. A row is keyed by the content hash (file names and contents), the task's
language (it picks the lexer when a file name does not) and `format_key` (pygments'
version and this module's format), so a new pygments is never served an old row; a
page whose content has no current row highlights it live as before.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, bindparam, select

from harness.db import execute_core
from harness.models.analysis import Highlight
from harness.text import line_count, normalise_newlines

if TYPE_CHECKING:
    from pygments.formatters import HtmlFormatter
    from pygments.lexer import Lexer
    from sqlalchemy.orm import Session

FORMAT = 1
"""This module's format of a stored body: bump it when `highlight`'s output changes."""

# pygments loads on the first highlight, not with this module (a server's cold start).


@cache
def format_key() -> str:
    from pygments import __version__

    return f"pygments {__version__}, format {FORMAT}"


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


def highlight(path: str, language: str, text: str) -> tuple[str, ...]:
    """One escaped, highlighted HTML fragment per line of `text` as harness.text counts
    them (pygments' HtmlFormatter escapes every token and closes its spans at each
    newline)."""
    from pygments import highlight as pygments_highlight

    text = normalise_newlines(text)
    html = pygments_highlight(text, _lexer(path, language), _formatter())
    lines = html.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # one row per line as harness.text counts them, whatever the lexer did at the end
    want = line_count(text)
    return tuple(lines[:want] + [""] * (want - len(lines)))


def pack(files: Mapping[str, Any], language: str) -> bytes:
    """A candidate's files highlighted, as a stored body: compressed JSON of
    {path: [line, ...]} (on ../shared/realdata's candidates the HTML is 3.9 times the
    source, compressed 0.73 times)."""
    body = {path: list(highlight(path, language, str(text))) for path, text in files.items()}
    return zlib.compress(json.dumps(body, ensure_ascii=False).encode(), 6)


# pygments' HtmlFormatter(nowrap=True) writes only these tags; everything else is escaped
_SPAN = re.compile(r'<span class="[A-Za-z0-9 _-]*">|</span>')


def _only_spans(line: str) -> bool:
    rest = _SPAN.sub("", line)
    return "<" not in rest and ">" not in rest


def unpack(body: bytes, files: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The stored lines of each of `files` whose stored entry has one line per line of
    its text, each only pygments' escaped text and spans (the pages mark them safe: a row
    written by anything else, a restored backup or a shared database, is not trusted
    further than that); a body that does not decompress or parse gives nothing. What
    is left out is highlighted live."""
    try:
        stored = json.loads(zlib.decompress(body))
    except (zlib.error, ValueError, TypeError):
        return {}
    if not isinstance(stored, dict):
        return {}
    out = {}
    for path, text in files.items():
        lines = stored.get(path)
        if (isinstance(lines, list)
                and all(isinstance(line, str) and _only_spans(line) for line in lines)
                and len(lines) == line_count(str(text))):
            out[path] = tuple(lines)
    return out


@cache
def _stored_statement() -> Select[str, bytes]:
    """Built once: a task page runs it on the first view of a task in a process."""
    return select(Highlight.content_hash, Highlight.body).where(
        Highlight.content_hash.in_(bindparam("hashes", expanding=True)),
        Highlight.language == bindparam("language"),
        Highlight.format_key == bindparam("format_key"),
    )


def stored(session: Session, hashes: Iterable[str], language: str) -> dict[str, bytes]:
    """content hash -> stored body (`unpack` it) of those of `hashes` that have a current
    row for `language`."""
    wanted = sorted(set(hashes))
    if not wanted:
        return {}
    rows = execute_core(session, _stored_statement(), {
        "hashes": wanted, "language": language, "format_key": format_key()})
    return {digest: body for digest, body in rows}
