"""The task list with each task's progress, a task with every candidate, the assignments."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from harness import annotate, assignments, progress, projects
from harness.adjudication import adjudication_of
from harness.runs import runs_for_task
from web.access import project_or_404, sees_models, task_or_404
from web.columns import CodeRows, candidate_hints, hint_items, summary_text
from web.extensions import db
from web.lab import DOWNLOADS, TABULAR
from web.lead import bp
from web.render import preload
from web.runs import run_json
from web.security import roles_required

PAGE_SIZE = 50


MAX_PAGE = 10_000_000
"""Far past any project's last page; a larger number would overflow the OFFSET."""


def page_number() -> int:
    return min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)


@bp.route("/p/<slug>/")
@roles_required("lead")
def project_tasks(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    page = page_number()
    tasks, total = projects.task_list(db.session, project, page=page, page_size=PAGE_SIZE)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    done = progress.task_progress(db.session, project, [ext for ext, _lang, _n in tasks])
    return render_template(
        "tasks.html", project=project, tasks=tasks, page=page, pages=pages, total=total,
        progress=done,
        export_downloads=DOWNLOADS, export_tabular=TABULAR,
    )


@bp.route("/p/<slug>/t/<path:external_id>")
@roles_required("lead")
def task_page(slug: str, external_id: str) -> ResponseReturnValue:
    """The lead's view of a task: every candidate in file order, with its model, hints
    and test results (annotators see candidates only through their own assignment)."""
    project = project_or_404(slug)
    task = task_or_404(project, external_id)
    shown = annotate.in_file_order(task.candidates)
    hints = candidate_hints(task, shown)
    runs = {cid: run_json(run, reveal_hidden=True)
            for cid, run in runs_for_task(db.session, task).items()}
    preload(db.session, task.candidates, task.language)
    rows = CodeRows(task, hints)
    return rows.response(render_template(
        "task.html",
        code_rows=rows,
        hint_items=hint_items,
        project=project,
        task=task,
        shown=shown,
        hints=hints,
        runs=runs,
        summary_text=summary_text,
        show_models=sees_models(project),
        adjudicated=adjudication_of(db.session, task) is not None,
    ))


@bp.route("/p/<slug>/assignments")
@roles_required("lead")
def assignments_page(slug: str) -> ResponseReturnValue:
    """Who has which task, in what state, with how many versions (leads only)."""
    project = project_or_404(slug)
    page = page_number()
    rows = assignments.project_assignments(db.session, project, page=page, page_size=PAGE_SIZE)
    return render_template("assignments.html", project=project, rows=rows, page=page)
