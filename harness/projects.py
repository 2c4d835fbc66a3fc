"""Project files (YAML): schema, validation with line numbers, and create_project."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import BindParameter, ColumnElement, bindparam, func, select, update
from sqlalchemy.orm import Session

from harness import audit
from harness.errors import InvalidInput, NotFound
from harness.models import (
    Assignment,
    Candidate,
    Project,
    ProjectMember,
    QualificationAttempt,
    Rubric,
    Task,
    User,
)
from harness.qualification import TIERS
from harness.rubric import (
    RubricError,
    format_validation_errors,
    load_yaml_with_lines,
    store_rubric,
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
    # "split" (default): the trusted tests run in a judge the candidate cannot reach;
    # "in_process": for a project whose tests need the candidate's internals.
    execution: Literal["split", "in_process"] = "split"
    lease_minutes: int | None = Field(default=None, ge=1, le=24 * 60)

    @field_validator("name", "description")
    @classmethod
    def _text(cls, value: str) -> str:
        """YAML decodes "\ud83d" to a lone surrogate, which no database stores as text."""
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("contains a lone UTF-16 surrogate escape (\\ud800-\\udfff), "
                             "which is not text") from None
        return value


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
    project = create_from_spec(session, spec, rubric, source=str(path))
    return project, task_path


def create_from_spec(session: Session, spec: ProjectFile, rubric: Rubric, *, source: str,
                     user_id: int | None = None) -> Project:
    """The project a validated spec describes, pinned to `rubric` (the CLI's project
    file and the lead's form both end here). The slug must be free."""
    if session.scalars(select(Project.id).where(Project.slug == spec.slug)).first() is not None:
        raise ProjectError([f"{source}: slug: a project {spec.slug!r} already exists"])
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
        execution_mode=spec.execution,
        settings=settings,
    )
    session.add(project)
    session.flush()
    audit.record(session, "project.create", user_id=user_id, project_id=project.id,
                 object_type="project", object_id=project.id, file=source)
    session.flush()
    return project


def validate_spec(data: dict[str, Any], source: str) -> ProjectFile:
    """A project spec from anywhere but a file (the lead's form), checked by the same
    schema; every problem as SOURCE: field: message."""
    try:
        return ProjectFile.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(form)"
            errors.append(f"{source}: {field}: {err['msg'].removeprefix('Value error, ')}")
        raise ProjectError(errors) from None


class ProjectSettingsIn(_Strict):
    """What a lead changes on a running project."""

    state: str = Field(default="active", pattern=r"^(active|paused)$")
    overlap: int = Field(ge=1, le=50)
    blind: bool
    hints_visible: bool
    tests_enabled: bool
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    execution: Literal["split", "in_process"] | None = None  # None: unchanged
    lease_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    agreement_threshold: float | None = Field(default=None, ge=-1.0, le=1.0)
    hourly_rate: float | None = Field(default=None, ge=0, le=100_000)
    gold_pause_below: float | None = Field(default=None, ge=0.0, le=1.0)
    gold_min: int | None = Field(default=None, ge=1, le=10_000)
    pass_mark: float | None = Field(default=None, ge=0.0, le=1.0)
    qualification_tasks: list[str] | None = None
    gold_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    tier_required: str | None = None
    grants_tier: str | None = None

    @field_validator("tier_required", "grants_tier")
    @classmethod
    def _tier(cls, value: str | None) -> str | None:
        if value is not None and value not in TIERS:
            raise ValueError(f"a tier is one of {', '.join(TIERS)}")
        return value


SETTINGS_KEYS = ("lease_minutes", "agreement_threshold", "hourly_rate", "gold_pause_below",
                 "gold_min", "pass_mark", "qualification_tasks", "gold_rate", "tier_required",
                 "grants_tier")
"""ProjectSettingsIn fields kept in Project.settings (the rest are columns)."""


def update_settings(session: Session, project: Project, changes: ProjectSettingsIn, *,
                    user_id: int | None) -> list[str]:
    """Apply a lead's changes; returns the names of the fields that changed (audited).

    Lowering k never takes work from anyone: assignments already held stay."""
    changed = []
    for field in ("state", "overlap", "blind", "hints_visible", "tests_enabled"):
        value = getattr(changes, field)
        if getattr(project, field) != value:
            setattr(project, field, value)
            changed.append(field)
    if changes.execution is not None and changes.execution != project.execution_mode:
        project.execution_mode = changes.execution  # runs re-key: the mode is in the key
        changed.append("execution")
    limits = changes.sandbox.model_dump(exclude_none=True)
    if limits != (project.sandbox_limits or {}):
        project.sandbox_limits = limits
        changed.append("sandbox")
    if changes.qualification_tasks:
        gold = set(session.scalars(select(Task.external_id).where(
            Task.project_id == project.id, Task.is_gold.is_(True),
            Task.external_id.in_(changes.qualification_tasks))))
        missing = [e for e in changes.qualification_tasks if e not in gold]
        if missing:
            raise InvalidInput("invalid", f"not gold tasks of this project: {', '.join(missing)}",
                               field="qualification_tasks")
    settings = dict(project.settings or {})
    for key in SETTINGS_KEYS:
        value = getattr(changes, key)
        if settings.get(key) != value:
            if value is None:
                settings.pop(key, None)
            else:
                settings[key] = value
            changed.append(key)
    project.settings = settings
    if changed:
        audit.record(session, "project.settings", user_id=user_id, project_id=project.id,
                     object_type="project", object_id=project.id, changed=changed)
    session.flush()
    return changed


def remove_member(session: Session, project: Project, user_id: int, *,
                  by: int | None) -> None:
    """Take a user off the project. Their active assignments are released (expired) so
    the tasks go back to the queue; what they submitted stays."""
    member = session.scalars(select(ProjectMember).where(
        ProjectMember.project_id == project.id, ProjectMember.user_id == user_id)).one_or_none()
    if member is None:
        raise NotFound("not_found", "no such member of this project")
    session.delete(member)
    session.execute(
        update(Assignment)
        .where(Assignment.project_id == project.id, Assignment.user_id == user_id,
               Assignment.state == "active")
        .values(state="expired")
        .execution_options(synchronize_session=False)
    )
    audit.record(session, "project.member_remove", user_id=by, project_id=project.id,
                 object_type="user", object_id=user_id)
    session.flush()


def members_of(session: Session, project: Project
               ) -> list[tuple[ProjectMember, User, QualificationAttempt | None]]:
    """(membership, user, assessment attempt) of the project's members, by name."""
    rows = session.execute(
        select(ProjectMember, User, QualificationAttempt)
        .join(User, User.id == ProjectMember.user_id)
        .outerjoin(QualificationAttempt,
                   (QualificationAttempt.project_id == ProjectMember.project_id)
                   & (QualificationAttempt.user_id == ProjectMember.user_id))
        .where(ProjectMember.project_id == project.id).order_by(User.name)).all()
    return [(m, u, a) for m, u, a in rows]


def external_ids(session: Session, task_ids: list[int]) -> dict[int, str]:
    """task id -> external id, 500 at a time."""
    out: dict[int, str] = {}
    for start in range(0, len(task_ids), 500):
        rows = session.execute(select(Task.id, Task.external_id).where(
            Task.id.in_(task_ids[start:start + 500])))
        out.update({task_id: ext for task_id, ext in rows})
    return out


SHIPPED_RUBRICS = Path(__file__).resolve().parent.parent / "rubrics"


def shipped_rubric_hashes() -> set[str]:
    """Content hashes of the rubric files that come with the product (rubrics/*.yaml)."""
    from harness.rubric import content_hash

    return {content_hash(path.read_text(encoding="utf-8"))
            for path in sorted(SHIPPED_RUBRICS.glob("*.yaml"))}


def rubric_choices(session: Session, user_id: int | None = None) -> list[Rubric]:
    """The newest stored version of each rubric name a new project can start from: for a
    lead (`user_id`), among the rubrics their own projects pin and the ones that came
    with the product, so another lead's edited copy of a rubric never stands in for it;
    for an admin (None), among every stored one."""
    query = select(Rubric.id, Rubric.name)
    if user_id is not None:
        theirs = (select(Project.rubric_id).join(ProjectMember)
                  .where(ProjectMember.user_id == user_id))
        query = query.where(Rubric.id.in_(theirs)
                            | Rubric.content_hash.in_(shipped_rubric_hashes()))
    newest: dict[str, int] = {}
    for rubric_id, name in session.execute(query):
        newest[name] = max(newest.get(name, 0), rubric_id)
    return list(session.scalars(select(Rubric).where(Rubric.id.in_(newest.values()))
                                .order_by(Rubric.name)))


# --- reads the pages use ----------------------------------------------------------------


def visible_projects(session: Session, user_id: int, *, admin: bool) -> list[Project]:
    """Every project the user is a member of (all of them for an admin), by name."""
    query = select(Project).order_by(Project.name)
    if not admin:
        query = query.join(ProjectMember).where(ProjectMember.user_id == user_id)
    return list(session.scalars(query))


_MEMBER_PROJECT = (
    select(Project).join(ProjectMember, ProjectMember.project_id == Project.id)
    .where(Project.slug == bindparam("slug"), ProjectMember.user_id == bindparam("user_id"))
)


def is_member(user_id: int | BindParameter[int]) -> ColumnElement[bool]:
    """A condition on a statement over Project: the user is a member of the project (the
    review page's one statement, harness.annotate.page.page_objects)."""
    return select(ProjectMember.id).where(
        ProjectMember.project_id == Project.id, ProjectMember.user_id == user_id
    ).exists()


def project_for(session: Session, slug: str, *, user_id: int, admin: bool) -> Project:
    """The project, if the user may see it; NotFound otherwise (no hint that it exists)."""
    if admin:
        project = session.scalars(select(Project).where(Project.slug == slug)).one_or_none()
    else:  # one statement, built once: every request of a project page asks this
        project = session.scalars(_MEMBER_PROJECT, {"slug": slug, "user_id": user_id}).first()
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
