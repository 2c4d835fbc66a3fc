"""Test runs across hosts: a real Redis (Debian's redis-server, a throwaway instance on a
Unix socket), two `harness worker` processes taking runs through RQ, and one of them
killed with SIGKILL in the middle of a run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import TESTS
from helpers.runs import HARNESS, add_tasks, all_runs, create_project
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from harness.db import make_engine
from harness.models import TestRun

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: `make test` installs Debian's redis-server")
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sock.exists(), "redis-server did not start"
    yield f"unix://{sock}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "HARNESS_DATA_DIR": str(tmp_path / "data"),
        "REDIS_URL": redis_url,
        "HARNESS_RUN_CONCURRENCY": "1",
        "ECHO_RUNNER_SLEEP": "0.4",
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }


@pytest.fixture
def engine(env: dict[str, str]) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{env['HARNESS_DATA_DIR']}/harness.db")
    yield eng
    eng.dispose()


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        return subprocess.Popen(
            [HARNESS, "worker", "--executor", "helpers.runs:slow_echo_runner"], env=env,
            stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def wait_for(engine: Engine, check, timeout: float = 90) -> list[TestRun]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = all_runs(engine)
        if check(found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out: {[(r.id, r.state, r.worker) for r in all_runs(engine)]}")


def test_two_workers_take_runs_through_rq_each_exactly_once(env, engine, tmp_path) -> None:
    create_project(env, tmp_path, add_tasks(6))
    first, second = start(env, tmp_path / "w1.log"), start(env, tmp_path / "w2.log")
    try:
        done = wait_for(engine, lambda rs: len(rs) == 12 and all(r.state == "done" for r in rs))
    finally:
        stop(first)
        stop(second)
    assert {r.status for r in done} == {"passed", "failed"}
    assert all(r.attempts == 1 for r in done), [(r.id, r.attempts) for r in done]
    assert all(r.worker and r.worker.endswith(":rq") for r in done)
    pids = {r.worker.split(":")[1] for r in done if r.worker}
    assert len(pids) >= 2  # the work was shared (each job runs in its own work horse)
    log = (tmp_path / "w1.log").read_text() + (tmp_path / "w2.log").read_text()
    assert "RQ worker(s) on queue harness-runs" in log


def test_worker_killed_mid_run_leaves_the_run_requeued_and_done_once(env, engine, tmp_path) -> None:
    create_project(env, tmp_path, add_tasks(4))
    slow = env | {"ECHO_RUNNER_SLEEP": "3"}
    victim = start(slow, tmp_path / "victim.log")
    try:
        running = wait_for(engine, lambda rs: any(r.state == "running" for r in rs), 60)
        held = next(r for r in running if r.state == "running")
        horse = int(held.worker.split(":")[1])  # RQ runs each job in its own process group
        os.killpg(victim.pid, signal.SIGKILL)  # the worker, its sweeper...
        os.kill(horse, signal.SIGKILL)  # ...and the work horse, mid-run
        victim.wait(10)
        assert next(r for r in all_runs(engine) if r.id == held.id).state == "running"
        survivor = start(env, tmp_path / "survivor.log")
        try:
            done = wait_for(engine, lambda rs: all(r.state == "done" for r in rs))
        finally:
            stop(survivor)
    finally:
        stop(victim)
    again = next(r for r in done if r.id == held.id)
    assert again.attempts == 2 and again.status in ("passed", "failed")
    assert again.worker != held.worker
    with Session(engine) as s:
        # one row per run, each done once: nothing was recorded twice or left behind
        assert s.scalar(select(TestRun.id).where(TestRun.state != "done")) is None
    assert all(r.attempts <= 2 for r in done)
