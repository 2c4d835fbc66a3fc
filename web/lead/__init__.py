"""Pages for project leads: tasks and their progress, annotations side by side,
agreement and adjudication, and running projects in the browser.

One blueprint ("lead"); each module registers the views of one part of the work.
Every view is for role lead (or admin) and looks objects up through the project.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("lead", __name__)

from web.lead import dashboard, gold, imports, projects, reviews, tasks  # noqa: E402,F401 - registers views

__all__ = ["bp"]
