"""Analyses stored once per (content hash, analyzer versions, context): services that flush.

The context (`context_hash`) is what a result depends on besides the files: the
language, the task's tests and the size cap. The same content in two tasks with
different tests gets two rows, and a reader passes the context of its task.

The same pass highlights each content once per language (harness.highlight): the task
pages read those lines instead of running pygments on a task's first view.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from concurrent.futures import Executor, ProcessPoolExecutor
from functools import cache, lru_cache
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, Text, bindparam, cast, insert, select, update
from sqlalchemy.orm import Session

from harness import highlight
from harness.analysis.hints import AnalysisResult, Hint
from harness.db import execute_core
from harness.models.analysis import Analysis, Highlight
from harness.settings import DEFAULT_MAX_FILE_BYTES as DEFAULT_MAX_BYTES

# harness.analysis.core (bandit, radon: a tenth of a second to import) is loaded by the
# functions that analyse, not by readers of stored analyses such as the review page.

if TYPE_CHECKING:
    from tqdm import tqdm

    from harness.models.core import Task

Item = tuple[str, Mapping[str, str], str, Mapping[str, str] | None]
"""(content_hash, files, language, tests) of one candidate."""

BATCH = 256
INLINE_BELOW = 8
"""Fewer new hashes than this are analysed in this process: a pool costs more to start."""


def current_versions_key() -> str:
    from harness.analysis.core import analyzer_versions, versions_key

    return versions_key(analyzer_versions())


def context_hash(language: str, tests: Mapping[str, str] | None, max_bytes: int) -> str:
    """What a result depends on besides the files: language, the task's tests, the size cap."""
    body = json.dumps(
        {"language": language.lower(), "tests": dict(tests or {}), "max_bytes": max_bytes},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8", errors="replace")).hexdigest()


def task_context(task: Task, max_bytes: int) -> str:
    """The context under which a task's candidates are analysed (max_bytes: the settings')."""
    return context_hash(task.language, task.tests, max_bytes)


def _columns(result: AnalysisResult) -> dict[str, Any]:
    data = result.to_dict()
    return {k: data[k] for k in ("hints", "metrics", "summary", "versions")}


def get_or_analyze(
    session: Session,
    content_hash: str,
    files: Mapping[str, str],
    *,
    language: str = "python",
    tests: Mapping[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    force: bool = False,
) -> Analysis:
    """The stored analysis of these files in this context; analysed (and flushed) when missing.

    `force` recomputes the row of this same key in place; other contexts are never touched.
    """
    key = current_versions_key()
    ctx = context_hash(language, tests, max_bytes)
    row = session.scalars(
        select(Analysis).where(
            Analysis.content_hash == content_hash,
            Analysis.versions_key == key,
            Analysis.context_hash == ctx,
        )
    ).one_or_none()
    if row is not None and not force:
        return row
    from harness.analysis.core import analyze_files

    result = analyze_files(files, language=language, tests=tests, max_bytes=max_bytes)
    if row is None:
        row = Analysis(content_hash=content_hash, versions_key=key, context_hash=ctx)
        session.add(row)
    for name, value in _columns(result).items():
        setattr(row, name, value)
    session.flush()
    return row


def _analyze_item(
    args: tuple[str, dict[str, str], str, dict[str, str], int, str, bool, bool],
) -> dict[str, Any]:
    """Runs in a worker process: plain data in, plain data out. The analysis's columns
    (None when only the highlighting was missing) and the highlighted body (None when
    it is stored)."""
    content_hash, files, language, tests, max_bytes, ctx, analyse, lines = args
    row = None
    if analyse:
        from harness.analysis.core import analyze_files

        result = analyze_files(files, language=language, tests=tests, max_bytes=max_bytes)
        row = {"content_hash": content_hash, "context_hash": ctx, **_columns(result)}
    return {"analysis": row, "highlight": highlight.pack(files, language) if lines else None}


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _pool(workers: int) -> Executor:
    # forkserver: workers start from a clean process that has imported bandit and radon
    # once, never from a fork of a caller that may hold threads or database connections.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["harness.analysis.core", "pygments.lexers.python"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


def analyze_many(
    session: Session,
    items: Iterable[Item],
    *,
    progress: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    force: bool = False,
    workers: int | None = None,
    total: int | None = None,
    on_batch: Callable[[], None] | None = None,
) -> int:
    """Analyse every (content hash, context) that has no current analysis, and highlight
    every (content hash, language) that has no current highlighting, over all cores.

    The context of an item is context_hash(language, tests, max_bytes). Items whose
    hash and context were seen earlier in `items` are skipped (first one wins); the
    same hash under other tests is analysed again, into its own row. `force` recomputes
    stored analyses in place (a highlighting is the same for the same format key).
    Returns how many (hash, context) pairs were analysed or highlighted. `total`
    (number of items) sizes the progress bar when items is a generator. Flushes; the
    caller commits. A caller that must not hold a write transaction for the whole run
    (a large import beside a live server) passes `on_batch=session.commit`: results are
    a cache, safe to keep in part.

    Batches are pipelined: the next batch is queued in the pool before the
    results of the current one are written, so the workers never wait on the
    database.
    """
    key = current_versions_key()
    workers = workers or os.cpu_count() or 1
    if total is None and isinstance(items, Sized):
        total = len(items)
    seen = _Seen()
    analysed = 0
    pool: Executor | None = None
    pending: _Batch | None = None
    from tqdm import tqdm

    bar = tqdm(total=total, disable=not progress, unit="candidate", desc="analysing")
    try:
        for chunk in _batches(items, BATCH):
            batch = _plan(session, key, chunk, seen, max_bytes=max_bytes, force=force)
            bar.update(len(chunk) - len(batch.todo))
            if pool is None and (workers == 1 or len(batch.todo) < INLINE_BELOW):
                batch.results = map(_analyze_item, batch.todo)
            else:
                pool = pool or _pool(workers)
                batch.results = pool.map(_analyze_item, batch.todo, chunksize=8)
            if pending is not None:
                analysed += pending.write(session, key, bar)
                if on_batch is not None:
                    on_batch()
            pending = batch
        if pending is not None:
            analysed += pending.write(session, key, bar)
            if on_batch is not None:
                on_batch()
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    session.flush()
    return analysed


class _Seen:
    """What earlier chunks of one `analyze_many` planned: (hash, context) pairs analysed
    and (hash, language) pairs highlighted."""

    def __init__(self) -> None:
        self.analyses: set[tuple[str, str]] = set()
        self.highlights: set[tuple[str, str]] = set()


class _Batch:
    def __init__(self, todo: list[tuple[Any, ...]], stored: set[tuple[str, str]]) -> None:
        self.todo = todo
        self.stored = stored
        self.results: Iterable[dict[str, Any]] = ()

    def write(self, session: Session, key: str, bar: tqdm[Any]) -> int:
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        highlights: list[dict[str, Any]] = []
        for args, result in zip(self.todo, self.results, strict=True):
            row = result["analysis"]
            if row is not None:
                row["versions_key"] = key
                (changed_rows if (args[0], args[5]) in self.stored else new_rows).append(row)
            if result["highlight"] is not None:
                highlights.append({"content_hash": args[0], "language": args[2],
                                   "format_key": highlight.format_key(),
                                   "body": result["highlight"]})
            bar.update(1)
        _write(session, key, new_rows, changed_rows)
        _write_highlights(session, highlights)
        return len(self.todo)


def _plan(
    session: Session,
    key: str,
    chunk: list[Item],
    seen: _Seen,
    *,
    max_bytes: int,
    force: bool,
) -> _Batch:
    """The items of a chunk that need work: (hash, context) pairs not analysed (or force),
    (hash, language) pairs not highlighted."""
    fresh = []
    for content_hash, files, language, tests in chunk:
        ctx = context_hash(language, tests, max_bytes)
        analyse = (content_hash, ctx) not in seen.analyses
        lines = (content_hash, language) not in seen.highlights
        if analyse or lines:
            seen.analyses.add((content_hash, ctx))
            seen.highlights.add((content_hash, language))
            fresh.append((content_hash, files, language, tests, ctx, analyse, lines))
    hashes = {item[0] for item in fresh}
    query = select(Analysis.content_hash, Analysis.context_hash).where(
        Analysis.versions_key == key,
        Analysis.content_hash.in_(hashes),
    )
    stored = {(h, c) for h, c in session.execute(query)}
    highlighted = {(h, lang) for h, lang in session.execute(
        select(Highlight.content_hash, Highlight.language).where(
            Highlight.format_key == highlight.format_key(), Highlight.content_hash.in_(hashes)))}
    todo = []
    for content_hash, files, language, tests, ctx, analyse, lines in fresh:
        analyse = analyse and (force or (content_hash, ctx) not in stored)
        lines = lines and (content_hash, language) not in highlighted
        if analyse or lines:
            todo.append((content_hash, dict(files), language, dict(tests or {}), max_bytes, ctx,
                         analyse, lines))
    return _Batch(todo, stored)


def _write_highlights(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert, leaving alone a row that another import stored meanwhile (the same lines)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    session.execute(upsert(Highlight).on_conflict_do_nothing(), rows)


def _write(
    session: Session, key: str, new_rows: list[dict[str, Any]], changed_rows: list[dict[str, Any]]
) -> None:
    if new_rows:
        session.execute(insert(Analysis), new_rows)
    keys = ("content_hash", "versions_key", "context_hash")
    for row in changed_rows:
        values = {k: v for k, v in row.items() if k not in keys}
        session.execute(
            update(Analysis)
            .where(
                Analysis.content_hash == row["content_hash"],
                Analysis.versions_key == key,
                Analysis.context_hash == row["context_hash"],
            )
            .values(**values)
        )


@cache
def _analyses_statement() -> Select[str, str, dict[str, Any]]:
    """Built once (the review page runs it on every view): building a statement and its
    cache key cost more than running this one. The hints are read as text on both
    databases (a CAST on PostgreSQL, whose driver would otherwise decode the jsonb on
    every view), so `_hints_of_text` parses each distinct text once."""
    return (
        select(Analysis.content_hash, cast(Analysis.hints, Text), Analysis.summary)
        .where(Analysis.content_hash.in_(bindparam("hashes", expanding=True)),
               Analysis.context_hash == bindparam("context"))
        .order_by(Analysis.created_at, Analysis.id)
    )


def analyses_for(
    session: Session, content_hashes: Iterable[str], *, context: str
) -> dict[str, tuple[list[Hint], dict[str, Any]]]:
    """Hints and summary of the newest stored analysis of each content hash in `context`.

    `context` is the task's (task_context): the same content under other tests has
    other hints. What the review page shows and what a submitted hint verdict is
    checked against: one lookup for both. A stored hint that no longer parses is left out.
    """
    hashes = set(content_hashes)
    if not hashes:
        return {}
    rows = execute_core(session, _analyses_statement(), {"hashes": sorted(hashes),
                                                         "context": context}).all()
    newest = {digest: (hints, summary) for digest, hints, summary in rows}
    out: dict[str, tuple[list[Hint], dict[str, Any]]] = {}
    for digest, (hints, summary) in newest.items():
        if hints is None:
            continue
        # the stored text (cast by the statement): parsed once per distinct text
        parsed = _hints_of_text(hints) if isinstance(hints, str) else _hints_of(hints)
        if parsed is None:
            continue
        out[digest] = (list(parsed), summary if isinstance(summary, dict) else {})
    return out


def _hints_of(items: Any) -> tuple[Hint, ...] | None:
    """Stored hints as Hints; one that no longer parses is left out. None: no hints."""
    if items is None:
        return None
    parsed = []
    for item in items if isinstance(items, list) else []:
        try:
            parsed.append(Hint.from_dict(item))
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(parsed)


@lru_cache(maxsize=256)
def _hints_of_text(text: str) -> tuple[Hint, ...] | None:
    """Hints of a stored JSON text, cached by the text: the review page reads the same
    candidates' hints on every view (Hints are frozen, so the tuple is shared)."""
    return _hints_of(json.loads(text))


def hints_for(session: Session, content_hash: str, *, context: str) -> list[Hint]:
    """The hints of one candidate's content in its task's context, as the review page shows."""
    found = analyses_for(session, [content_hash], context=context).get(content_hash)
    return found[0] if found else []
