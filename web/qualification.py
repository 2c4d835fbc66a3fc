"""An annotator's own assessment: how far they are, their result and what they missed."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from harness import qualification
from web.access import project_or_404
from web.extensions import db

bp = Blueprint("qualification", __name__)


@bp.route("/p/<slug>/qualification")
def assessment_page(slug: str) -> ResponseReturnValue:
    """Any member sees their own assessment (a project they are not in is a 404)."""
    project = project_or_404(slug)
    tasks = qualification.qualification_tasks(db.session, project)
    attempt = qualification.attempt_of(db.session, project, current_user.id)
    answered = 0
    if attempt is None and tasks:
        answered = len(qualification.answered_assessment(db.session, project, current_user.id))
    pass_mark = float((project.settings or {}).get("pass_mark", qualification.DEFAULT_PASS_MARK))
    return render_template("qualification.html", project=project, tasks=tasks, attempt=attempt,
                           answered=answered, pass_mark=pass_mark)
