"""The queue's verbs: dedup, atomic claims, guarded completion, recovery, re-runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta

from helpers import task_line, write_jsonl
from helpers.runs import GOOD, add_tasks, broken_runner, echo_runner, result
from sqlalchemy import func, select, update

from harness import runs as runqueue
from harness import setup
from harness.errors import HarnessError
from harness.importer import ImportReport
from harness.models import Task, TestRun, utcnow
from harness.runs import Worker


def all_runs(db) -> list[TestRun]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(TestRun).order_by(TestRun.id)))


def test_identical_candidates_share_one_run(db, queued_project) -> None:
    line = task_line("t1")
    line["candidates"].append({"id": "c", "model": "m", "files": {"solution.py": GOOD}})
    line["candidates"][0]["files"] = {"solution.py": GOOD}
    project = queued_project("d", [line])
    runs = all_runs(db)
    assert len(runs) == 2  # a and c are identical
    task = db.scalars(select(Task).where(Task.project_id == project.id)).one()
    by_cand = runqueue.runs_for_task(db, task)
    a, b, c = task.candidates
    assert by_cand[a.id] is not None and by_cand[a.id] is by_cand[c.id]
    assert by_cand[b.id] is not None and by_cand[b.id].id != by_cand[a.id].id
    assert {r.state for r in runs} == {"queued"}
    assert runs[0].image == runqueue.image_tag()


def test_enqueue_is_idempotent_and_limits_are_part_of_the_key(db, queued_project) -> None:
    p1 = queued_project("l1")
    assert len(all_runs(db)) == 4
    ids = list(db.scalars(select(Task.id).where(Task.project_id == p1.id)))
    assert runqueue.enqueue_for_tasks(db, p1, ids) == 0
    queued_project("l2")  # same content, same limits: shares the runs
    assert len(all_runs(db)) == 4
    queued_project("l3", sandbox={"memory_mb": 256})  # other limits: runs of its own
    runs = all_runs(db)
    assert len(runs) == 8
    assert sorted({r.limits["memory_mb"] for r in runs}) == [256, 512]
    assert len({r.dedup_key for r in runs}) == 8


def test_nothing_queued_without_tests(db, queued_project) -> None:
    queued_project("off", tests=False)
    queued_project("none", [task_line("t1", tests={})])
    assert all_runs(db) == []


def test_after_import_queues_runs(db, make_project, tmp_path) -> None:
    from harness import importer

    project = make_project("ai")
    report = importer.import_tasks(db, project, write_jsonl(tmp_path / "t.jsonl", add_tasks(2)))
    setup.after_import(db, project, report, progress=False)
    db.commit()
    assert len(all_runs(db)) == 4
    setup.after_import(db, project, ImportReport(task_ids=report.task_ids), progress=False)
    assert len(all_runs(db)) == 4


def test_claims_are_atomic_under_concurrency(db, session_factory, queued_project) -> None:
    queued_project("c", add_tasks(25))
    assert len(all_runs(db)) == 50
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def claimer(n: int) -> None:
        start.wait()
        while True:
            with session_factory() as s:
                run = runqueue.claim_run(s, f"{socket.gethostname()}:{os.getpid()}:t:{n}")
                s.commit()
            if run is None:
                return
            with lock:
                claimed.append(run.id)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(claimed) == sorted(r.id for r in all_runs(db))  # each exactly once
    runs = all_runs(db)
    assert {r.state for r in runs} == {"running"}
    assert {r.attempts for r in runs} == {1}
    assert len({r.worker for r in runs}) > 1  # really concurrent


def test_claim_takes_the_oldest_and_can_be_limited_to_a_project(db, queued_project) -> None:
    p1 = queued_project("o1", add_tasks(1))
    p2 = queued_project("o2", add_tasks(1, offset=5))
    first = runqueue.claim_run(db, "w")
    assert first is not None and first.id == min(r.id for r in all_runs(db))
    only = runqueue.claim_run(db, "w", project_id=p2.id)
    assert only is not None and only.candidate_hash not in {r.candidate_hash for r in all_runs(db)[:2]}
    assert runqueue.claim_run(db, "w", project_id=p2.id) is not None
    assert runqueue.claim_run(db, "w", project_id=p2.id) is None
    assert runqueue.claim_run(db, "w", project_id=p1.id) is not None
    assert runqueue.claim_run(db, "w") is None


def test_completion_is_guarded_by_worker_and_state(db, queued_project) -> None:
    queued_project("g", add_tasks(1))
    run = runqueue.claim_run(db, "w1")
    assert run is not None
    db.commit()
    ok = result("passed", run.tests)
    assert runqueue.complete_run(db, run.id, ok, worker="w2") is False
    assert runqueue.complete_run(db, run.id, ok, worker="w1") is True
    assert runqueue.complete_run(db, run.id, ok, worker="w1") is False  # never twice
    db.commit()
    row = db.get(TestRun, run.id, populate_existing=True)
    assert row is not None
    assert (row.state, row.status, row.backend, row.isolation) == ("done", "passed", "echo", "full")
    assert row.result is not None and row.result["tests"][0]["outcome"] == "passed"
    assert row.finished_at is not None


def test_requeue_stale_runs_of_dead_workers(db, queued_project) -> None:
    queued_project("s", add_tasks(3))
    host = socket.gethostname()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    live = runqueue.worker_id()
    workers = {
        "dead pid": f"{host}:{dead_pid}:abcd",
        "my pid, older token": f"{host}:{os.getpid()}:0000",
        "me": live,
        "other host, fresh": "elsewhere:1:x",
        "other host, silent": "elsewhere:2:y",
        "exhausted": f"{host}:{dead_pid}:efgh",
    }
    ids = {}
    for label, worker in workers.items():
        run = runqueue.claim_run(db, worker)
        assert run is not None
        ids[label] = run.id
    db.execute(update(TestRun).where(TestRun.id == ids["other host, silent"])
               .values(heartbeat_at=utcnow() - timedelta(minutes=5)))
    db.execute(update(TestRun).where(TestRun.id == ids["exhausted"]).values(attempts=3))
    db.commit()
    assert runqueue.requeue_stale(db, timedelta(minutes=1)) == 4
    db.commit()
    state = {label: db.get(TestRun, i, populate_existing=True) for label, i in ids.items()}
    assert {k for k, r in state.items() if r is not None and r.state == "queued"} == {
        "dead pid", "my pid, older token", "other host, silent"}
    assert {k for k, r in state.items() if r is not None and r.state == "running"} == {
        "me", "other host, fresh"}
    exhausted = state["exhausted"]
    assert exhausted is not None and exhausted.state == "done"
    assert exhausted.status == "sandbox_error" and "died 3 times" in (exhausted.error or "")
    requeued = state["dead pid"]
    assert requeued is not None and requeued.worker is None and requeued.attempts == 1


def test_rerun_adds_a_generation(db, queued_project) -> None:
    project = queued_project("r", add_tasks(1))
    task = db.scalars(select(Task).where(Task.project_id == project.id)).one()
    assert runqueue.rerun(db, project, task) == 0  # both still queued
    for _ in range(2):
        run = runqueue.claim_run(db, "w")
        assert run is not None
        runqueue.complete_run(db, run.id, result("passed", run.tests), worker="w")
    db.commit()
    assert runqueue.rerun(db, project, task.candidates[0]) == 1
    db.commit()
    current = runqueue.runs_for_task(db, task)
    first, second = (current[c.id] for c in task.candidates)
    assert first is not None and (first.generation, first.state) == (2, "queued")
    assert second is not None and (second.generation, second.state) == (1, "done")
    assert runqueue.rerun(db, project, task) == 1  # only the one not pending
    assert db.scalar(select(func.count(TestRun.id))) == 4


def test_worker_runs_everything_once(db, session_factory, queued_project) -> None:
    project = queued_project("w", add_tasks(6), sandbox={"memory_mb": 300})
    seen: list[tuple[int, str]] = []
    worker = Worker(session_factory, echo_runner, concurrency=3, poll_s=0.05,
                    until_idle=True, on_done=lambda i, s: seen.append((i, s)))
    assert worker.run() == 12
    runs = all_runs(db)
    assert sorted(i for i, _ in seen) == [r.id for r in runs]
    assert {r.state for r in runs} == {"done"} and {r.attempts for r in runs} == {1}
    assert sorted(r.status or "" for r in runs) == ["failed"] * 6 + ["passed"] * 6
    assert all(r.result and r.result["stdout"] == "memory_mb=300" for r in runs)
    assert runqueue.project_counts(db, project) == {
        "none": 0, "queued": 0, "running": 0, "done": 12, "status:passed": 6, "status:failed": 6}


def test_a_runner_that_raises_gives_sandbox_error(db, session_factory, queued_project) -> None:
    queued_project("b", add_tasks(1))
    Worker(session_factory, broken_runner, concurrency=1, until_idle=True).run()
    runs = all_runs(db)
    assert [r.status for r in runs] == ["sandbox_error"] * 2
    assert "the sandbox fell over" in (runs[0].error or "")


def test_worker_stop_and_abort(db, session_factory, queued_project) -> None:
    queued_project("a", add_tasks(4))
    gate = threading.Event()

    def blocking(files, tests, limits, **_):  # type: ignore[no-untyped-def]
        gate.wait(10)
        return echo_runner(files, tests, limits)

    worker = Worker(session_factory, blocking, concurrency=2, poll_s=0.05, heartbeat_s=0.1)
    thread = worker.start_background()
    for _ in range(100):
        if len([r for r in all_runs(db) if r.state == "running"]) == 2:
            break
        threading.Event().wait(0.05)
    worker.abort()  # the two in flight go back to the queue
    thread.join(5)
    assert not thread.is_alive()
    states = sorted(r.state for r in all_runs(db))
    assert states == ["queued"] * 8
    gate.set()


def test_worker_stop_lets_runs_in_flight_finish(db, session_factory, queued_project) -> None:
    queued_project("f", add_tasks(4))
    gate = threading.Event()

    def blocking(files, tests, limits, **_):  # type: ignore[no-untyped-def]
        gate.wait(10)
        return echo_runner(files, tests, limits)

    worker = Worker(session_factory, blocking, concurrency=1, poll_s=0.05, heartbeat_s=0.1)
    thread = worker.start_background()
    for _ in range(100):
        if any(r.state == "running" for r in all_runs(db)):
            break
        threading.Event().wait(0.05)
    worker.stop()
    gate.set()
    thread.join(5)
    assert not thread.is_alive()
    assert sorted(r.state for r in all_runs(db)) == ["done"] + ["queued"] * 7
    assert worker.completed == 1


def test_limits_the_sandbox_refuses_are_reported_not_queued(db, make_project, tmp_path) -> None:
    import pytest

    from harness import importer

    project = make_project("lim")
    # A project file with such limits is refused (test_cli); a row written before the
    # bounds tightened, or by hand, is reported here rather than crashing the import.
    project.sandbox_limits = {"memory_mb": 16}
    db.commit()
    report = importer.import_tasks(db, project, write_jsonl(tmp_path / "t.jsonl", add_tasks(1)))
    setup.after_import(db, project, report, progress=False)  # the import itself stands
    assert all_runs(db) == []
    with pytest.raises(HarnessError, match="memory_mb"):
        runqueue.project_counts(db, project)
