"""The home page: the projects the user can see, with their counts."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from harness.status import project_overview
from web.access import visible_projects
from web.extensions import db

bp = Blueprint("home", __name__)


@bp.route("/")
def index() -> ResponseReturnValue:
    projects = visible_projects()
    counts = project_overview(db.session, [p.id for p in projects])
    return render_template("projects.html", projects=projects, counts=counts)
