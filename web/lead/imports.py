"""Importing more tasks from the browser, in the background with progress.

The upload is saved under the data dir and a thread imports it in its own
sessions (the request returns at once): validation of every line first, then
the bulk insert in one transaction (a file with any error imports nothing), then
test runs and hints in short transactions. The job page reloads itself (a meta
refresh, no script) until the job is done and then lists the result or every
error with its line. Jobs live in this server process; a restart forgets them
(an import that was cut off committed nothing).
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from flask import current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.utils import secure_filename

from harness import audit, importer, setup
from harness.db import session_scope
from harness.errors import HarnessError, InvalidInput, NotFound
from harness.models import Project
from web.access import project_or_404
from web.extensions import app_settings, db
from web.lead import bp
from web.security import roles_required

log = logging.getLogger("harness.web")
KEPT_JOBS = 100
"""Finished jobs kept for their pages; older ones are forgotten first."""


@dataclass
class ImportJob:
    token: str
    project_id: int
    user_id: int
    name: str
    lines: int
    done: int = 0
    state: str = "validating"  # validating | importing | analysing | done | failed
    errors: list[str] = field(default_factory=list)
    summary: str = ""


def _jobs() -> dict[str, ImportJob]:
    jobs: dict[str, ImportJob] = current_app.extensions.setdefault("harness.import_jobs", {})
    return jobs


def _run(job: ImportJob, path: Path, factory: sessionmaker[Session], update: bool,
         max_bytes: int) -> None:
    def progress(n: int) -> None:
        job.state = "importing"
        job.done += n

    try:
        with session_scope(factory) as s:
            project = s.get(Project, job.project_id)
            assert project is not None
            report = importer.import_tasks(s, project, path, update_existing=update,
                                           max_bytes=max_bytes, progress=progress)
            audit.record(s, "project.import", user_id=job.user_id, project_id=project.id,
                         object_type="project", object_id=project.id, file=job.name,
                         created=report.created, updated=report.updated)
        job.state = "analysing"
        with session_scope(factory) as s:
            project = s.get(Project, job.project_id)
            assert project is not None
            setup.after_import(s, project, report, progress=False, max_bytes=max_bytes,
                               checkpoint=s.commit)
        job.summary = (f"Imported {report.created} new and {report.updated} updated task(s), "
                       f"{report.candidates} candidate(s).")
        job.state = "done"
    except HarnessError as exc:
        prefix = str(path.parent) + "/"
        job.errors = [line.replace(prefix, "") for line in (exc.errors or [str(exc)])]
        job.state = "failed"
    except Exception as exc:  # the page says so instead of spinning forever
        log.exception("import %s failed", job.token)
        job.errors = [f"the import stopped: {type(exc).__name__}; it has been logged"]
        job.state = "failed"
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


@bp.route("/p/<slug>/import", methods=["GET", "POST"])
@roles_required("lead")
def import_page(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    if request.method == "GET":
        return render_template("lead/import.html", project=project, errors=[])
    settings = app_settings()
    request.max_content_length = settings.max_upload_mb * 1024 * 1024
    upload = request.files.get("tasks")
    if upload is None or not upload.filename:
        raise InvalidInput("invalid", "choose a task file (JSONL) to upload", field="tasks")
    token = uuid.uuid4().hex
    folder = settings.data_dir / "imports" / token
    folder.mkdir(parents=True, mode=0o700)
    path = folder / (secure_filename(upload.filename) or "tasks.jsonl")
    upload.save(path)
    with path.open("rb") as fh:
        lines = sum(1 for _ in fh)
    job = ImportJob(token, project.id, current_user.id, path.name, lines)
    jobs = _jobs()
    finished = [t for t, j in jobs.items() if j.state in ("done", "failed")]
    for old in finished[:max(len(jobs) - KEPT_JOBS, 0)]:
        del jobs[old]
    jobs[token] = job
    update = request.form.get("update") in ("1", "on")
    threading.Thread(target=_run, args=(job, path, db.factory, update, settings.max_file_bytes),
                     name=f"import-{token[:8]}", daemon=True).start()
    return redirect(url_for("lead.import_job", slug=slug, token=token))


@bp.route("/p/<slug>/import/<token>")
@roles_required("lead")
def import_job(slug: str, token: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    job = _jobs().get(token)
    if job is None or job.project_id != project.id:
        raise NotFound("not_found", "no such import in this project (a restart forgets them)")
    # one copy, so the page's parts agree: the thread sets errors and the summary before
    # the state, and the copy reads the state before them
    return render_template("lead/import_job.html", project=project, job=replace(job))
