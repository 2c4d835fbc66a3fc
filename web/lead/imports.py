"""Importing more tasks from the browser, in the background with progress.

The upload is saved under the data dir and a thread imports it in its own sessions
(the request returns at once): validation of every line first, then the bulk insert
in one transaction (a file with any error imports nothing), then test runs and hints
in short transactions. The job's state is a row (harness.import_jobs), so its page
survives a restart and says honestly what happened; only the line count of an import
under way is this process's own (the import's transaction holds SQLite's write lock,
so nothing else could write it). The page reloads itself (a meta refresh, no script)
until the job is over.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.utils import secure_filename

from harness import import_jobs
from harness.db import session_scope
from harness.errors import InvalidInput
from harness.models import Project
from web.access import project_or_404
from web.extensions import app_settings, db
from web.lead import bp
from web.security import roles_required

_lines_done: dict[str, int] = {}
"""token -> lines imported so far, for jobs running in this process."""


def _run(token: str, path: Path, factory: sessionmaker[Session], update: bool,
         max_bytes: int) -> None:
    def progress(n: int) -> None:
        _lines_done[token] = _lines_done.get(token, 0) + n

    try:
        import_jobs.run_job(factory, token, path, update=update, max_bytes=max_bytes,
                            progress=progress)
    finally:
        _lines_done.pop(token, None)
        shutil.rmtree(path.parent, ignore_errors=True)


def _folder(token: str) -> Path:
    """Where the job's upload waits (removed when the job ends, or found interrupted)."""
    return app_settings().data_dir / "imports" / token


@bp.route("/p/<slug>/import", methods=["GET", "POST"])
@roles_required("lead")
def import_page(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    if request.method == "GET":
        return render_template("lead/import.html", project=project, errors=[],
                               jobs=import_jobs.recent_jobs(db.session, project))
    settings = app_settings()
    request.max_content_length = settings.max_upload_mb * 1024 * 1024
    upload = request.files.get("tasks")
    if upload is None or not upload.filename:
        raise InvalidInput("invalid", "choose a task file (JSONL) to upload", field="tasks")
    name = secure_filename(upload.filename) or "tasks.jsonl"
    update = request.form.get("update") in ("1", "on")
    token = import_jobs.new_token()
    folder = _folder(token)
    folder.mkdir(parents=True, mode=0o700)
    path = folder / name
    upload.save(path)
    upload.close()  # a large upload is spooled to a temp file: closed now, not at gc
    with path.open("rb") as fh:
        lines = sum(1 for _ in fh)
    project_id, user_id = project.id, current_user.id
    db.release()  # the job row commits on its own before its thread looks for it
    with session_scope(db.factory) as s:
        owned = s.get(Project, project_id)
        assert owned is not None
        import_jobs.create_job(s, owned, user_id, name, lines, token=token)
    threading.Thread(target=_run, args=(token, path, db.factory, update, settings.max_file_bytes),
                     name=f"import-{token[:8]}", daemon=True).start()
    return redirect(url_for("lead.import_job", slug=slug, token=token))


@bp.route("/p/<slug>/import/<token>")
@roles_required("lead")
def import_job(slug: str, token: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    job = import_jobs.job_in(db.session, project, token)
    if job.state == "interrupted":  # its process died before removing the upload
        shutil.rmtree(_folder(job.token), ignore_errors=True)
    return render_template("lead/import_job.html", project=project, job=job,
                           lines_done=_lines_done.get(token))
