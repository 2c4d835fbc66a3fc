"""Test runs on the task page: the runs.json poll, probe tests, a lead's re-run.

Every error from these views is JSON of one shape: {"error": {"code", "message"}}.
The server's in-process run worker is started from `harness serve`
(`start_worker`), never from the app factory.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from flask import Blueprint, Flask, current_app, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from harness import probes
from harness import runs as runqueue
from harness.errors import HarnessError as RunQueueError
from harness.models import Assignment, AuditEvent, Candidate, ProbeTest, TestRun
from harness.runs import Executor, Worker, check_backend, sandbox_executor
from harness.settings import Settings
from web.access import project_or_404, task_or_404
from web.extensions import db
from web.security import roles_required

bp = Blueprint("runs", __name__)
PROBES_SHOWN = 20
log = logging.getLogger("harness.runs")


def init_app(app: Flask) -> None:
    """PROBE_SLOTS in the config bounds the probes this process runs at once."""
    size = app.config.get("PROBE_SLOTS") or probes.default_probe_slots()
    app.extensions["harness.probe_slots"] = probes.ProbeSlots(size)
    app.register_blueprint(bp)


# -- JSON shapes ---------------------------------------------------------------------


def error(code: str, message: str, status: int, **headers: str) -> ResponseReturnValue:
    return {"error": {"code": code, "message": message}}, status, headers


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    if isinstance(exc, CSRFError):
        return error("csrf", exc.description or "the CSRF token is missing or invalid", 400)
    code = (exc.name or "error").lower().replace(" ", "_")
    return error(code, exc.description or code, exc.code or 500)


def result_json(state: str, result: dict[str, Any] | None) -> dict[str, Any]:
    """One candidate's run (or probe) as the task page shows it."""
    result = result or {}
    return {
        "state": state,
        "status": result.get("status"),
        "tests": [{"name": t.get("name"), "outcome": t.get("outcome"),
                   "message": t.get("message", "")} for t in result.get("tests", [])],
        "wall_s": result.get("wall_s"),
        "peak_memory_bytes": result.get("peak_memory_bytes"),
        "isolation": result.get("isolation") or None,
        "backend": result.get("backend") or None,
        "stdout": result.get("stdout", ""),
        "stderr": result.get("stderr", ""),
        "stdout_truncated": bool(result.get("stdout_truncated", False)),
        "stderr_truncated": bool(result.get("stderr_truncated", False)),
        "tamper": list(result.get("tamper", [])),
        "error": result.get("error"),
    }


def run_json(run: TestRun | None) -> dict[str, Any]:
    if run is None:
        return result_json("none", None)
    return result_json(run.state, run.result if run.state == "done" else None)


# -- the runner the probes use -------------------------------------------------------


def executor() -> Executor:
    """The sandbox executor for this app; tests may set SANDBOX_EXECUTOR in the config."""
    configured: Executor | None = current_app.config.get("SANDBOX_EXECUTOR")
    if configured is not None:
        return configured
    cached: Executor | None = current_app.extensions.get("harness.executor")
    if cached is None:
        settings: Settings = current_app.config["HARNESS_SETTINGS"]
        cached = sandbox_executor(settings)
        current_app.extensions["harness.executor"] = cached
    return cached


# -- views -------------------------------------------------------------------------


@bp.get("/p/<slug>/t/<path:external_id>/runs.json")
def task_runs(slug: str, external_id: str) -> ResponseReturnValue:
    """Leads and admins see any task's runs; an annotator only those of a task assigned
    to them (the review page polls this), and a 404 for any other."""
    project = project_or_404(slug)
    task = task_or_404(project, external_id)
    if current_user.role not in ("lead", "admin") and db.session.scalar(
        select(Assignment.id).where(
            Assignment.task_id == task.id, Assignment.user_id == current_user.id
        )
    ) is None:
        return error("not_found", "no such task of yours in this project", 404)
    try:
        runs = runqueue.runs_for_task(db.session, task)
    except RunQueueError as exc:
        return error("bad_limits", str(exc), 500)
    pending = any(r is not None and r.state in ("queued", "running") for r in runs.values())
    return {"pending": pending, "runs": {str(cid): run_json(r) for cid, r in runs.items()}}


def _own_assignment(project_id: int, assignment_id: int) -> Assignment | None:
    return db.session.scalars(
        select(Assignment).where(
            Assignment.id == assignment_id,
            Assignment.project_id == project_id,
            Assignment.user_id == current_user.id,
        )
    ).one_or_none()


def probe_json(found: ProbeTest) -> dict[str, Any]:
    return {
        "id": found.id,
        "created_at": found.created_at.isoformat(),
        "pending": not found.results,
        "source": found.source,
        "results": {cid: result_json("done", res) for cid, res in found.results.items()},
    }


@bp.get("/p/<slug>/a/<int:assignment_id>/probes")
def probe_list(slug: str, assignment_id: int) -> ResponseReturnValue:
    """The assignment's probes, newest first (at most PROBES_SHOWN)."""
    project = project_or_404(slug)
    assignment = _own_assignment(project.id, assignment_id)
    if assignment is None:
        return error("not_found", "no such assignment of yours in this project", 404)
    found = db.session.scalars(
        select(ProbeTest)
        .where(ProbeTest.assignment_id == assignment.id)
        .order_by(ProbeTest.created_at.desc(), ProbeTest.id.desc())
        .limit(PROBES_SHOWN)
    )
    return {"probes": [probe_json(p) for p in found]}


@bp.post("/p/<slug>/a/<int:assignment_id>/probe")
def probe(slug: str, assignment_id: int) -> ResponseReturnValue:
    """Run the annotator's extra test file {"source": ...} against every candidate."""
    project = project_or_404(slug)
    assignment = _own_assignment(project.id, assignment_id)
    if assignment is None:
        return error("not_found", "no such assignment of yours in this project", 404)
    if not project.tests_enabled:
        return error("tests_disabled", "tests are switched off for this project", 409)
    body = request.get_json(silent=True)
    source = body.get("source") if isinstance(body, dict) else None
    if not isinstance(source, str):
        return error("bad_request", 'expected a JSON object {"source": "<pytest file>"}', 400)
    slots: probes.ProbeSlots = current_app.extensions["harness.probe_slots"]
    run = executor()
    try:
        probes.check_source(source)
        with slots.hold():
            found = probes.reserve_probe(db.session, assignment, source)
            db.session.commit()  # the user's rate slot is taken before anything runs
            probes.finish_probe(db.session, found, assignment, run)
            db.session.commit()
    except probes.ProbeError as exc:
        db.session.rollback()
        return probe_error(exc)
    except RunQueueError as exc:
        db.session.rollback()
        return error("bad_limits", str(exc), 500)
    return probe_json(found)


PROBE_ERROR_STATUS = {"too_large": 413, "rate_limited": 429, "busy": 503, "not_active": 409}


def probe_error(exc: probes.ProbeError) -> ResponseReturnValue:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
    return error(exc.code, exc.message, PROBE_ERROR_STATUS.get(exc.code, 400), **headers)


@bp.post("/p/<slug>/t/<path:external_id>/rerun")
@roles_required("lead")
def rerun(slug: str, external_id: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    task = task_or_404(project, external_id)
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        return error("bad_request", 'expected a JSON object, e.g. {"candidate_id": 12}', 400)
    target: Any = task
    candidate_id = body.get("candidate_id")
    if candidate_id is not None:
        if not isinstance(candidate_id, int) or isinstance(candidate_id, bool):
            return error("bad_request", "candidate_id: expected an integer", 400)
        target = db.session.scalars(
            select(Candidate).where(Candidate.id == candidate_id, Candidate.task_id == task.id)
        ).one_or_none()
        if target is None:
            return error("not_found", "no such candidate in this task", 404)
    try:
        queued = runqueue.rerun(db.session, project, target)
    except RunQueueError as exc:
        return error("cannot_rerun", str(exc), 409)
    db.session.add(AuditEvent(
        user_id=current_user.id, project_id=project.id, action="runs.rerun",
        object_type="candidate" if candidate_id is not None else "task",
        object_id=candidate_id if candidate_id is not None else task.id,
        details={"queued": queued},
    ))
    db.session.commit()
    return {"queued": queued, "pending": True}, 202


# -- the in-process worker -----------------------------------------------------------


def start_worker(app: Flask) -> Worker | None:
    """Start the server's run worker in background threads, unless HARNESS_INPROCESS_WORKER=0.

    The sandbox is checked in the background thread, so start-up does no I/O here;
    when no backend works the worker logs why and does not run.
    """
    if os.environ.get("HARNESS_INPROCESS_WORKER", "1") == "0":
        return None
    settings: Settings = app.config["HARNESS_SETTINGS"]
    configured: Executor | None = app.config.get("SANDBOX_EXECUTOR")
    worker = Worker(
        app.extensions["harness.sessionmaker"],
        configured or sandbox_executor(settings),
        concurrency=settings.run_concurrency,
        name="serve",
    )

    def main() -> None:
        if configured is None:
            _backend, ok, detail = check_backend(settings)
            if not ok:
                log.warning("no test runs in this process: sandbox %r is not usable: %s",
                            settings.sandbox_backend, detail)
                return
        try:
            worker.run()
        except Exception:  # the server keeps serving; say why runs stopped
            log.exception("the in-process run worker stopped")

    threading.Thread(target=main, name="run-worker", daemon=True).start()
    app.extensions["harness.worker"] = worker
    return worker
