"""The home page: the projects the user can see, with their counts."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from harness.status import project_overview
from web.access import visible_projects
from web.extensions import db

bp = Blueprint("home", __name__)


@bp.route("/")
def index() -> ResponseReturnValue:
    if current_user.role == "lab":
        return redirect(url_for("lab.home"))  # a lab's home: its projects and exports
    projects = visible_projects()
    counts = project_overview(db.session, [p.id for p in projects])
    return render_template("projects.html", projects=projects, counts=counts)
