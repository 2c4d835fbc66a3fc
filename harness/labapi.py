"""Reads the lab API serves: projects in a token's scope, tasks, candidates with their
runs and hints, annotation versions by cursor, adjudicated results. No flask here;
web/api.py is the HTTP.

Cursors are opaque to clients (base64 of a kind and the last id seen) and key on
ids that only grow, so a `since` cursor over annotations neither skips nor
repeats while annotations are being added: a new version always gets a larger id
than any a client has already seen, and it is visible no later than any larger id of
its project, because a project's annotation ids commit in id order
(harness.annotate.drafts.lock_annotation_ids; SQLite has one writer at a time anyway).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from harness import collector, settings
from harness.accounts import is_member
from harness.analysis.store import analyses_for, task_context
from harness.errors import InvalidInput, NotFound
from harness.exports import adjudicated, source
from harness.exports.jsonl import annotation_lines
from harness.exports.tasks import run_summary
from harness.models import MAX_ID, ApiToken, Project, Task
from harness.runs import runs_for_task
from harness.status import project_overview

MAX_PAGE = 500
DEFAULT_PAGE = 100


def encode_cursor(kind: str, last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int:
    """The last id a cursor stands for; 0 for none. A cursor of another kind is refused."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _, value = text.partition(":")
        last = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("invalid", "not a cursor this API gave out", field="cursor") from None
    if found != kind or not 0 <= last <= MAX_ID:  # 30 digits overflow the driver: a 500
        raise InvalidInput("invalid", "not a cursor this API gave out", field="cursor")
    return last


def page_size(limit: int | None) -> int:
    """The requested page size, capped at MAX_PAGE."""
    if limit is None:
        return DEFAULT_PAGE
    if limit < 1:
        raise InvalidInput("invalid", "at least 1", field="limit")
    return min(limit, MAX_PAGE)


def scoped_projects(session: Session, token: ApiToken) -> list[Project]:
    """The token's projects that its user is still a member of: a user taken off a
    project (or made an annotator) loses it through every token made before."""
    return sorted((p for p in token.projects if is_member(session, p, token.user)),
                  key=lambda p: p.slug)


def scoped_project(session: Session, token: ApiToken, slug: str) -> Project:
    """The project if the token is scoped to it and its user still a member; NotFound
    otherwise (no hint it exists)."""
    for project in token.projects:
        if project.slug == slug and is_member(session, project, token.user):
            return project
    raise NotFound("not_found", "no such project in this token's scope")


def project_json(session: Session, project: Project) -> dict[str, Any]:
    counts = project_overview(session, [project.id])[project.id]
    return {"slug": project.slug, "name": project.name, "description": project.description,
            "state": project.state, "overlap": project.overlap,
            "rubric": project.rubric.name, "rubric_version": project.rubric.version,
            "counts": counts}


def tasks_page(session: Session, project: Project, cursor: str | None,
               limit: int | None) -> dict[str, Any]:
    size = page_size(limit)
    after = decode_cursor("t", cursor)
    rows = session.scalars(
        select(Task).where(Task.project_id == project.id, Task.id > after)
        .order_by(Task.id).limit(size)).all()
    items = [{"id": t.external_id, "language": t.language, "prompt": t.prompt,
              "is_gold": t.is_gold, "candidates": [c.label for c in t.candidates]}
             for t in rows]
    last = rows[-1].id if rows else after
    return {"items": items, "next_cursor": encode_cursor("t", last) if len(rows) == size
            else None}


def task_in_scope(session: Session, project: Project, external_id: str) -> Task:
    task = session.scalars(select(Task).where(Task.project_id == project.id,
                                              Task.external_id == external_id)).one_or_none()
    if task is None:
        raise NotFound("not_found", "no such task in this project")
    return task


def task_json(session: Session, project: Project, task: Task) -> dict[str, Any]:
    """A task with every candidate's files, model, current run and hints."""
    runs = runs_for_task(session, task)
    analyses = analyses_for(session, (c.content_hash for c in task.candidates),
                            context=task_context(task, settings.max_file_bytes(session)))
    return {
        "id": task.external_id, "language": task.language, "prompt": task.prompt,
        "is_gold": task.is_gold, "tests": dict(task.tests),
        "candidates": [{
            "label": c.label, "model": c.model, "files": dict(c.files),
            "content_hash": c.content_hash, "run": run_summary(runs.get(c.id)),
            "hints": [dataclasses.asdict(h)
                      for h in analyses.get(c.content_hash, ([], {}))[0]],
        } for c in task.candidates],
    }


def annotations_page(session: Session, project: Project, since: str | None,
                     limit: int | None) -> bytes:
    """Annotation versions after the cursor, oldest first, as the page's JSON text
    ({"items", "next_cursor", "has_more"}, UTF-8): the records are the jsonl export's
    (exports/jsonl.annotation_lines), spliced in as they are written. next_cursor is
    always given: pass it back as `since` to get what was added meanwhile (an empty page
    keeps it)."""
    size = page_size(limit)
    after = decode_cursor("a", since)
    items: list[str] = []
    last = after
    # the collector paused while the page is built (harness/collector.py says why): a page
    # of 500 holds some 20,000 small containers, and the passes they set off were its p95
    with collector.paused():
        for found in source.iter_batches(session, project, after_id=after, limit=size,
                                         batch=size, with_files=False, records=True):
            for aid, text in annotation_lines(found):
                items.append(text)
                last = aid
        return "".join(('{"items":[', ",".join(items), '],"next_cursor":',
                        json.dumps(encode_cursor("a", last)), ',"has_more":',
                        json.dumps(len(items) == size), "}")).encode()


def adjudications_page(session: Session, project: Project, cursor: str | None,
                       limit: int | None) -> dict[str, Any]:
    """The project's adjudicated results (a lead's final ranking and findings), in task
    order, a page at a time. One per task: a re-adjudicated task keeps its place and
    shows its new `updated_at`, so a lab that wants changes re-reads the list."""
    size = page_size(limit)
    after = decode_cursor("j", cursor)
    rows = list(adjudicated.iter_adjudicated(session, project, after_task_id=after, limit=size,
                                             batch=size, with_runs=True, with_files=False))
    last = rows[-1].task.id if rows else after
    return {"items": [adjudicated.adjudication_record(r) for r in rows],
            "next_cursor": encode_cursor("j", last) if len(rows) == size else None}
