"""Projects, task lists, the queue and the review page with its JSON writes."""

from __future__ import annotations

import difflib
import json
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select

from harness import annotate
from harness import assignments as queue
from harness.cwe import COMMON_CWES
from harness.models import Annotation, Assignment, Candidate, Project, Task, User
from harness.rubric import RubricBody, body_of
from harness.runs import runs_for_task
from harness.settings import Settings
from harness.status import project_overview
from harness.text import split_lines
from web.access import project_or_404, sees_models, task_or_404, visible_projects
from web.columns import candidate_hints, max_file_bytes, rows_renderer, summary_text
from web.extensions import db
from web.runs import run_json
from web.security import NOT_AN_ANNOTATOR, annotator_only, roles_required

bp = Blueprint("review", __name__)

PAGE_SIZE = 50


@bp.route("/")
def index() -> ResponseReturnValue:
    projects = visible_projects()
    counts = project_overview(db.session, [p.id for p in projects])
    return render_template("projects.html", projects=projects, counts=counts)


@bp.route("/p/<slug>/")
@roles_required("lead")
def project_tasks(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    total = db.session.scalar(select(func.count(Task.id)).where(Task.project_id == project.id))
    tasks = db.session.execute(
        select(Task.external_id, Task.language, func.count(Candidate.id))
        .join(Candidate, Candidate.task_id == Task.id)
        .where(Task.project_id == project.id)
        .group_by(Task.id)
        .order_by(Task.position)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    pages = max(((total or 0) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_template(
        "tasks.html", project=project, tasks=tasks, page=page, pages=pages, total=total
    )


@bp.route("/p/<slug>/t/<path:external_id>")
@roles_required("lead")
def task_page(slug: str, external_id: str) -> ResponseReturnValue:
    """The lead's view of a task: every candidate in file order, with its model, hints
    and test results (annotators see candidates only through their own assignment)."""
    project = project_or_404(slug)
    task = task_or_404(project, external_id)
    shown = [
        annotate.Shown(c, "ABCDEFGHIJKL"[i] if i < 12 else str(i + 1), {})
        for i, c in enumerate(task.candidates)
    ]
    hints = candidate_hints(task, shown)
    runs = {cid: run_json(run) for cid, run in runs_for_task(db.session, task).items()}
    return render_template(
        "task.html",
        code_rows=rows_renderer(task, hints),
        project=project,
        task=task,
        shown=shown,
        hints=hints,
        runs=runs,
        summary_text=summary_text,
        show_models=sees_models(project),
    )


# --- queue ----------------------------------------------------------------------------


def _lease_default() -> int:
    settings: Settings = current_app.config["HARNESS_SETTINGS"]
    return settings.lease_minutes


def _to_assignment(claim: queue.Claim) -> ResponseReturnValue:
    assert claim.assignment is not None
    db.session.commit()
    slug = db.session.scalar(
        select(Project.slug).where(Project.id == claim.assignment.project_id)
    )
    return redirect(url_for("review.assignment_page", slug=slug, assignment_id=claim.assignment.id))


@bp.route("/queue", methods=["GET", "POST"])
@annotator_only("POST")
def queue_page() -> ResponseReturnValue:
    """GET shows where work is waiting; POST (a form with its CSRF token) claims it."""
    admin = current_user.role == "admin"
    if request.method == "POST":
        claim = queue.claim_any(
            db.session, current_user.id, admin=admin, default_lease_minutes=_lease_default()
        )
        if claim.assignment is not None:
            return _to_assignment(claim)
        db.session.commit()
        return render_template("queue.html", project=None, reason=claim.reason,
                               message=claim.message, current=[], submitted=[]), 200
    projects = queue.member_projects(db.session, current_user.id, admin=admin)
    if current_user.role != "annotator":
        return _not_an_annotator(None, projects)
    current = _my_active(None)
    reason = "no_projects" if not projects else None
    return render_template("queue.html", project=None, projects=projects, reason=reason,
                           message=queue.Claim(None, reason).message, current=current,
                           submitted=[])


@bp.route("/p/<slug>/queue", methods=["GET", "POST"])
@annotator_only("POST")
def project_queue(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    if request.method == "POST":
        claim = queue.claim_next(
            db.session, current_user.id, project, default_lease_minutes=_lease_default()
        )
        if claim.assignment is not None:
            return _to_assignment(claim)
        db.session.commit()
        return render_template("queue.html", project=project, reason=claim.reason,
                               message=claim.message, current=[], submitted=[])
    if current_user.role != "annotator":
        return _not_an_annotator(project, [project])
    return render_template("queue.html", project=project, projects=[project], reason=None,
                           message="", current=_my_active(project),
                           submitted=_my_submitted(project))


def _not_an_annotator(project: Project | None, projects: list[Project]) -> ResponseReturnValue:
    return render_template("queue.html", project=project, projects=projects,
                           reason="not_annotator", current=[], submitted=[],
                           message=NOT_AN_ANNOTATOR.format(role=current_user.role))


def _my_active(project: Project | None) -> list[tuple[Assignment, str, str]]:
    query = (
        select(Assignment, Project.slug, Task.external_id)
        .join(Project, Project.id == Assignment.project_id)
        .join(Task, Task.id == Assignment.task_id)
        .where(Assignment.user_id == current_user.id, Assignment.state == "active")
        .order_by(Assignment.created_at)
        .limit(20)
    )
    if project is not None:
        query = query.where(Assignment.project_id == project.id)
    return [(a, s, e) for a, s, e in db.session.execute(query).all()]


def _my_submitted(project: Project) -> list[tuple[Assignment, str, str]]:
    """The user's own submitted assignments in this project, newest first (to revise)."""
    query = (
        select(Assignment, Project.slug, Task.external_id)
        .join(Project, Project.id == Assignment.project_id)
        .join(Task, Task.id == Assignment.task_id)
        .where(
            Assignment.user_id == current_user.id,
            Assignment.project_id == project.id,
            Assignment.state == "submitted",
        )
        .order_by(Assignment.submitted_at.desc())
        .limit(PAGE_SIZE)
    )
    return [(a, s, e) for a, s, e in db.session.execute(query).all()]


# --- the review page --------------------------------------------------------------------


def assignment_or_404(project: Project, assignment_id: int) -> Assignment:
    """The user's own assignment in this project; anything else is a 404."""
    assignment = db.session.scalars(
        select(Assignment).where(
            Assignment.id == assignment_id,
            Assignment.project_id == project.id,
            Assignment.user_id == current_user.id,
        )
    ).one_or_none()
    if assignment is None:
        abort(404)
    return assignment


def _rubric(project: Project) -> RubricBody:
    return body_of(project.rubric.content_hash, project.rubric.body)


@bp.route("/p/<slug>/a/<int:assignment_id>")
def assignment_page(slug: str, assignment_id: int) -> ResponseReturnValue:
    project = project_or_404(slug)
    assignment = assignment_or_404(project, assignment_id)
    task = assignment.task
    rubric = _rubric(project)
    shown = annotate.shown_candidates(assignment, task.candidates)
    hints = candidate_hints(task, shown) if project.hints_visible else {}
    versions = list(
        db.session.execute(
            select(Annotation.version, Annotation.submitted_at)
            .where(Annotation.assignment_id == assignment.id)
            .order_by(Annotation.version)
        ).all()
    )
    page_data = {
        "assignment": assignment.id,
        "state": assignment.state,
        "urls": {
            "draft": url_for("review.save_draft", slug=slug, assignment_id=assignment.id),
            "submit": url_for("review.submit", slug=slug, assignment_id=assignment.id),
            "diff": url_for("review.diff", slug=slug, assignment_id=assignment.id),
            "runs": url_for("runs.task_runs", slug=slug, external_id=task.external_id),
            "probe": url_for("runs.probe", slug=slug, assignment_id=assignment.id),
        },
        "candidates": [
            {
                "id": s.candidate.id,
                "letter": s.letter,
                "files": s.line_counts,
            }
            for s in shown
        ],
        "rubric": {
            "criteria": [
                {"key": c.key, "label": c.label, "min": c.scale.min, "max": c.scale.max,
                 "required": c.required}
                for c in rubric.criteria
            ],
            "categories": [
                {"key": c.key, "label": c.label, "cwe": c.cwe} for c in rubric.categories
            ],
            "severities": rubric.severities,
            "ties": rubric.ranking.ties,
            "ranking": rubric.ranking.enabled,
        },
        "cwes": [[cwe_id, name] for cwe_id, name in COMMON_CWES],
        "draft": assignment.draft or {},
        "versions": len(versions),
        "active_seconds": assignment.active_seconds,
    }
    return render_template(
        "review.html",
        code_rows=rows_renderer(task, hints),
        project=project,
        assignment=assignment,
        task=task,
        rubric=rubric,
        shown=shown,
        hints=hints,
        summary_text=summary_text,
        show_models=sees_models(project),
        page_data=page_data,
        versions=versions,
        lease_minutes=queue.lease_minutes(project, _lease_default()),
    )


def _json_error(code: str, message: str, status: int, field: str = "") -> ResponseReturnValue:
    return {"error": {"code": code, "message": message, "field": field}}, status


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> ResponseReturnValue:
    """JSON writes from the page get JSON back, so the page can say what happened."""
    if request.is_json:
        return _json_error(
            "csrf", "your session has expired or the page is stale: reload the page", 400
        )
    return exc


def _body() -> dict[str, Any]:
    """A JSON object, or a form whose `payload` field is one.

    The form is what navigator.sendBeacon sends when the page unloads: it cannot set
    the X-CSRFToken header, so the token travels in the form's csrf_token field.
    """
    if request.is_json:
        data = request.get_json(silent=True)
    else:
        try:
            data = json.loads(request.form.get("payload", ""))
        except ValueError:
            data = None
    if not isinstance(data, dict):
        abort(make_response(_json_error("bad_request", "expected a JSON object", 400)))
    return data


@bp.route("/p/<slug>/a/<int:assignment_id>/draft", methods=["POST"])
@annotator_only()
def save_draft(slug: str, assignment_id: int) -> ResponseReturnValue:
    """Autosave and heartbeat: {"draft": {...} | null, "active_seconds": n}."""
    project = project_or_404(slug)
    assignment = assignment_or_404(project, assignment_id)
    data = _body()
    try:
        added = annotate.save_draft(
            db.session, assignment, project, data.get("draft"),
            active_seconds=data.get("active_seconds", 0), lease_default=_lease_default(),
        )
    except annotate.AnnotateError as exc:
        db.session.rollback()
        return _json_error("invalid", exc.message, 409 if exc.field == "lease" else 400, exc.field)
    warnings: list[dict[str, str]] = []
    if data.get("draft") is not None:
        shown = annotate.shown_candidates(assignment, assignment.task.candidates)
        outcomes = annotate.run_outcomes(
            db.session, assignment.task, [s.candidate for s in shown]
        )
        warnings = [
            w.to_dict()
            for w in annotate.consistency_warnings(
                _rubric(project), shown, assignment.draft or {}, outcomes
            )
        ]
    db.session.commit()
    return {
        "saved_at": assignment.draft_saved_at.isoformat() if assignment.draft_saved_at else None,
        "lease_expires_at": assignment.lease_expires_at.isoformat()
        if assignment.lease_expires_at else None,
        "active_seconds": round(assignment.active_seconds, 1),
        "added_seconds": round(added, 1),
        "state": assignment.state,
        "warnings": warnings,
    }


@bp.route("/p/<slug>/a/<int:assignment_id>/submit", methods=["POST"])
@annotator_only()
def submit(slug: str, assignment_id: int) -> ResponseReturnValue:
    """{"draft": {...}, "acknowledge_warnings": bool, "active_seconds": n}."""
    project = project_or_404(slug)
    assignment = assignment_or_404(project, assignment_id)
    data = _body()
    try:
        # the draft as sent is kept even when the submission is refused (errors or
        # warnings): this request is also the page's save, heartbeat and lease renewal
        annotate.save_draft(
            db.session, assignment, project, data.get("draft"),
            active_seconds=data.get("active_seconds", 0), lease_default=_lease_default(),
        )
        result = annotate.submit_annotation(
            db.session, assignment, project, _rubric(project), data.get("draft"),
            acknowledge_warnings=bool(data.get("acknowledge_warnings")),
            lease_default=_lease_default(), max_bytes=max_file_bytes(),
        )
    except annotate.AnnotateError as exc:
        db.session.rollback()
        return _json_error("invalid", exc.message, 409 if exc.field == "lease" else 400, exc.field)
    db.session.commit()
    body: dict[str, Any] = {
        "ok": result.annotation is not None,
        "errors": [e.to_dict() for e in result.errors],
        "warnings": [w.to_dict() for w in result.warnings],
    }
    if result.annotation is not None:
        body["version"] = result.annotation.version
        body["next"] = url_for("review.queue_page")
    return body, (422 if result.errors else 200)


@bp.route("/p/<slug>/a/<int:assignment_id>/skip", methods=["POST"])
@annotator_only()
def skip(slug: str, assignment_id: int) -> ResponseReturnValue:
    project = project_or_404(slug)
    assignment = assignment_or_404(project, assignment_id)
    try:
        queue.skip(db.session, assignment, request.form.get("reason", ""))
    except queue.QueueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("review.assignment_page", slug=slug, assignment_id=assignment.id))
    db.session.commit()
    flash("Task skipped. It will not come back to you.", "info")
    return redirect(url_for("review.project_queue", slug=slug))


@bp.route("/p/<slug>/a/<int:assignment_id>/diff")
def diff(slug: str, assignment_id: int) -> ResponseReturnValue:
    """Line diff of one file between two candidates of this assignment's task."""
    project = project_or_404(slug)
    assignment = assignment_or_404(project, assignment_id)
    by_id = {c.id: c for c in assignment.task.candidates}
    left = by_id.get(request.args.get("left", -1, type=int) or -1)
    right = by_id.get(request.args.get("right", -1, type=int) or -1)
    if left is None or right is None:
        return _json_error("not_found", "choose two candidates of this task", 404)
    path = request.args.get("path") or ""
    left_path = path if path in left.files else sorted(left.files)[0]
    right_path = path if path in right.files else (
        left_path if left_path in right.files else sorted(right.files)[0]
    )
    a = split_lines(str(left.files[left_path]))
    b = split_lines(str(right.files[right_path]))
    rows: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend({"op": "equal", "a": i + 1, "b": j + 1, "a_text": a[i], "b_text": b[j]}
                        for i, j in zip(range(i1, i2), range(j1, j2), strict=True))
            continue
        for k in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + k, j1 + k
            rows.append({
                "op": tag,
                "a": i + 1 if i < i2 else None,
                "b": j + 1 if j < j2 else None,
                "a_text": a[i] if i < i2 else None,
                "b_text": b[j] if j < j2 else None,
            })
    changed = sum(1 for r in rows if r["op"] != "equal")
    return {"left": left.id, "right": right.id, "left_path": left_path,
            "right_path": right_path, "rows": rows, "changed": changed}


# --- lead pages -------------------------------------------------------------------------


@bp.route("/p/<slug>/assignments")
@roles_required("lead")
def assignments(slug: str) -> ResponseReturnValue:
    """Who has which task, in what state, with how many versions (leads only)."""
    project = project_or_404(slug)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    versions = (
        select(func.count(Annotation.id))
        .where(Annotation.assignment_id == Assignment.id)
        .correlate(Assignment)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Assignment, User.name, Task.external_id, versions)
        .join(User, User.id == Assignment.user_id)
        .join(Task, Task.id == Assignment.task_id)
        .where(Assignment.project_id == project.id)
        .order_by(Assignment.created_at.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return render_template("assignments.html", project=project, rows=rows, page=page)
