"""What a claim costs as a project fills: `harness.assignments.claim_next` for a fresh
annotator of a project of --tasks tasks (k = 2) when none, half, all but 50 and all of
them are already full (the last answers "all done"), against the same claim on the
fresh project in the same run.

    .venv/bin/python bench/claims.py [--tasks 20000] [--database-url postgresql+psycopg://...]

The full tasks are the project's first ones (claims go in the project's order), each
submitted by two other annotators, inserted in bulk. Each figure is the median of 9
claims in process (wall time, each rolled back), after one to warm the caches.
PostgreSQL's tables are analysed after the fill, as autovacuum would have.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from harness import accounts, assignments, importer, projects
from harness.db import make_engine, make_sessionmaker, session_scope
from harness.models import Assignment, Project, Task, utcnow
from harness.setup import migrate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402 - bench/load.py: the same project file and tasks


def median_claim(factory: Any, user_id: int, *, nothing_left: bool) -> float:
    times = []
    for _ in range(10):
        with factory() as session:
            project = session.scalars(select(Project)).one()
            start = time.perf_counter()
            claim = assignments.claim_next(session, user_id, project)
            times.append(time.perf_counter() - start)
            assert (claim.reason == "all_done") if nothing_left else (
                claim.assignment is not None), claim.reason
            session.rollback()
    return statistics.median(times[1:])


def run(url: str, tasks: int, work: Path) -> list[tuple[int, float]]:
    engine = make_engine(url)
    migrate(engine)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:  # bench/load.py's project and tasks
        project, _ = projects.create_project(s, load.project_file(work, "claims", 2))
        importer.import_tasks(s, project, load.write_jsonl(work / "t.jsonl",
                                                           load.task_lines(tasks, "t")))
        project_id = project.id
        people = [accounts.add_user(s, f"u{i}", "annotator", password=None,
                                    projects=["claims"]).id for i in range(3)]
    figures = []
    done = 0
    for full in (0, tasks // 2, tasks - 50, tasks):
        with session_scope(factory) as s:
            ids = list(s.scalars(select(Task.id).order_by(Task.position)
                                 .offset(done).limit(full - done)))
            now = utcnow()
            if ids:
                s.execute(insert(Assignment), [
                    {"project_id": project_id, "task_id": t, "user_id": u, "state": "submitted",
                     "display_order": [], "submitted_at": now}
                    for t in ids for u in people[:2]])
        done = full
        if url.startswith("postgresql"):
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        figures.append((full, median_claim(factory, people[2], nothing_left=full == tasks)))
    engine.dispose()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    args = parser.parse_args(argv)
    if args.tasks < 100:
        parser.error("--tasks must be at least 100")
    with tempfile.TemporaryDirectory(prefix="harness-claims-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'harness.db'}"
        figures = run(url, args.tasks, Path(tmp))
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(f"claim_next on {database}, {args.tasks} tasks, k = 2 (median of 9):")
    base = figures[0][1]
    for full, seconds in figures:
        print(f"  {full:>7} full  {1000 * seconds:7.2f} ms  {seconds / base:5.2f}x the fresh "
              f"project's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
