"""What must hold after a bench/load.py run, checked in the database and in what the
simulated annotators recorded (`Stats`): nothing acknowledged lost or stored twice, no
task over its overlap, the import all or nothing, no 5xx, and, with walk-away annotators,
every lapsed lease expired and its task claimed again. bench/load.py's docstring lists
them as the run prints them."""

from __future__ import annotations

import argparse
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from harness.db import make_engine, make_sessionmaker
from harness.models import Annotation, Assignment, Project, Task


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)
    submitted: list[tuple[int, int]] = field(default_factory=list)  # (assignment, version)
    abandoned: list[int] = field(default_factory=list)  # left, lease ran out, came back
    too_late: int = 0  # abandoned too near the end for the lease to run out
    revived: list[int] = field(default_factory=list)  # ... whose late save was accepted
    late_refused: int = 0  # late saves refused (409): the task had been reclaimed
    notes: list[str] = field(default_factory=list)  # printed after the figures
    counted_from: float = 0.0  # perf_counter times: requests started before are "warm-up",
    counted_until: float = float("inf")  # ... after, "overtime" (sent as the run ended)

    def record(self, kind: str, seconds: float, status: int) -> None:
        with self.lock:
            self.times[kind].append(seconds)
            self.statuses[status] += 1


def check_leases(s: Any, stats: Stats) -> list[str]:
    """Each abandoned assignment expired (unless its late save revived it) and its task
    was claimed by another annotator after the lease ran out."""
    problems = []
    reclaimed = 0
    for assignment_id in stats.abandoned:
        gone = s.get(Assignment, assignment_id)
        if gone.state != "expired" and assignment_id not in stats.revived:
            problems.append(f"abandoned assignment {assignment_id} is {gone.state}, not expired")
            continue
        if assignment_id in stats.revived:
            continue
        later = s.scalar(select(func.count(Assignment.id)).where(
            Assignment.task_id == gone.task_id, Assignment.user_id != gone.user_id,
            Assignment.created_at > gone.lease_expires_at))
        reclaimed += bool(later)
    expected = len(stats.abandoned) - len(stats.revived)
    if reclaimed < expected:
        problems.append(f"only {reclaimed} of {expected} expired tasks were claimed again")
    if not stats.abandoned:
        problems.append("no abandoned lease ran out during the run: lengthen --seconds")
    stats.notes.append(f"leases: {len(stats.abandoned)} abandoned ({stats.too_late} more too "
                       f"late in the run to expire), {expected} expired and "
                       f"{reclaimed} of them reclaimed by others; late saves: "
                       f"{len(stats.revived)} revived, {stats.late_refused} refused")
    return problems


def check(url: str, args: argparse.Namespace, stats: Stats, imported: int) -> list[str]:
    problems = list(stats.errors[:20])
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        rows = s.execute(select(Annotation.assignment_id, Annotation.version))
        stored = {(a, v) for a, v in rows}
        lost = set(stats.submitted) - stored
        if lost:
            problems.append(f"{len(lost)} acknowledged submits are not in the database")
        if len(stats.submitted) != len(set(stats.submitted)):
            problems.append("a submit was acknowledged twice")
        dupes = s.scalar(select(func.count()).select_from(
            select(Annotation.assignment_id, Annotation.version)
            .group_by(Annotation.assignment_id, Annotation.version)
            .having(func.count() > 1).subquery()))
        if dupes:
            problems.append(f"{dupes} annotation versions stored twice")
        over = s.scalar(select(func.count()).select_from(
            select(Assignment.task_id)
            .where(Assignment.state.in_(("active", "submitted")))
            .group_by(Assignment.task_id)
            .having(func.count() > args.overlap).subquery()))
        if over:
            problems.append(f"{over} tasks held by more than {args.overlap} annotators")
        side = s.scalar(select(func.count(Task.id)).join(Project).where(Project.slug == "side"))
        if side not in (0, imported):
            problems.append(f"the import is partial: {side} of {imported} tasks")
        if side == 0 and imported:
            problems.append("the import did not finish in time")
        if args.abandon:
            problems += check_leases(s, stats)
    engine.dispose()
    fives = sum(n for code, n in stats.statuses.items() if code >= 500)
    if fives:
        problems.append(f"{fives} responses were 5xx")
    return problems
