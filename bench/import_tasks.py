"""Import speed: `import_tasks` (validation + bulk insert; hints and runs excluded)
against the bare cost of the same work in the same run: json.loads of every line and a
plain sqlite3 executemany of the same rows into tables without constraints.

Target (DESIGN.md): >= 3,750 tasks/s for 10,000 tasks of 4 candidates on 2 cores.

    .venv/bin/python bench/import_tasks.py [--tasks 10000] [--rounds 3]

Issue 13's target: the harness import within 2x the bare cost, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from harness import importer, projects
from harness.db import make_engine, make_sessionmaker
from harness.setup import migrate

REPO = Path(__file__).resolve().parent.parent


def write_tasks(path: Path, n: int) -> None:
    demo = [json.loads(line) for line in (REPO / "examples/demo/tasks.jsonl").open()]
    with path.open("w") as fh:
        for i in range(n):
            task = dict(demo[i % len(demo)])
            task["id"] = f"bench-{i}"
            cands = []
            for j in range(4):
                c = dict(task["candidates"][j % len(task["candidates"])])
                c["id"] = f"c{j}"
                c["files"] = {k: v + f"\n# variant {i}-{j}\n" for k, v in c["files"].items()}
                cands.append(c)
            task["candidates"] = cands
            fh.write(json.dumps(task) + "\n")


def bare(path: Path, db: Path) -> float:
    start = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, ext TEXT, prompt TEXT, tests TEXT)")
    conn.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, task INTEGER, label TEXT, files TEXT)")
    with path.open() as fh:
        for i, line in enumerate(fh):
            task = json.loads(line)
            conn.execute("INSERT INTO t VALUES (?, ?, ?, ?)",
                         (i, task["id"], task["prompt"], json.dumps(task["tests"])))
            conn.executemany("INSERT INTO c (task, label, files) VALUES (?, ?, ?)",
                             [(i, c["id"], json.dumps(c["files"])) for c in task["candidates"]])
    conn.commit()
    conn.close()
    return time.perf_counter() - start


def ours(path: Path, data: Path) -> float:
    engine = make_engine(f"sqlite:///{data / 'harness.db'}")
    migrate(engine)
    factory = make_sessionmaker(engine)
    project_file = data / "p.yaml"
    rubric = REPO / "rubrics" / "code-review.yaml"
    project_file.write_text(f"name: bench\nslug: bench\nrubric: {rubric}\n")
    with factory() as session:
        project, _ = projects.create_project(session, project_file)
        session.commit()
        start = time.perf_counter()
        importer.import_tasks(session, project, path)
        session.commit()
        elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1,
                        help="bare and harness by turns this many times; medians printed")
    args = parser.parse_args()
    n = args.tasks
    bares, ourses = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        path = tmpdir / "tasks.jsonl"
        write_tasks(path, args.tasks)
        size = path.stat().st_size / 1e6
        print(f"tasks: {n} of 4 candidates ({size:.1f} MB)")
        for r in range(args.rounds):
            work = tmpdir / f"round{r}"
            work.mkdir()
            bares.append(bare(path, work / "bare.db"))
            ourses.append(ours(path, work))
            print(f"  round {r + 1}: bare {bares[-1]:.2f} s, harness {ourses[-1]:.2f} s, "
                  f"ratio {ourses[-1] / bares[-1]:.2f}x", flush=True)
    t_bare, t_ours = statistics.median(bares), statistics.median(ourses)
    ratio = statistics.median(o / b for o, b in zip(ourses, bares, strict=True))
    print(f"bare json+sqlite3:  {t_bare:6.2f} s  {n / t_bare:8.0f} tasks/s")
    print(f"harness import:     {t_ours:6.2f} s  {n / t_ours:8.0f} tasks/s")
    print(f"ratio harness/bare time: {ratio:.2f}x (issue 13: <= 2x: "
          f"{'met' if ratio <= 2 else 'NOT met'}); DESIGN.md's >= 3750 tasks/s: "
          f"{'met' if n / t_ours >= 3750 else 'NOT met'}")


if __name__ == "__main__":
    main()
