"""Project files (YAML): schema, validation with line numbers, and create_project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness import audit
from harness.errors import InvalidInput, NotFound
from harness.models import Candidate, Project, ProjectMember, Rubric, Task
from harness.rubric import (
    RubricError,
    format_validation_errors,
    load_rubric_file,
    load_yaml_with_lines,
)
from sandboxes.base import Limits


class ProjectError(InvalidInput):
    """A project file with problems: every one as FILE:LINE: field: message."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid_project", f"the project file has {len(errors)} error(s)",
                         errors=errors)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SandboxSettings(_Strict):
    """Per-project overrides of the sandbox limits; bounds are the sandbox's own (Limits)."""

    wall_s: float | None = None
    memory_mb: int | None = None
    pids: int | None = None
    output_bytes: int | None = None
    disk_mb: int | None = None
    cpus: float | None = None
    nofile: int | None = None
    file_size_mb: int | None = None

    @model_validator(mode="after")
    def _within_sandbox_bounds(self) -> SandboxSettings:
        Limits.from_dict(self.model_dump(exclude_none=True))  # ValueError names the field
        return self


class HintSettings(_Strict):
    visible: bool = True


class ProjectFile(_Strict):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    description: str = ""
    rubric: str = Field(min_length=1)
    tasks: str | None = None
    overlap: int = Field(default=1, ge=1, le=50)
    blind: bool = True
    hints: HintSettings = Field(default_factory=HintSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    tests: bool = True
    lease_minutes: int | None = Field(default=None, ge=1, le=24 * 60)


def load_project_file(path: Path) -> ProjectFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError([f"{path}:1: cannot read: {exc}"]) from None
    try:
        data = load_yaml_with_lines(text, str(path))
    except RubricError as exc:
        raise ProjectError(exc.errors) from None
    if not isinstance(data, dict):
        raise ProjectError([f"{path}:1: (top level): expected a mapping of project fields"])
    try:
        return ProjectFile.model_validate(data)
    except ValidationError as exc:
        raise ProjectError(format_validation_errors(exc, data, str(path))) from None


def store_rubric(session: Session, path: Path) -> Rubric:
    """The rubric row for this exact content, created when new (a rubric version)."""
    body, source, digest = load_rubric_file(path)
    rubric = session.scalars(
        select(Rubric).where(Rubric.name == body.name, Rubric.content_hash == digest)
    ).one_or_none()
    if rubric is None:
        rubric = Rubric(
            name=body.name,
            version=body.version,
            content_hash=digest,
            source=source,
            body=body.model_dump(mode="json"),
        )
        session.add(rubric)
        session.flush()
    return rubric


def resolve(base: Path, relative: str) -> Path:
    path = Path(relative)
    return path if path.is_absolute() else (base.parent / path)


def create_project(session: Session, path: Path) -> tuple[Project, Path | None]:
    """Create the project the file describes. Returns it and its task file, if named."""
    spec = load_project_file(path)
    errors = []
    if session.scalars(select(Project.id).where(Project.slug == spec.slug)).first() is not None:
        errors.append(f"{path}: slug: a project {spec.slug!r} already exists")
    rubric_path = resolve(path, spec.rubric)
    if not rubric_path.is_file():
        errors.append(f"{path}: rubric: no such file {rubric_path}")
    task_path = resolve(path, spec.tasks) if spec.tasks else None
    if task_path is not None and not task_path.is_file():
        errors.append(f"{path}: tasks: no such file {task_path}")
    if errors:
        raise ProjectError(errors)
    try:
        rubric = store_rubric(session, rubric_path)
    except RubricError as exc:
        raise ProjectError(exc.errors) from None
    settings: dict[str, Any] = {}
    if spec.lease_minutes is not None:
        settings["lease_minutes"] = spec.lease_minutes
    project = Project(
        slug=spec.slug,
        name=spec.name,
        description=spec.description,
        rubric_id=rubric.id,
        overlap=spec.overlap,
        blind=spec.blind,
        hints_visible=spec.hints.visible,
        tests_enabled=spec.tests,
        sandbox_limits=spec.sandbox.model_dump(exclude_none=True),
        settings=settings,
    )
    session.add(project)
    session.flush()
    audit.record(session, "project.create", project_id=project.id, object_type="project",
                 object_id=project.id, file=str(path))
    session.flush()
    return project, task_path


# --- reads the pages use ----------------------------------------------------------------


def visible_projects(session: Session, user_id: int, *, admin: bool) -> list[Project]:
    """Every project the user is a member of (all of them for an admin), by name."""
    query = select(Project).order_by(Project.name)
    if not admin:
        query = query.join(ProjectMember).where(ProjectMember.user_id == user_id)
    return list(session.scalars(query))


def project_for(session: Session, slug: str, *, user_id: int, admin: bool) -> Project:
    """The project, if the user may see it; NotFound otherwise (no hint that it exists)."""
    project = session.scalars(select(Project).where(Project.slug == slug)).one_or_none()
    if project is not None and not admin:
        member = session.scalar(
            select(ProjectMember.id).where(
                ProjectMember.project_id == project.id, ProjectMember.user_id == user_id
            )
        )
        if member is None:
            project = None
    if project is None:
        raise NotFound("not_found", "no such project of yours")
    return project


def task_in(session: Session, project: Project, external_id: str) -> Task:
    task = session.scalars(
        select(Task).where(Task.project_id == project.id, Task.external_id == external_id)
    ).one_or_none()
    if task is None:
        raise NotFound("not_found", "no such task in this project")
    return task


def task_list(session: Session, project: Project, *, page: int,
              page_size: int) -> tuple[list[tuple[str, str, int]], int]:
    """((task id, language, candidates) of one page in file order, total tasks)."""
    total = session.scalar(select(func.count(Task.id)).where(Task.project_id == project.id))
    rows = session.execute(
        select(Task.external_id, Task.language, func.count(Candidate.id))
        .join(Candidate, Candidate.task_id == Task.id)
        .where(Task.project_id == project.id)
        .group_by(Task.id)
        .order_by(Task.position)
        .limit(page_size)
        .offset((max(page, 1) - 1) * page_size)
    ).all()
    return [(e, lang, n) for e, lang, n in rows], int(total or 0)
