"""import_tasks: validate a whole task file, then insert it in bulk in the caller's transaction."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.orm import Session

from harness.db import JSONText
from harness.errors import InvalidInput
from harness.models import Assignment, Candidate, Project, Task, utcnow
from harness.records import fast_dumps
from harness.taskfile import (
    DEFAULT_MAX_FILE_BYTES,
    Line,
    files_hash,
    iter_tasks,
    tests_hash,
    validate_file,
)

BATCH = 500
# Core tables: bulk inserts without the ORM's per-row bookkeeping
TASKS: Table = Task.__table__  # type: ignore[assignment]
CANDIDATES: Table = Candidate.__table__  # type: ignore[assignment]
T = TypeVar("T")


class TaskFileError(InvalidInput):
    """The task file has errors; nothing was written. .errors holds every line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid_task_file",
                         f"{len(errors)} error(s); nothing was imported", errors=errors)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    candidates: int = 0
    task_ids: list[int] = field(default_factory=list)


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def existing_ids(session: Session, project: Project) -> set[str]:
    return set(session.scalars(select(Task.external_id).where(Task.project_id == project.id)))


def import_tasks(
    session: Session,
    project: Project,
    path: Path,
    *,
    update_existing: bool = False,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate every line first; with any error raise TaskFileError and write nothing.

    Flushes; the caller commits once.
    """
    known = existing_ids(session, project)
    checked = validate_file(path, existing_ids=known, update=update_existing, max_bytes=max_bytes,
                            keep=True)
    if checked.errors:
        raise TaskFileError(checked.errors)
    if update_existing:
        _refuse_reviewed_updates(session, project, path, known, checked.digest)

    report = ImportReport()
    position = session.scalar(
        select(func.coalesce(func.max(Task.position), 0)).where(Task.project_id == project.id)
    ) or 0
    lines = checked.lines if checked.lines is not None else iter_tasks(path, checked.digest)
    for chunk in _batches(lines, BATCH):
        new = [line for line in chunk if line.task["id"] not in known]
        old = [line for line in chunk if line.task["id"] in known]
        if new:
            position = _insert_new(session, project, new, position, report)
        for line in old:
            report.task_ids.append(_replace_task(session, project, line))
            report.updated += 1
            report.candidates += len(line.task["candidates"])
        if progress is not None:
            progress(len(chunk))
    session.flush()
    refresh_statistics(session, report.created)
    return report


def refresh_statistics(session: Session, added: int) -> None:
    """PostgreSQL: after an import that grew the task table by what its autovacuum waits
    for (50 rows and a tenth of the table), ANALYZE tasks and candidates now, in the
    import's transaction, rather than at autovacuum's next visit a minute or more later.
    Until then the planner holds the old figures (a new table: a few rows), and a claim's
    search for an open task read and sorted every task of the project instead of walking
    its position index: 16 ms a claim at 3,000 tasks against 0.4 ms after ANALYZE, and
    in proportion at 100,000. SQLite's planner keeps no such figures."""
    if added == 0 or session.get_bind().dialect.name != "postgresql":
        return
    known = session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'tasks'::regclass"))
    if added >= 50 + 0.1 * max(float(known or 0), 0.0):
        session.execute(text("ANALYZE tasks, candidates"))


def _insert_new(session: Session, project: Project, new: list[Line], position: int,
                report: ImportReport) -> int:
    """Bulk-insert new tasks and their candidates; returns the last position used."""
    now = utcnow()
    rows = []
    for line in new:
        position += 1
        rows.append(_task_row(project, line, position, now))
    # One executemany, then one query for the new ids (RETURNING with a
    # guaranteed order costs a statement per row on SQLite).
    session.execute(insert(TASKS), [_raw_json(row, "tests", "hidden_tests") for row in rows])
    ids = session.execute(
        select(Task.id, Task.external_id).where(
            Task.project_id == project.id,
            Task.external_id.in_([line.task["id"] for line in new]),
        )
    ).all()
    by_ext = {ext: tid for tid, ext in ids}
    cand_rows: list[dict[str, Any]] = []
    # Ids in random order, so on a blind project an id never tells where a candidate
    # stood in the file (the file's order is kept in position): each task's rows sorted by
    # random 64-bit keys from the OS, drawn in one call for the batch (SystemRandom's
    # shuffle asked for them one at a time: 6% of an import).
    noise = iter(memoryview(os.urandom(8 * sum(len(line.task["candidates"]) for line in new)))
                 .cast("Q"))
    for line in new:
        rows_of_task = [
            (next(noise), _candidate_row(by_ext[line.task["id"]], i, c, now))
            for i, c in enumerate(line.task["candidates"])
        ]
        rows_of_task.sort(key=itemgetter(0))
        cand_rows.extend(row for _, row in rows_of_task)
    session.execute(insert(CANDIDATES), [_raw_json(row, "files") for row in cand_rows])
    session.execute(update(Project).where(Project.id == project.id)
                    .values(task_count=Project.task_count + len(new)))
    report.created += len(new)
    report.candidates += len(cand_rows)
    report.task_ids.extend(by_ext.values())
    return position


def _raw_json(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The row with these columns as JSON text by orjson (`fast_dumps`): file names to
    file contents, the bulk of an import's bytes, which SQLAlchemy's json.dumps encoded
    at a quarter of the import's CPU. Text only (the schema's), so no float that orjson
    writes otherwise."""
    return row | {key: JSONText(fast_dumps(row[key])) for key in keys}


def _task_row(project: Project, line: Line, position: int, now: datetime) -> dict[str, Any]:
    t = line.task
    tests = t.get("tests", {})
    hidden = t.get("hidden_tests", {})
    return {
        "project_id": project.id,
        "external_id": t["id"],
        "position": position,
        "prompt": t["prompt"],
        "language": t.get("language", "python"),
        "tests": tests,
        "hidden_tests": hidden,
        "tests_hash": tests_hash(tests, hidden),
        "meta": t.get("metadata", {}),
        "is_gold": t.get("gold") is not None,
        "gold_answer": t.get("gold"),
        "created_at": now,
        "updated_at": now,
    }


def _candidate_row(
    task_id: int, position: int, c: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "label": c["id"],
        "position": position,
        "model": c.get("model", ""),
        "files": c["files"],
        "content_hash": files_hash(c["files"]),
        "meta": c.get("metadata", {}),
        "created_at": now,
    }


def _replace_task(session: Session, project: Project, line: Line) -> int:
    """--update of a task nobody has been assigned: the row stays; candidates matched by id."""
    t = line.task
    task = session.scalars(
        select(Task).where(Task.project_id == project.id, Task.external_id == t["id"])
    ).one()
    now = utcnow()
    row = _task_row(project, line, task.position, now)
    for key in ("prompt", "language", "tests", "hidden_tests", "tests_hash", "meta", "is_gold",
                "gold_answer"):
        setattr(task, key, row[key])
    task.updated_at = now
    by_label = {c.label: c for c in task.candidates}
    wanted = {c["id"] for c in t["candidates"]}
    for label, cand in by_label.items():
        if label not in wanted:
            session.delete(cand)
    session.flush()
    for i, c in enumerate(t["candidates"]):
        values = _candidate_row(task.id, i, c, now)
        values.pop("created_at")
        if c["id"] in by_label:
            session.execute(
                update(Candidate).where(Candidate.id == by_label[c["id"]].id).values(**values)
            )
        else:
            session.execute(insert(CANDIDATES), [values | {"created_at": now}])
    session.expire(task)
    return task.id


def _refuse_reviewed_updates(
    session: Session, project: Project, path: Path, known: set[str], digest: str
) -> None:
    """--update may not change a task that has been handed to annotators: their findings,
    scores and rankings refer to the code they saw, so it may not change under them."""
    lines = {
        line.task["id"]: line.number
        for line in iter_tasks(path, digest)
        if line.task["id"] in known
    }
    if not lines:
        return
    rows = session.execute(
        select(Task.external_id, func.count(Assignment.id))
        .join(Assignment, Assignment.task_id == Task.id)
        .where(Task.project_id == project.id, Task.external_id.in_(list(lines)))
        .group_by(Task.external_id)
    ).all()
    errors = [
        f"{path}:{lines[ext]}: id: task {ext!r} has {n} assignment(s) and can no longer "
        "change; import the new version under a new id"
        for ext, n in sorted(rows, key=lambda r: lines[r[0]])
    ]
    if errors:
        raise TaskFileError(errors)
