"""Every object is looked up through its project and the user's access to it.

The lookups themselves are harness read services that raise NotFound; these
wrappers only supply the current user.
"""

from __future__ import annotations

from flask_login import current_user

from harness import assignments, projects
from harness.models import Assignment, Project, Task
from web.extensions import db


def is_admin() -> bool:
    return bool(current_user.role == "admin")


def visible_projects() -> list[Project]:
    return projects.visible_projects(db.session, current_user.id, admin=is_admin())


def project_or_404(slug: str) -> Project:
    """The project, if the user may see it; 404 otherwise (no hint that it exists)."""
    return projects.project_for(db.session, slug, user_id=current_user.id, admin=is_admin())


def task_or_404(project: Project, external_id: str) -> Task:
    return projects.task_in(db.session, project, external_id)


def own_assignment_or_404(slug: str, assignment_id: int, *, candidates: bool = False,
                          saving: bool = False) -> tuple[Project, Assignment]:
    """The project (as `project_or_404`) and the user's own assignment in it (with its
    task's candidates: `assignments.own_in_project`; for a draft save or a submit, with
    what bounds its active time: `saving`), in one statement; a 404 when either is
    missing or not the user's."""
    return assignments.own_in_project(db.session, slug, assignment_id, user_id=current_user.id,
                                      admin=is_admin(), candidates=candidates, saving=saving)


def sees_models(project: Project) -> bool:
    """Model names are hidden from annotators on a blind project."""
    return not project.blind or current_user.role in ("lead", "admin")
