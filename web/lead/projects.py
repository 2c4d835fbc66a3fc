"""Running projects in the browser: create one from an uploaded task file, import more
tasks, change settings (pause, k, sandbox limits, hints, blind), members, the rubric.

Validation is the CLI's: the same ProjectFile schema, rubric parser and task-file
validator, so a form names every error with its line. A refused form is shown
again with every error listed (status 422) and the whole attempt rolled back to a
savepoint: a file with any error imports nothing, and no half-created project stays.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from harness import accounts, audit, importer, projects, qualification, setup
from harness import runs as runqueue
from harness.errors import InvalidInput
from harness.models import Project, Rubric, User
from harness.rubric import replace_rubric, store_rubric_text, version_label
from harness.settings import Settings
from web.access import is_admin, project_or_404
from web.bodies import parse
from web.extensions import app_settings, db
from web.lead import bp
from web.security import roles_required

T = TypeVar("T")
LIMIT_FIELDS = ("wall_s", "memory_mb", "pids", "cpus")


def _settings() -> Settings:
    settings = app_settings()
    return settings


@contextmanager
def _upload(file: FileStorage | None, default_name: str) -> Iterator[tuple[Path | None, str]]:
    """The uploaded file saved in a private temp dir under the data dir, named as uploaded
    (so error lines name it as the lead knows it); removed afterwards."""
    if file is None or not file.filename:
        yield None, ""
        return
    name = secure_filename(file.filename) or default_name
    data_dir = _settings().data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="upload-", dir=data_dir) as tmp:
        path = Path(tmp) / name
        file.save(path)
        yield path, tmp


def _attempt(work: Callable[[], T], tmp_prefixes: list[str]) -> tuple[T | None, list[str]]:
    """Run `work` in a savepoint; on a refusal roll it back and return every error line
    (temp dirs cut from file names)."""
    savepoint = db.session.begin_nested()
    try:
        result = work()
    except InvalidInput as exc:
        savepoint.rollback()
        lines = exc.errors or [str(exc)]
        for prefix in tmp_prefixes:
            if prefix:
                lines = [line.replace(prefix + "/", "") for line in lines]
        return None, lines
    savepoint.commit()
    return result, []


def _flag(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true", "yes")


def _limits_from_form() -> dict[str, Any]:
    return {k: request.form[k].strip() for k in LIMIT_FIELDS if request.form.get(k, "").strip()}


def _import(project: Project, path: Path, *, update: bool) -> importer.ImportReport:
    report = importer.import_tasks(db.session, project, path, update_existing=update,
                                   max_bytes=_settings().max_file_bytes)
    setup.after_import(db.session, project, report, progress=False,
                       max_bytes=_settings().max_file_bytes)
    return report


# --- create ------------------------------------------------------------------------------

@bp.route("/projects/new", methods=["GET", "POST"])
@roles_required("lead")
def new_project() -> ResponseReturnValue:
    rubrics = projects.rubric_choices(db.session, None if is_admin() else current_user.id)
    if request.method == "GET":
        return render_template("lead/new_project.html", rubrics=rubrics, form={}, errors=[])
    form = request.form
    with _upload(request.files.get("rubric_file"), "rubric.yaml") as (rubric_path, rtmp), \
            _upload(request.files.get("tasks"), "tasks.jsonl") as (task_path, ttmp):

        def create() -> Project:
            spec = projects.validate_spec({
                "name": form.get("name", ""), "slug": form.get("slug", ""),
                "description": form.get("description", ""), "rubric": "(form)",
                "overlap": form.get("overlap") or 1, "blind": _flag("blind"),
                "hints": {"visible": _flag("hints_visible")}, "tests": _flag("tests"),
                "sandbox": _limits_from_form(),
                **({"lease_minutes": form["lease_minutes"]} if form.get("lease_minutes")
                   else {}),
            }, "form")
            rubric = _rubric_for_new(rubric_path, rubrics)
            project = projects.create_from_spec(db.session, spec, rubric, source="form",
                                                user_id=current_user.id)
            accounts.add_member(db.session, project, db.session.get(User, current_user.id))
            if task_path is not None:
                _import(project, task_path, update=False)
            return project

        created, errors = _attempt(create, [rtmp, ttmp])
    if created is None:
        return render_template("lead/new_project.html", rubrics=rubrics, form=form,
                               errors=errors), 422
    flash(f"Project {created.name} created.", "success")
    return redirect(url_for("lead.project_tasks", slug=created.slug))


def _rubric_for_new(uploaded: Path | None, choices: list[Rubric]) -> Rubric:
    """The uploaded rubric, else the chosen one, which must be one of `choices` (a lead's
    own projects' and the shipped ones: not any id in the database)."""
    if uploaded is not None:
        try:
            text = uploaded.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("invalid", "the rubric file is not UTF-8 text",
                               field="rubric_file") from None
        return store_rubric_text(db.session, text, uploaded.name)
    chosen = request.form.get("rubric_id", "")
    rubric = next((r for r in choices if str(r.id) == chosen), None)
    if rubric is None:
        raise InvalidInput("invalid", "form: rubric: choose a rubric or upload a rubric file",
                           field="rubric")
    return rubric


# --- settings, members, rubric -----------------------------------------------------------

@bp.route("/p/<slug>/settings", methods=["GET", "POST"])
@roles_required("lead")
def project_settings(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    if request.method == "POST":
        form = request.form
        data: dict[str, Any] = {
            "state": form.get("state", project.state), "overlap": form.get("overlap") or 0,
            "blind": _flag("blind"), "hints_visible": _flag("hints_visible"),
            "tests_enabled": _flag("tests_enabled"), "sandbox": _limits_from_form(),
        }
        if form.get("execution"):
            data["execution"] = form["execution"]
        for key in projects.SETTINGS_KEYS:
            if form.get(key, "").strip():
                data[key] = form[key].strip()
        if "qualification_tasks" in data:
            data["qualification_tasks"] = [
                e.strip() for e in data["qualification_tasks"].split(",") if e.strip()]

        def save() -> list[str]:
            changes = parse(projects.ProjectSettingsIn, data)
            changed = projects.update_settings(db.session, project, changes,
                                               user_id=current_user.id)
            if {"execution", "sandbox", "tests_enabled"} & set(changed):
                runqueue.enqueue_project(db.session, project)  # runs are keyed by both
            return changed

        changed, errors = _attempt(save, [])
        if not errors:
            flash(("Changed: " + ", ".join(changed or [])) if changed else "Nothing changed.",
                  "success")
            return redirect(url_for("lead.project_settings", slug=slug))
        # refused: shown again as typed, with the errors (nothing was saved)
        return render_template(
            "lead/settings.html", project=project, form=request.form, errors=errors,
            members=projects.members_of(db.session, project),
            rubric_label=version_label(project.rubric), limit_fields=LIMIT_FIELDS,
        ), 422
    return render_template(
        "lead/settings.html", project=project, form=None, errors=[],
        members=projects.members_of(db.session, project),
        rubric_label=version_label(project.rubric), limit_fields=LIMIT_FIELDS,
    )


@bp.post("/p/<slug>/members")
@roles_required("lead")
def add_member(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    name = request.form.get("name", "").strip()
    user = db.session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        raise InvalidInput("invalid", f"no user {name!r}", field="name")
    accounts.add_member(db.session, project, user)
    audit.record(db.session, "project.member_add", user_id=current_user.id,
                 project_id=project.id, object_type="user", object_id=user.id)
    flash(f"{user.name} is now a member.", "success")
    return redirect(url_for("lead.project_settings", slug=slug))


@bp.post("/p/<slug>/members/<int:user_id>/remove")
@roles_required("lead")
def remove_member(slug: str, user_id: int) -> ResponseReturnValue:
    project = project_or_404(slug)
    projects.remove_member(db.session, project, user_id, by=current_user.id)
    flash("Member removed; their tasks in progress went back to the queue.", "success")
    return redirect(url_for("lead.project_settings", slug=slug))


@bp.post("/p/<slug>/rubric")
@roles_required("lead")
def new_rubric_version(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    with _upload(request.files.get("rubric_file"), "rubric.yaml") as (path, tmp):
        if path is None:
            raise InvalidInput("invalid", "choose a rubric file to upload", field="rubric_file")
        text = path.read_text(encoding="utf-8", errors="replace")
        new, errors = _attempt(lambda: replace_rubric(db.session, project, text, name=path.name,
                                                      user_id=current_user.id), [tmp])
    if new is None:
        raise InvalidInput("invalid_rubric", "the rubric was not changed: " + "; ".join(errors),
                           field="rubric_file")
    flash(f"The rubric is now {version_label(new)}; annotations submitted from now on use it.",
          "success")
    return redirect(url_for("lead.project_settings", slug=slug))


@bp.post("/p/<slug>/members/<int:user_id>/unpause")
@roles_required("lead")
def lift_member_pause(slug: str, user_id: int) -> ResponseReturnValue:
    project = project_or_404(slug)
    qualification.lift_pause(db.session, project, user_id, by=current_user.id)
    flash("Pause lifted; gold accuracy counts afresh from now.", "success")
    return redirect(url_for("lead.project_settings", slug=slug))
