"""Annotations side by side, agreement figures, the adjudication queue and adjudicating."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from harness import adjudication, agreement, projects, reviews, stats
from harness.errors import InvalidInput
from harness.rubric import body_of, version_label
from harness.text import whole_number
from web.access import project_or_404, sees_models, task_or_404
from web.bodies import parse
from web.extensions import db
from web.lead import bp
from web.lead.projects import _attempt
from web.security import roles_required

PAGE_SIZE = 100
"""Tasks per page of the agreement page (the figures above it cover them all)."""


@bp.route("/p/<slug>/t/<path:external_id>/annotations")
@roles_required("lead")
def annotations_page(slug: str, external_id: str) -> ResponseReturnValue:
    """Every annotator's latest review of the task, under the real candidates, with the
    letter each annotator saw each candidate as."""
    project = project_or_404(slug)
    task = task_or_404(project, external_id)
    found = reviews.task_reviews(db.session, task)
    rated = [agreement.Rated(r.user_id, dict(r.annotation.scores),
                             [list(g) for g in r.annotation.ranking],
                             list(r.annotation.display_order), list(r.findings))
             for r in found if r.annotation is not None]
    figures = agreement.task_agreement(task.id, rated)
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    return render_template(
        "lead/annotations.html", project=project, task=task, reviews=found,
        submitted=[r for r in found if r.submitted], figures=figures, rubric=rubric,
        threshold=agreement.threshold_of(project), show_models=sees_models(project),
        adjudicated=adjudication.adjudication_of(db.session, task),
    )


@bp.route("/p/<slug>/agreement")
@roles_required("lead")
def agreement_page(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    figures = stats.project_figures(db.session, project)
    pages = max((len(figures.per_task) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    shown = figures.per_task[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    names = projects.external_ids(db.session, [t.task_id for t in shown])
    return render_template("lead/agreement.html", project=project, figures=figures,
                           shown=shown, page=page, pages=pages,
                           threshold=agreement.threshold_of(project), names=names)


@bp.route("/p/<slug>/adjudication")
@roles_required("lead")
def adjudication_queue(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    threshold = agreement.threshold_of(project)
    queue = adjudication.adjudication_queue(db.session, project, threshold)
    return render_template("lead/adjudication_queue.html", project=project, queue=queue,
                           threshold=threshold)


def _form_to_body(form: MultiDict[str, str], candidate_ids: list[int]) -> dict[str, Any]:
    """The adjudication form as AdjudicationIn's shape: rank_<id> numbers (equal numbers
    tie), and finding rows f<i>_* of which only those with keep checked count."""
    ranks: dict[int, list[int]] = {}
    for cid in candidate_ids:
        rank = whole_number(form.get(f"rank_{cid}", ""))
        if rank is None or rank < 0:
            raise InvalidInput("invalid", "give every candidate a rank (1 = best)",
                               field=f"rank_{cid}")
        ranks.setdefault(rank, []).append(cid)
    findings = []
    rows = sorted({key.split("_", 1)[0] for key in form if key.startswith("f") and "_" in key})
    for row in rows:
        if not form.get(f"{row}_keep"):
            continue

        def get(name: str, row: str = row) -> str:
            return form.get(f"{row}_{name}", "").strip()

        def number(name: str, row: str = row) -> int:
            value = whole_number(form.get(f"{row}_{name}", ""))
            if value is None:
                raise InvalidInput("invalid", f"finding {row[1:]}: {name} must be a number",
                                   field=f"{row}_{name}")
            return value

        findings.append({
            "candidate_id": number("candidate"),
            "file_path": get("file"),
            "line_start": number("start"),
            "line_end": number("end"),
            "category": get("category"),
            "severity": get("severity"),
            "cwe": number("cwe") if get("cwe") else None,
            "comment": form.get(f"{row}_comment", ""),
            "merged_from": [n for x in get("merged").split(",")
                            if (n := whole_number(x)) is not None and n >= 0],
        })
    return {"ranking": [ranks[k] for k in sorted(ranks)], "findings": findings,
            "notes": form.get("notes", "")}


def _form_rows(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    """Every finding row of a refused form as typed (kept or not), for showing it again."""
    keys = {key.split("_", 1)[0] for key in form if key.startswith("f") and "_" in key}
    numbered = {k: n for k in keys if (n := whole_number(k[1:])) is not None}
    rows = []
    for row in sorted(numbered, key=numbered.__getitem__):
        rows.append({
            "keep": bool(form.get(f"{row}_keep")),
            "candidate_id": whole_number(form.get(f"{row}_candidate", "")),
            "file_path": form.get(f"{row}_file", ""), "line_start": form.get(f"{row}_start", ""),
            "line_end": form.get(f"{row}_end", ""), "category": form.get(f"{row}_category", ""),
            "severity": form.get(f"{row}_severity", ""), "cwe": form.get(f"{row}_cwe") or None,
            "comment": form.get(f"{row}_comment", ""),
            "merged_from": [n for x in form.get(f"{row}_merged", "").split(",")
                            if (n := whole_number(x)) is not None],
        })
    return rows


@bp.route("/p/<slug>/t/<path:external_id>/adjudicate", methods=["GET", "POST"])
@roles_required("lead")
def adjudicate(slug: str, external_id: str) -> ResponseReturnValue:
    """All annotations of the task together; merged findings to keep, edit or drop; the
    final ranking. Recording replaces the task's previous adjudication."""
    project = project_or_404(slug)
    task = task_or_404(project, external_id)
    found = reviews.task_reviews(db.session, task)
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    errors: list[str] = []
    if request.method == "POST":
        form = request.form

        def record() -> None:
            raw = _form_to_body(form, [c.id for c in task.candidates])
            body = parse(adjudication.AdjudicationIn, raw)
            adjudication.record_adjudication(db.session, project, task, found, body,
                                             user_id=current_user.id)

        _, errors = _attempt(record, [])
        if not errors:
            flash("Adjudication recorded.", "success")
            return redirect(url_for("lead.adjudicate", slug=slug, external_id=external_id))
    existing = adjudication.adjudication_of(db.session, task)
    rank_of: dict[int, Any]
    if errors:  # refused: the form again as the lead typed it, with the errors
        rows = _form_rows(request.form)
        rank_of = {c.id: request.form.get(f"rank_{c.id}", "") for c in task.candidates}
        notes = request.form.get("notes", "")
    else:
        if existing is not None:
            rows = [dict(f) for f in existing.findings]
            ranking = [list(g) for g in existing.ranking]
        else:
            rows = [c.merged(rubric) for c in adjudication.clusters(found)]
            ranking = adjudication.suggested_ranking(found)
        rank_of = {cid: i + 1 for i, group in enumerate(ranking) for cid in group}
        notes = existing.notes if existing else ""
    clusters = adjudication.clusters(found)
    sources = {f.id: name for c in clusters for name, f in c.members}
    return render_template(
        "lead/adjudicate.html", project=project, task=task, reviews=found,
        submitted=[r for r in found if r.submitted], rubric=rubric, rows=rows,
        rank_of=rank_of, existing=existing, sources=sources, blank_rows=0 if errors else 2,
        show_models=sees_models(project), rubric_label=version_label(project.rubric),
        notes=notes, errors=errors,
    ), 422 if errors else 200
