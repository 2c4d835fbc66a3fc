"""Test runs on the task page: the runs.json poll, probe tests, a lead's re-run.

Errors are raised as `harness.errors` and rendered by `web/errors.py` (these
are JSON endpoints, so the one JSON error shape). The server's in-process run
worker is started from `harness serve` (`start_worker`), never from the app
factory.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Blueprint, Flask, current_app
from flask.typing import ResponseReturnValue
from flask_login import current_user
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from harness import assignments, audit, probes
from harness import runs as runqueue
from harness.errors import Conflict, NotFound
from harness.models import Candidate, ProbeTest, TestRun
from harness.runs import Executor, Worker, check_backend, sandbox_executor
from harness.runs.hidden import hidden_note, visible_view
from web.access import own_assignment_or_404, project_or_404, task_or_404
from web.bodies import parse
from web.extensions import app_settings, db, session_factory
from web.security import roles_required

bp = Blueprint("runs", __name__)
PROBES_SHOWN = 20
log = logging.getLogger("harness.runs")


_slots_lock = threading.Lock()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def probe_slots() -> probes.ProbeSlots:
    """This process's bound on probes at once: the settings' probe_slots (default: half
    the CPUs), made on first use (this module loads with the first request to it)."""
    with _slots_lock:
        slots: probes.ProbeSlots | None = current_app.extensions.get("harness.probe_slots")
        if slots is None:
            size = app_settings().probe_slots or probes.default_probe_slots()
            slots = current_app.extensions["harness.probe_slots"] = probes.ProbeSlots(size)
    return slots


def use_executor(app: Flask, executor: Executor) -> None:
    """Run this app's probes and in-process worker with `executor` instead of the
    configured sandbox (tests, and custom set-ups that embed the app)."""
    app.extensions["harness.executor"] = executor


# -- JSON shapes ---------------------------------------------------------------------


def result_json(state: str, result: dict[str, Any] | None) -> dict[str, Any]:
    """One candidate's run (or probe) as the task page shows it."""
    result = result or {}
    return {
        "state": state,
        "status": result.get("status"),
        "tests": [{"name": t.get("name"), "outcome": t.get("outcome"),
                   "message": t.get("message", ""), "hidden": bool(t.get("hidden"))}
                  for t in result.get("tests", [])],
        "hidden_note": hidden_note(result),
        "wall_s": result.get("wall_s"),
        "peak_memory_bytes": result.get("peak_memory_bytes"),
        "isolation": result.get("isolation") or None,
        "integrity": result.get("integrity") or None,
        "backend": result.get("backend") or None,
        "stdout": result.get("stdout", ""),
        "stderr": result.get("stderr", ""),
        "stdout_truncated": bool(result.get("stdout_truncated", False)),
        "stderr_truncated": bool(result.get("stderr_truncated", False)),
        "tamper": list(result.get("tamper", [])),
        "error": result.get("error"),
    }


def run_json(run: TestRun | None, *, reveal_hidden: bool) -> dict[str, Any]:
    """A run as the pages show it; without `reveal_hidden` (an annotator who has not
    submitted) nothing of the task's hidden tests (harness.runs.hidden.visible_view)."""
    if run is None:
        return result_json("none", None)
    result = run.result if run.state == "done" else None
    if not reveal_hidden:
        result = visible_view(result, list(run.hidden_tests or {}))
    return result_json(run.state, result)


# -- the executor the probes use ------------------------------------------------------


def executor() -> Executor:
    """The sandbox executor for this app, built from the settings on first use."""
    cached: Executor | None = current_app.extensions.get("harness.executor")
    if cached is None:
        settings = app_settings()
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
    lead = current_user.role in ("lead", "admin")
    if not lead and not assignments.has_assignment(db.session, task, current_user.id):
        raise NotFound("not_found", "no such task of yours in this project")
    reveal = lead or assignments.has_submitted(db.session, task, current_user.id)
    runs = runqueue.runs_for_task(db.session, task)
    pending = any(r is not None and r.state in ("queued", "running") for r in runs.values())
    return {"pending": pending,
            "runs": {str(cid): run_json(r, reveal_hidden=reveal) for cid, r in runs.items()}}


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
    _project, assignment = own_assignment_or_404(slug, assignment_id)
    found = probes.probes_of(db.session, assignment, PROBES_SHOWN)
    return {"probes": [probe_json(p) for p in found]}


class ProbeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    source: str


@bp.post("/p/<slug>/a/<int:assignment_id>/probe")
def probe(slug: str, assignment_id: int) -> ResponseReturnValue:
    """Run the annotator's extra test file {"source": ...} against every candidate."""
    project, assignment = own_assignment_or_404(slug, assignment_id)
    if not project.tests_enabled:
        raise Conflict("tests_disabled", "tests are switched off for this project")
    source = parse(ProbeRequest).source
    probes.check_source(source)
    runqueue.limits_for(project.sandbox_limits)  # bad limits fail before a slot is taken
    slots = probe_slots()
    assignment_id = assignment.id
    with slots.hold():
        db.release()  # the probe opens short sessions of its own; hold no connection meanwhile
        found = probes.run_probe(db.factory, assignment_id, source, executor())
    return probe_json(found)


class RerunRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    candidate_id: int | None = None


@bp.post("/p/<slug>/t/<path:external_id>/rerun")
@roles_required("lead")
def rerun(slug: str, external_id: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    task = task_or_404(project, external_id)
    candidate_id = parse(RerunRequest).candidate_id
    target: Any = task
    if candidate_id is not None:
        target = db.session.scalars(
            select(Candidate).where(Candidate.id == candidate_id, Candidate.task_id == task.id)
        ).one_or_none()
        if target is None:
            raise NotFound("not_found", "no such candidate in this task")
    queued = runqueue.rerun(db.session, project, target)
    audit.record(db.session, "runs.rerun", user_id=current_user.id, project_id=project.id,
                 object_type="candidate" if candidate_id is not None else "task",
                 object_id=candidate_id if candidate_id is not None else task.id, queued=queued)
    return {"queued": queued, "pending": True}, 202


# -- the in-process worker -----------------------------------------------------------


def start_worker(app: Flask) -> Worker | None:
    """Start the server's run worker in background threads, unless HARNESS_INPROCESS_WORKER=0.

    The sandbox is checked in the background thread, so start-up does no I/O here;
    when no backend works the worker logs why and does not run.
    """
    settings = app_settings(app)
    if not settings.inprocess_worker:
        return None
    if settings.redis_url:
        log.warning("REDIS_URL is set: test runs go to `harness worker` processes through RQ; "
                    "this server runs none itself")
        return None
    configured: Executor | None = app.extensions.get("harness.executor")
    worker = Worker(
        session_factory(app),
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

    thread = threading.Thread(target=main, name="run-worker", daemon=True)
    thread.start()
    app.extensions["harness.worker"] = worker
    app.extensions["harness.worker_thread"] = thread  # web.cli.stop_background joins it
    return worker
