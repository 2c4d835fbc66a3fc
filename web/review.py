"""The review page of one assignment and its JSON writes: draft, submit, skip, diff."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from harness import annotate, assignments, leases
from harness.annotate.drafts import DraftRequest, is_stale
from harness.annotate.page import (
    lease_seconds_left,
    page_objects,
    review_state,
    versions_and_progress,
)
from harness.errors import NotFound
from harness.models import Assignment, Project
from harness.probes import MAX_SOURCE_BYTES
from harness.rubric import RubricBody, project_rubric
from harness.text import line_diff
from web.access import is_admin, own_assignment_or_404, sees_models
from web.bodies import parse
from web.columns import CodeRows, candidate_hints, hint_items, summary_text
from web.errors import json_view
from web.extensions import db
from web.render import highlighted_lines, preload
from web.review_parts import cwe_options, score_table
from web.security import annotator_only

bp = Blueprint("review", __name__)


def _rubric(project: Project) -> RubricBody:
    return project_rubric(db.session, project)


def _urls(slug: str, assignment: Assignment) -> dict[str, str]:
    ids = {"slug": slug, "assignment_id": assignment.id}
    return {
        "draft": url_for("review.save_draft", **ids),
        "submit": url_for("review.submit", **ids),
        "diff": url_for("review.diff", **ids),
        "runs": url_for("runs.task_runs", slug=slug, external_id=assignment.task.external_id),
        "probe": url_for("runs.probe", **ids),
        "probes": url_for("runs.probe_list", **ids),
        "reload": url_for("review.assignment_page", **ids),
    }


@bp.route("/p/<slug>/a/<int:assignment_id>")
def assignment_page(slug: str, assignment_id: int) -> ResponseReturnValue:
    found = page_objects(db.session, slug, assignment_id, user_id=current_user.id,
                         admin=is_admin())
    if found is None:  # the access lookups say what is missing
        own_assignment_or_404(slug, assignment_id)
        raise NotFound("not_found", "no such assignment of yours in this project")
    project, assignment, task = found
    rubric = _rubric(project)
    shown = annotate.shown_candidates(assignment, task.candidates)
    hints = candidate_hints(task, shown) if project.hints_visible else {}
    versions, (done, total) = versions_and_progress(db.session, assignment, project)
    page_data = review_state(assignment, shown, rubric, len(versions))
    page_data["urls"] = _urls(slug, assignment)
    can_probe = project.tests_enabled and assignment.state == "active"
    page_data["can_probe"] = can_probe
    preload(db.session, task.candidates, task.language)
    rows = CodeRows(task, hints)
    response = rows.response(render_template(
        "review.html",
        code_rows=rows,
        hint_items=hint_items,
        project=project,
        assignment=assignment,
        task=task,
        rubric=rubric,
        score_table=score_table(project.rubric.content_hash, rubric,
                                tuple((s.candidate.id, s.letter) for s in shown)),
        cwe_options=cwe_options(),
        shown=shown,
        hints=hints,
        summary_text=summary_text,
        show_models=sees_models(project),
        page_data=page_data,
        versions=versions,
        lease_minutes=leases.lease_minutes(db.session, project),
        can_probe=can_probe,
        probe_max=MAX_SOURCE_BYTES,
        comment_max=annotate.MAX_COMMENT,
        done=done,
        total=total,
    ))
    # the page carries the draft and the revision it is based on: Back and Forward must load
    # them afresh, never an earlier copy from the browser's cache (whose saves would be
    # refused as if another tab had saved)
    response.headers["Cache-Control"] = "no-store"
    return response


def _saved(assignment: Assignment, added: float, warnings: list[dict[str, str]]
           ) -> dict[str, Any]:
    return {
        "saved_at": assignment.draft_saved_at.isoformat() if assignment.draft_saved_at else None,
        "lease_expires_at": assignment.lease_expires_at.isoformat()
        if assignment.lease_expires_at else None,
        "lease_seconds_left": lease_seconds_left(assignment),
        "revision": assignment.draft_revision,
        "submitted_revision": assignment.submitted_revision,
        "active_seconds": round(assignment.active_seconds, 1),
        "added_seconds": round(added, 1),
        "state": assignment.state,
        "warnings": warnings,
    }


@bp.route("/p/<slug>/a/<int:assignment_id>/draft", methods=["POST"])
@annotator_only()
@json_view
def save_draft(slug: str, assignment_id: int) -> ResponseReturnValue:
    """Autosave and heartbeat: {"draft": {...} | null, "active_seconds": n, "revision": r,
    "page": id}. A draft based on a revision another page has since replaced is a 409."""
    project, assignment = own_assignment_or_404(slug, assignment_id, candidates=True,
                                                saving=True)
    body = parse(DraftRequest)
    draft = None
    warnings: list[dict[str, str]] = []
    if body.draft is not None:  # checked and its warnings read before anything is written
        draft = annotate.checked_draft(db.session, assignment, project, body.draft)
        warnings = [w.to_dict() for w in annotate.draft_warnings(db.session, assignment, draft)]
    added = annotate.save_draft(db.session, assignment, project, draft,
                                active_seconds=body.active_seconds, revision=body.revision,
                                page=body.page)
    reply = _saved(assignment, added, warnings)
    reply["stale"] = body.draft is None and is_stale(assignment, body.revision, body.page)
    return reply


@bp.route("/p/<slug>/a/<int:assignment_id>/submit", methods=["POST"])
@annotator_only()
@json_view
def submit(slug: str, assignment_id: int) -> ResponseReturnValue:
    """{"draft": {...}, "acknowledge_warnings": bool, "active_seconds": n}.

    The draft as sent is kept even when the submission is refused (errors or
    warnings): this request is also the page's save, heartbeat and lease renewal.
    """
    project, assignment = own_assignment_or_404(slug, assignment_id, candidates=True,
                                                saving=True)
    body = parse(DraftRequest)
    annotate.save_draft(db.session, assignment, project, body.draft,
                        active_seconds=body.active_seconds, revision=body.revision,
                        page=body.page)
    result = annotate.submit_annotation(
        db.session, assignment, project, _rubric(project), body.draft,
        acknowledge_warnings=body.acknowledge_warnings, lease_renewed=True,
    )
    reply: dict[str, Any] = {
        "ok": result.annotation is not None,
        "errors": [e.to_dict() for e in result.errors],
        "warnings": [w.to_dict() for w in result.warnings],
        "revision": assignment.draft_revision,
        "submitted_revision": assignment.submitted_revision,
        "unchanged": result.unchanged,
        "lease_seconds_left": lease_seconds_left(assignment),
    }
    if result.annotation is not None:
        reply["version"] = result.annotation.version
        reply["next"] = url_for("queue.queue_page")
    return reply, (422 if result.errors else 200)


@bp.route("/p/<slug>/a/<int:assignment_id>/skip", methods=["POST"])
@annotator_only()
def skip(slug: str, assignment_id: int) -> ResponseReturnValue:
    _project, assignment = own_assignment_or_404(slug, assignment_id)
    assignments.skip(db.session, assignment, request.form.get("reason", ""))
    flash("Task skipped. It will not come back to you.", "info")
    return redirect(url_for("queue.project_queue", slug=slug))


@bp.route("/p/<slug>/a/<int:assignment_id>/diff")
@json_view
def diff(slug: str, assignment_id: int) -> ResponseReturnValue:
    """Line diff of one file between two candidates of this assignment's task."""
    _project, assignment = own_assignment_or_404(slug, assignment_id)
    by_id = {c.id: c for c in assignment.task.candidates}
    left = by_id.get(request.args.get("left", -1, type=int) or -1)
    right = by_id.get(request.args.get("right", -1, type=int) or -1)
    if left is None or right is None:
        raise NotFound("not_found", "choose two candidates of this task")
    path = request.args.get("path") or ""
    left_path = path if path in left.files else sorted(left.files)[0]
    right_path = path if path in right.files else (
        left_path if left_path in right.files else sorted(right.files)[0]
    )
    left_text, right_text = str(left.files[left_path]), str(right.files[right_path])
    rows = line_diff(left_text, right_text)
    language = assignment.task.language
    preload(db.session, {left.id: left, right.id: right}.values(), language)
    left_html = highlighted_lines(left_path, language, left_text)
    right_html = highlighted_lines(right_path, language, right_text)
    for row in rows:  # pygments' escaped HTML per line, for the page to highlight the diff
        a, b = row["a"], row["b"]
        row["a_html"] = (str(left_html[a - 1]) if isinstance(a, int) and a <= len(left_html)
                         else None)
        row["b_html"] = (str(right_html[b - 1]) if isinstance(b, int) and b <= len(right_html)
                         else None)
    changed = sum(1 for r in rows if r["op"] != "equal")
    return {"left": left.id, "right": right.id, "left_path": left_path,
            "right_path": right_path, "rows": rows, "changed": changed}
