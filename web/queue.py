"""The annotator's queue: where work is waiting, and taking the next task (a POST)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from harness import assignments, qualification
from harness.annotate.page import progress
from harness.models import Assignment, Project
from web.access import is_admin, project_or_404
from web.extensions import db
from web.security import NOT_AN_ANNOTATOR, annotator_only

bp = Blueprint("queue", __name__)

SUBMITTED_SHOWN = 50


def _to_assignment(assignment: Assignment) -> ResponseReturnValue:
    slug = db.session.get(Project, assignment.project_id)
    assert slug is not None
    return redirect(url_for("review.assignment_page", slug=slug.slug,
                            assignment_id=assignment.id))


def _empty(project: Project | None, claim: assignments.Claim) -> ResponseReturnValue:
    return render_template("queue.html", project=project, reason=claim.reason,
                           message=claim.message, current=[], submitted=[])


def _not_an_annotator(project: Project | None, projects: list[Project]) -> ResponseReturnValue:
    return render_template("queue.html", project=project, projects=projects,
                           reason="not_annotator", current=[], submitted=[],
                           message=NOT_AN_ANNOTATOR.format(role=current_user.role))


def _progress(projects: list[Project]) -> list[tuple[Project, int, int,
                                                   qualification.AssessmentStatus | None]]:
    """(project, done, total, assessment) for the annotator: "3 of 14 done" per project,
    and where the project asks for a starter assessment, how far they are or their result."""
    return [(p, *progress(db.session, current_user.id, p),
             qualification.assessment_status(db.session, p, current_user.id))
            for p in projects]


@bp.route("/queue", methods=["GET", "POST"])
@annotator_only("POST")
def queue_page() -> ResponseReturnValue:
    """GET shows where work is waiting; POST (a form with its CSRF token) claims it."""
    if request.method == "POST":
        claim = assignments.claim_any(db.session, current_user.id, admin=is_admin())
        if claim.assignment is not None:
            return _to_assignment(claim.assignment)
        return _empty(None, claim)
    projects = assignments.member_projects(db.session, current_user.id, admin=is_admin())
    if current_user.role != "annotator":
        return _not_an_annotator(None, projects)
    reason = "no_projects" if not projects else None
    return render_template(
        "queue.html", project=None, projects=projects, reason=reason,
        progress=_progress(projects),
        message=assignments.Claim(None, reason).message,
        current=assignments.listed(db.session, current_user.id, "active", limit=20),
        submitted=[],
    )


@bp.route("/p/<slug>/queue", methods=["GET", "POST"])
@annotator_only("POST")
def project_queue(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    if request.method == "POST":
        claim = assignments.claim_next(db.session, current_user.id, project)
        if claim.assignment is not None:
            return _to_assignment(claim.assignment)
        return _empty(project, claim)
    if current_user.role != "annotator":
        return _not_an_annotator(project, [project])
    return render_template(
        "queue.html", project=project, projects=[project], reason=None, message="",
        progress=_progress([project]),
        current=assignments.listed(db.session, current_user.id, "active", project, limit=20),
        submitted=assignments.listed(db.session, current_user.id, "submitted", project,
                                     limit=SUBMITTED_SHOWN),
    )
