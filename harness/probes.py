"""Probe tests: an annotator's extra pytest file, run against every candidate of the task.

Same sandbox and limits as the task's runs. The probe file is the only test
file collected; the task's non-test files (helpers, data) are copied beside it.
Runs are synchronous, in a small thread pool, one per distinct candidate
content. The rate limit is counted from the ProbeTest table, so it holds
across restarts and server processes.
"""

from __future__ import annotations

import ast
import posixpath
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from harness.models import Assignment, ProbeTest, utcnow
from harness.runqueue.queue import error_result
from harness.runqueue.runner import Runner, limits_for
from sandboxes.base import Limits, RunResult

MAX_SOURCE_BYTES = 20 * 1024
RATE_LIMIT = 10
RATE_WINDOW = timedelta(minutes=5)
MAX_PARALLEL = 4
PROBE_FILE = "test_probe.py"


class ProbeError(Exception):
    """The probe cannot run; `code` is a short machine-readable reason."""

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class RateLimit:
    count: int = RATE_LIMIT
    window: timedelta = RATE_WINDOW


def check_source(source: str) -> None:
    """A probe must be a small, valid Python file with at least one test function."""
    if not isinstance(source, str) or not source.strip():
        raise ProbeError("invalid_source", "the probe is empty; write a pytest test function")
    size = len(source.encode("utf-8", errors="surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise ProbeError("too_large",
                         f"the probe is {size} bytes; at most {MAX_SOURCE_BYTES} are allowed")
    if "\x00" in source:
        raise ProbeError("invalid_source", "the probe contains a NUL character")
    try:
        tree = ast.parse(source, filename=PROBE_FILE)
    except SyntaxError as exc:
        raise ProbeError(
            "invalid_source",
            f"{PROBE_FILE}, line {exc.lineno}: {exc.msg} (the probe must be valid Python)",
        ) from None
    has_test = any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
        or isinstance(node, ast.ClassDef) and node.name.startswith("Test")
        for node in tree.body
    )
    if not has_test:
        raise ProbeError("invalid_source",
                         "the probe has no test: define a function whose name starts with test_")


def recent_probes(session: Session, user_id: int, window: timedelta) -> list[Any]:
    since = utcnow() - window
    return list(session.scalars(
        select(ProbeTest.created_at)
        .join(Assignment, Assignment.id == ProbeTest.assignment_id)
        .where(Assignment.user_id == user_id, ProbeTest.created_at >= since)
        .order_by(ProbeTest.created_at)
    ))


def check_rate(session: Session, user_id: int, limit: RateLimit) -> None:
    times = recent_probes(session, user_id, limit.window)
    if len(times) >= limit.count:
        oldest = times[-limit.count]
        retry = max(int((oldest + limit.window - utcnow()).total_seconds()) + 1, 1)
        minutes = int(limit.window.total_seconds() // 60)
        raise ProbeError(
            "rate_limited",
            f"at most {limit.count} probes per {minutes} minutes; try again in {retry} s",
            retry_after=retry,
        )


def _is_test_file(name: str) -> bool:
    base = posixpath.basename(name)
    return base.endswith(".py") and (base.startswith("test_") or base.endswith("_test.py"))


def probe_files(task_tests: dict[str, str], source: str) -> dict[str, str]:
    """The test files of a probe run: the probe, plus the task's helper (non-test) files."""
    files = {name: text for name, text in task_tests.items() if not _is_test_file(name)}
    name, n = PROBE_FILE, 1
    while name in task_tests:
        n += 1
        name = f"test_probe_{n}.py"
    files[name] = source
    return files


def _summary(result: RunResult) -> dict[str, Any]:
    data = result.to_dict()
    data["tests"] = [{"name": t.name, "outcome": t.outcome, "message": t.message}
                     for t in result.tests]
    return data


def run_probe(
    session: Session,
    assignment: Assignment,
    source: str,
    runner: Runner,
    *,
    rate: RateLimit | None = None,
) -> ProbeTest:
    """Check the probe and the user's rate, run it against every candidate, store it.

    Raises ProbeError (bad source, rate exceeded) before anything runs. Flushes.
    """
    check_source(source)
    check_rate(session, assignment.user_id, rate or RateLimit())
    task = assignment.task
    limits: Limits = limits_for(assignment.project.sandbox_limits)
    tests = probe_files(dict(task.tests), source)
    by_hash: dict[str, dict[str, str]] = {}
    for cand in task.candidates:
        by_hash.setdefault(cand.content_hash, dict(cand.files))

    def one(files: dict[str, str]) -> RunResult:
        try:
            return runner(files, tests, limits)
        except Exception as exc:  # the sandbox failed, not the candidate
            return error_result(f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, max(len(by_hash), 1))) as pool:
        outcomes = dict(zip(by_hash, pool.map(one, by_hash.values()), strict=True))
    results = {str(c.id): _summary(outcomes[c.content_hash]) for c in task.candidates}
    probe = ProbeTest(assignment_id=assignment.id, source=source, results=results)
    session.add(probe)
    session.flush()
    return probe

