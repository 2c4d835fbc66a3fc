"""Probe tests: an annotator's extra pytest file, run against every candidate of the task.

Same sandbox and limits as the task's runs. The probe file is the only test
file collected; the task's non-test files (helpers, data) are copied beside it.
Runs are synchronous, in a small thread pool, one per distinct candidate
content.

A probe is two steps, each committed by the caller: `reserve_probe` checks the
source, the assignment and the user's rate and inserts a pending ProbeTest
(empty `results`); `finish_probe` runs the sandboxes and fills the results in.
The rate is counted from the ProbeTest table, pending rows included, so it holds
across concurrent requests, restarts and server processes. The count and the
insert are serialised per user: on PostgreSQL the user row is locked (SELECT ...
FOR UPDATE); on SQLite the reservation's first statement is a write, which takes
the database's write lock until the caller commits.

`ProbeSlots` bounds how many probes one server process runs at once; a probe
that finds no free slot is refused (Unavailable "busy"), not queued.
"""

from __future__ import annotations

import ast
import os
import posixpath
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from harness.db import session_scope
from harness.errors import Conflict, InvalidInput, NotFound, RateLimited, TooLarge, Unavailable
from harness.models import Assignment, ProbeTest, User, utcnow
from harness.runs.execute import Executor
from harness.runs.keys import limits_for, run_mode
from sandboxes.base import Limits, RunResult

MAX_SOURCE_BYTES = 20 * 1024
RATE_LIMIT = 10
RATE_WINDOW = timedelta(minutes=5)
MAX_PARALLEL = 4
PROBE_FILE = "test_probe.py"
MAX_STORED_OUTPUT = 16 * 1024
"""Bytes of stdout and of stderr kept per candidate in a stored probe."""
BUSY_RETRY_AFTER = 5
"""Seconds a probe refused for want of a free slot is told to wait."""


def default_probe_slots() -> int:
    """Probes one server process runs at once: half the CPUs, at least one."""
    return max(1, (os.cpu_count() or 1) // 2)


@dataclass(frozen=True)
class RateLimit:
    count: int = RATE_LIMIT
    window: timedelta = RATE_WINDOW


def check_source(source: str) -> None:
    """A probe must be a small, valid Python file with at least one test function."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput("invalid_source", "the probe is empty; write a pytest test function")
    try:
        size = len(source.encode("utf-8"))
    except UnicodeEncodeError:  # "\ud800" in the JSON: a 500 from ast.parse below
        raise InvalidInput("invalid_source", "the probe has a lone surrogate character (U+D800 "
                           "to U+DFFF); it must be valid Unicode text") from None
    if size > MAX_SOURCE_BYTES:
        raise TooLarge("too_large",
                       f"the probe is {size} bytes; at most {MAX_SOURCE_BYTES} are allowed")
    if "\x00" in source:
        raise InvalidInput("invalid_source", "the probe contains a NUL character")
    try:
        tree = ast.parse(source, filename=PROBE_FILE)
    except SyntaxError as exc:
        raise InvalidInput(
            "invalid_source",
            f"{PROBE_FILE}, line {exc.lineno}: {exc.msg} (the probe must be valid Python)",
        ) from None
    has_test = any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
        or isinstance(node, ast.ClassDef) and node.name.startswith("Test")
        for node in tree.body
    )
    if not has_test:
        raise InvalidInput("invalid_source",
                         "the probe has no test: define a function whose name starts with test_")


class ProbeSlots:
    """A process-wide bound on running probes; a full server refuses rather than queues."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._free = threading.BoundedSemaphore(self.size)

    @contextmanager
    def hold(self) -> Iterator[None]:
        if not self._free.acquire(blocking=False):
            raise Unavailable(
                "busy",
                f"the server is running as many probes as it can; try again in "
                f"{BUSY_RETRY_AFTER} s",
                retry_after=BUSY_RETRY_AFTER,
            )
        try:
            yield
        finally:
            self._free.release()


def recent_probes(
    session: Session, user_id: int, window: timedelta, now: datetime | None = None
) -> list[Any]:
    """Creation times of the user's probes in the window, pending ones included."""
    since = (now or utcnow()) - window
    return list(session.scalars(
        select(ProbeTest.created_at)
        .join(Assignment, Assignment.id == ProbeTest.assignment_id)
        .where(Assignment.user_id == user_id, ProbeTest.created_at >= since)
        .order_by(ProbeTest.created_at)
    ))


def check_rate(
    session: Session, user_id: int, limit: RateLimit, now: datetime | None = None
) -> None:
    now = now or utcnow()
    times = recent_probes(session, user_id, limit.window, now)
    if len(times) >= limit.count:
        oldest = times[-limit.count]
        retry = max(int((oldest + limit.window - now).total_seconds()) + 1, 1)
        minutes = int(limit.window.total_seconds() // 60)
        raise RateLimited(
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


def _trim(text: str, limit: int = MAX_STORED_OUTPUT) -> tuple[str, bool]:
    """At most `limit` UTF-8 bytes of text, cut at a character boundary; and whether it was cut."""
    data = text.encode("utf-8", errors="surrogatepass")
    if len(data) <= limit:
        return text, False
    return data[:limit].decode("utf-8", errors="ignore"), True


def _summary(result: RunResult) -> dict[str, Any]:
    data = result.to_dict()
    data["tests"] = [{"name": t.name, "outcome": t.outcome, "message": t.message}
                     for t in result.tests]
    for stream in ("stdout", "stderr"):
        data[stream], cut = _trim(data.get(stream) or "")
        data[f"{stream}_truncated"] = bool(data.get(f"{stream}_truncated")) or cut
    return data


def _lock_user(session: Session, user_id: int) -> None:
    """Serialise probe reservations of one user until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(User.id).where(User.id == user_id).with_for_update())
    else:
        # SQLite: this write begins the transaction and takes the database's write lock
        # (waiting up to busy_timeout), so no other reservation interleaves with the
        # count and insert that follow.
        session.execute(
            update(User).where(User.id == user_id).values(is_active=User.is_active)
            .execution_options(synchronize_session=False)
        )


def check_active(session: Session, assignment: Assignment, now: datetime) -> None:
    """Probes are for work in progress: the assignment must be active, its lease live."""
    state, lease = session.execute(
        select(Assignment.state, Assignment.lease_expires_at).where(Assignment.id == assignment.id)
    ).one()
    if state == "active" and lease is not None and lease < now:
        state = "expired"
    if state != "active":
        extra = ("; your lease ran out: reload the page to resume the task if it is still free"
                 if state == "expired" else "")
        raise Conflict(
            "not_active",
            f"this assignment is {state}: probes run only while an assignment is active{extra}",
        )


def reserve_probe(
    session: Session,
    assignment: Assignment,
    source: str,
    *,
    rate: RateLimit | None = None,
    now: datetime | None = None,
) -> ProbeTest:
    """Check the probe, the assignment and the user's rate; insert the probe, pending.

    Raises a HarnessError (bad source or limits, assignment not active, rate
    exceeded) and inserts nothing. Flushes; the
    caller commits at once, which ends the per-user lock, and then calls finish_probe.
    """
    check_source(source)
    limits_for(assignment.project.sandbox_limits)  # bad limits fail before a slot is taken
    now = now or utcnow()
    _lock_user(session, assignment.user_id)
    check_active(session, assignment, now)
    check_rate(session, assignment.user_id, rate or RateLimit(), now)
    probe = ProbeTest(assignment_id=assignment.id, source=source, results={}, created_at=now)
    session.add(probe)
    session.flush()
    return probe


def finish_probe(
    session: Session, probe: ProbeTest, assignment: Assignment, executor: Executor
) -> ProbeTest:
    """Run a reserved probe against every candidate and store the results. Flushes.

    A sandbox that fails is that candidate's result (status sandbox_error), so a
    reserved probe always ends with a result for every candidate.
    """
    task = assignment.task
    limits: Limits = limits_for(assignment.project.sandbox_limits)
    tests = probe_files(dict(task.tests), probe.source)
    mode = run_mode(assignment.project.execution_mode, tests)
    by_hash: dict[str, dict[str, str]] = {}
    for cand in task.candidates:
        by_hash.setdefault(cand.content_hash, dict(cand.files))

    def one(files: dict[str, str]) -> RunResult:
        try:
            return executor(files, tests, limits, mode=mode)
        except Exception as exc:  # the sandbox failed, not the candidate
            return RunResult.failure("sandbox_error", f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, max(len(by_hash), 1))) as pool:
        outcomes = dict(zip(by_hash, pool.map(one, by_hash.values()), strict=True))
    probe.results = {str(c.id): _summary(outcomes[c.content_hash]) for c in task.candidates}
    session.flush()
    return probe


def run_probe(factory: sessionmaker[Session], assignment_id: int, source: str,
              executor: Executor, *, rate: RateLimit | None = None) -> ProbeTest:
    """Reserve, run and store a probe in two short transactions of its own.

    The reservation commits before anything runs, so the user's rate slot is
    taken even if the run is slow or the process dies; no transaction stays open
    while the sandboxes run. Returns the stored probe (detached, loaded).
    """
    check_source(source)
    with session_scope(factory) as session:
        assignment = session.get(Assignment, assignment_id)
        if assignment is None:
            raise NotFound("not_found", "no such assignment")
        probe_id = reserve_probe(session, assignment, source, rate=rate).id
    with session_scope(factory) as session:
        probe = session.get(ProbeTest, probe_id)
        assignment = session.get(Assignment, assignment_id)
        assert probe is not None and assignment is not None
        return finish_probe(session, probe, assignment, executor)


def probes_of(session: Session, assignment: Assignment, limit: int) -> list[ProbeTest]:
    """The assignment's probes, newest first."""
    return list(session.scalars(
        select(ProbeTest)
        .where(ProbeTest.assignment_id == assignment.id)
        .order_by(ProbeTest.created_at.desc(), ProbeTest.id.desc())
        .limit(limit)
    ))
