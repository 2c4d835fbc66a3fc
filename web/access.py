"""Every object is looked up through its project and the user's access to it."""

from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy import select

from harness.models import Project, ProjectMember, Task
from web.extensions import db


def visible_projects() -> list[Project]:
    query = select(Project).order_by(Project.name)
    if current_user.role != "admin":
        query = query.join(ProjectMember).where(ProjectMember.user_id == current_user.id)
    return list(db.session.scalars(query))


def project_or_404(slug: str) -> Project:
    """The project, if the user may see it; 404 otherwise (no hint that it exists)."""
    project = db.session.scalars(select(Project).where(Project.slug == slug)).one_or_none()
    if project is None:
        abort(404)
    if current_user.role != "admin":
        member = db.session.scalar(
            select(ProjectMember.id).where(
                ProjectMember.project_id == project.id, ProjectMember.user_id == current_user.id
            )
        )
        if member is None:
            abort(404)
    return project


def task_or_404(project: Project, external_id: str) -> Task:
    task = db.session.scalars(
        select(Task).where(Task.project_id == project.id, Task.external_id == external_id)
    ).one_or_none()
    if task is None:
        abort(404)
    return task


def sees_models(project: Project) -> bool:
    """Model names are hidden from annotators on a blind project."""
    return not project.blind or current_user.role in ("lead", "admin")
