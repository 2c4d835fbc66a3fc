"""Projects, task lists and the task page."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from harness.models import Candidate, Task
from harness.status import project_status
from web.access import project_or_404, sees_models, task_or_404, visible_projects
from web.extensions import db

bp = Blueprint("review", __name__)

PAGE_SIZE = 50


@bp.route("/")
def index() -> ResponseReturnValue:
    projects = visible_projects()
    counts = {p.id: project_status(db.session, p) for p in projects}
    return render_template("projects.html", projects=projects, counts=counts)


@bp.route("/p/<slug>/")
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
def task_page(slug: str, external_id: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    task = task_or_404(project, external_id)
    candidates = list(task.candidates)
    return render_template(
        "task.html",
        project=project,
        task=task,
        candidates=candidates,
        show_models=sees_models(project),
    )
