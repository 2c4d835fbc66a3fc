"""Planting gold from the browser: a lead picks a passing candidate of a task and a kind
of bug, sees the diff, and creates the gold task (the same service as `harness gold
plant`: harness.gold.plant_gold_task), with the planted lines as its gold finding.

The choice is a GET form, so the preview is a plain page; creating is a POST. A
refusal (nothing plantable, no passing run, an id in use) is shown on the page with
what to do, and the attempt is rolled back to a savepoint: nothing is imported.
"""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from harness import audit, gold, setup
from harness.errors import Conflict, InvalidInput, NotFound
from web.access import project_or_404, sees_models, task_or_404
from web.extensions import app_settings, db
from web.lead import bp
from web.security import roles_required

PLANTED_FILE = re.compile(r"^\S*planted\.jsonl:\d+: ")
"""The temporary task file's name, cut from import errors (the lead never saw it)."""


def _page(project, task, sources, candidate: str, kind: str, errors: list[str],
          new_id: str = "") -> str:
    preview = None
    if candidate and kind and not errors:
        chosen = next((s for s in sources if s.label == candidate), None)
        if chosen is None:
            errors = [f"this task has no candidate {candidate!r}"]
        elif not chosen.passing:
            errors = [f"candidate {candidate} has no passing test run "
                      f"({chosen.run_status or 'not run yet'}); plant bugs only into code "
                      "known to pass"]
        elif kind not in gold.KINDS:
            errors = [f"choose a kind: {', '.join(gold.KINDS)}"]
        elif not chosen.kinds[kind]:
            others = [gold.KIND_LABELS[k] for k, ok in chosen.kinds.items() if ok]
            errors = [f"candidate {candidate} has no place for {gold.KIND_LABELS[kind]}: it "
                      f"needs {gold.KIND_NEEDS[kind]}. "
                      + (f"It has a place for {' and '.join(others)}." if others else
                         "It has a place for no kind of bug: choose another candidate.")]
        else:
            preview = gold.preview(task, candidate, kind)
    return render_template(
        "lead/plant.html", project=project, task=task, sources=sources, candidate=candidate,
        kind=kind, errors=errors, preview=preview, new_id=new_id or (
            preview.new_id if preview else ""),
        plantable=[s for s in sources if s.passing and any(s.kinds.values())],
        kinds=gold.KINDS, labels=gold.KIND_LABELS, needs=gold.KIND_NEEDS,
        show_models=sees_models(project))


@bp.route("/p/<slug>/t/<path:external_id>/plant", methods=["GET", "POST"])
@roles_required("lead")
def plant_gold(slug: str, external_id: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    task = task_or_404(project, external_id)
    sources = gold.sources_of(db.session, task)
    form = request.form if request.method == "POST" else request.args
    candidate, kind = form.get("candidate", "").strip(), form.get("kind", "").strip()
    if request.method == "GET":
        return _page(project, task, sources, candidate, kind, [])
    new_id = form.get("new_id", "").strip() or gold.new_task_id(task)
    max_bytes = app_settings().max_file_bytes
    savepoint = db.session.begin_nested()
    try:
        report = gold.plant_gold_task(db.session, project, task, candidate, kind, new_id=new_id,
                                      max_bytes=max_bytes)
    except (InvalidInput, Conflict, NotFound) as exc:  # shown on the form, 422
        savepoint.rollback()
        errors = [PLANTED_FILE.sub("", line) for line in (exc.errors or [str(exc)])]
        return _page(project, task, sources, candidate, kind, errors, new_id), 422
    savepoint.commit()
    setup.after_import(db.session, project, report, progress=False, max_bytes=max_bytes)
    audit.record(db.session, "gold.plant", user_id=current_user.id, project_id=project.id,
                 object_type="task", object_id=report.task_ids[0] if report.task_ids else None,
                 source=task.external_id, candidate=candidate, kind=kind)
    flash(f"Gold task {new_id} created: {candidate} and {candidate}-planted, the planted lines "
          "as its known finding. Name it in Settings to use it in the assessment; gold is "
          "also mixed into live work at the project's gold rate.", "success")
    return redirect(url_for("lead.task_page", slug=slug, external_id=new_id))
