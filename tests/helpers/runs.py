"""For the run queue's tests: executors that build a RunResult from their inputs (no
sandbox; subprocesses name them as `--executor helpers.runs:echo_runner`), and task sets
with a passing and a failing candidate."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from harness.models import Assignment, Project, Task, TestRun, User
from helpers import RUBRIC, task_line, write_jsonl
from sandboxes.base import Limits, RunResult, TestOutcome

GOOD = "def add(a, b):\n    return a + b\n"
BAD = "def add(a, b):\n    return a - b\n"


def add_tasks(n: int, *, offset: int = 0) -> list[dict[str, Any]]:
    """n tasks, each with a passing and a failing candidate of distinct content."""
    lines = []
    for i in range(offset, offset + n):
        line = task_line(f"t{i}")
        line["candidates"][0]["files"] = {"solution.py": GOOD + f"# {i}\n"}
        line["candidates"][1]["files"] = {"solution.py": BAD + f"# {i}\n"}
        lines.append(line)
    return lines


def result(status: str, tests: Mapping[str, str], *, stdout: str = "") -> RunResult:
    outcome = "passed" if status == "passed" else "failed"
    return RunResult(
        status=status, exit_code=0 if status == "passed" else 1, signal=None,
        tests=[TestOutcome(f"{name}::test", outcome, 0.01) for name in sorted(tests)],
        wall_s=0.01, cpu_s=0.01, peak_memory_bytes=1 << 20, stdout=stdout, stderr="",
        stdout_truncated=False, stderr_truncated=False, backend="echo", image="echo",
        isolation="full", tamper=[], error=None,
    )


def echo_runner(files: Mapping[str, str], tests: Mapping[str, str], limits: Limits,
                **_: Any) -> RunResult:
    """passed when the candidate adds, failed otherwise; echoes the limits it was given."""
    status = "passed" if "a + b" in files.get("solution.py", "") else "failed"
    return result(status, tests, stdout=f"memory_mb={limits.memory_mb}")


def slow_echo_runner(files: Mapping[str, str], tests: Mapping[str, str],
                     limits: Limits, **_: Any) -> RunResult:
    time.sleep(float(os.environ.get("ECHO_RUNNER_SLEEP", "0.3")))
    return echo_runner(files, tests, limits)


def broken_runner(files: Mapping[str, str], tests: Mapping[str, str], limits: Limits,
                  **_: Any) -> RunResult:
    raise RuntimeError("the sandbox fell over")


def assign(db: Session, project: Project, task: Task, name: str) -> Assignment:
    """An active assignment of `task` to the user `name`, candidates in file order."""
    user = db.scalars(select(User).where(User.name == name)).one()
    a = Assignment(project_id=project.id, task_id=task.id, user_id=user.id,
                   display_order=[c.id for c in task.candidates])
    db.add(a)
    db.commit()
    return a


# -- the command line, as a user runs it ---------------------------------------------------

HARNESS = str(Path(sys.executable).parent / "harness")


def harness(env: dict[str, str], *args: str,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARNESS, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(env: dict[str, str], port: int, log: Path,
          timeout: float = 60) -> subprocess.Popen[bytes]:
    """`harness serve` on 127.0.0.1:port, once it answers; its output goes to `log`."""
    import requests

    with log.open("ab") as fh:
        proc = subprocess.Popen([HARNESS, "serve", "--port", str(port)], env=env, stdout=fh,
                                stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(log.read_text())


def create_project(env: dict[str, str], tmp_path: Path, lines: list[dict[str, Any]],
                   slug: str = "p") -> None:
    """`harness project create` of a project whose file names these tasks."""
    tasks = write_jsonl(tmp_path / f"{slug}.jsonl", lines)
    spec = tmp_path / f"{slug}.yaml"
    spec.write_text(json.dumps({"name": slug, "slug": slug, "rubric": str(RUBRIC),
                                "tasks": str(tasks)}))
    done = harness(env, "project", "create", str(spec))
    assert done.returncode == 0, done.stderr


def all_runs(engine: Engine) -> list[TestRun]:
    with Session(engine) as s:
        return list(s.scalars(select(TestRun).order_by(TestRun.id)))
