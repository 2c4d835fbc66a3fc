"""Export speed and memory: jsonl, preferences and rankings against the bare cost.

    .venv/bin/python bench/export.py [--versions 100000] [--data DIR] [--pairs 1000000]
                                     [--rankings 100000] [--formats jsonl,preferences,rankings]
                                     [--compare OLD_TREE] [--repeat N] [--no-fits]

Builds (or reuses, with --data) a project whose annotation versions come from
`harness simulate`: the demo tasks repeated under new ids, overlap 2, several
simulated annotators, each assignment submitted --per-assignment times (as
annotators revise). Then, each in a fresh process so its peak RSS is its own:

  bare        sqlite3: the same annotation rows (joined with their assignment and
              user, findings and hint verdicts) read and written with json.dumps
  jsonl       harness export --format jsonl (every version, full provenance)
  preferences harness export --format preferences (latest versions, every ordered pair)
  rankings    harness export --format rankings (Bradley–Terry + 200 bootstrap rounds)

Prints annotation versions read per second, peak RSS and the ratio to the bare
cost, in wall time and in CPU time (`time.process_time` of the export alone), and the
records written per second of wall and of CPU time (for preferences, one record per
ordered pair; for rankings, one per model and method). Then Bradley–Terry with its
bootstrap on --pairs synthetic comparisons, and Plackett–Luce with its bootstrap on
--rankings synthetic rankings of 4 models.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"
HARNESS = [str(Path(sys.executable).with_name("harness"))]


def build(data: Path, versions: int, per_assignment: int, annotators: int) -> None:
    env = dict(os.environ, HARNESS_DATA_DIR=str(data))
    if (data / "built").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    tasks = [json.loads(line) for line in (DEMO / "tasks.jsonl").read_text().splitlines()]
    need = max(versions // (2 * per_assignment), 1)
    path = data / "tasks.jsonl"
    with path.open("w") as fh:
        for i in range(need):
            task = dict(tasks[i % len(tasks)])
            task["id"] = f"{task['id']}-{i}"
            fh.write(json.dumps(task) + "\n")
    spec = data / "project.yaml"
    spec.write_text(json.dumps({"name": "Bench", "slug": "bench",
                                "rubric": str(REPO / "rubrics" / "code-review.yaml"),
                                "overlap": 2, "tests": False, "hints": {"visible": False}}))
    subprocess.run(HARNESS + ["init"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(HARNESS + ["project", "create", str(spec)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(HARNESS + ["import", "bench", str(path)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.perf_counter()
    subprocess.run(HARNESS + ["simulate", "bench", "--annotators", str(annotators),
                              "--versions", str(per_assignment)], env=env, check=True,
                   stderr=subprocess.DEVNULL)
    print(f"simulate: {time.perf_counter() - start:.0f} s")
    (data / "built").write_text("ok")


BARE = r'''
import json, resource, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
start, cpu = time.perf_counter(), time.process_time()
n = 0
out = open("/dev/null", "w")
cur = db.execute("""SELECT a.id, a.assignment_id, a.version, a.scores, a.ranking, a.rationale,
    a.confidence, a.display_order, a.active_seconds, a.hints_visible, a.submitted_at,
    s.task_id, s.user_id, u.simulated FROM annotations a
    JOIN assignments s ON s.id = a.assignment_id JOIN users u ON u.id = s.user_id ORDER BY a.id""")
while True:
    rows = cur.fetchmany(1000)
    if not rows:
        break
    ids = [r[0] for r in rows]
    marks = ",".join("?" * len(ids))
    findings = {}
    for f in db.execute("SELECT annotation_id, candidate_id, file_path, line_start, line_end, "
                        "category, severity, cwe, comment FROM findings "
                        f"WHERE annotation_id IN ({marks})", ids):
        findings.setdefault(f[0], []).append(f[1:])
    verdicts = {}
    for v in db.execute(f"SELECT annotation_id, candidate_id, hint_key, verdict FROM hint_verdicts "
                        f"WHERE annotation_id IN ({marks})", ids):
        verdicts.setdefault(v[0], []).append(v[1:])
    for r in rows:
        record = {"row": list(r[:3]), "scores": json.loads(r[3]), "ranking": json.loads(r[4]),
                  "rest": list(r[5:]), "findings": findings.get(r[0], []),
                  "verdicts": verdicts.get(r[0], [])}
        out.write(json.dumps(record) + "\n")
        n += 1
elapsed = time.perf_counter() - start
print(json.dumps({"records": n, "seconds": elapsed, "cpu": time.process_time() - cpu,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''

OURS = r'''
import json, resource, sys, time
from harness import exports
from harness.accounts import project_by_slug
from harness.cli.common import session
fmt = sys.argv[1]
with session() as s:
    project = project_by_slug(s, "bench")
    exporter = exports.get(fmt)
    n = 0
    def count(k):
        global n
        n += k
    start, cpu = time.perf_counter(), time.process_time()
    out = open("/dev/null", "wb")
    size = lines = 0
    for chunk in exporter.stream(s, project, progress=count):
        out.write(chunk)
        size += len(chunk)
        lines += chunk.count(b"\n")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"records": n, "seconds": elapsed, "cpu": cpu, "bytes": size, "lines": lines,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def run(code: str, *args: str, data: Path, tree: Path = REPO) -> dict[str, float]:
    """`code` in a fresh interpreter, importing the harness of the source tree `tree`."""
    env = dict(os.environ, HARNESS_DATA_DIR=str(data), PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True,
                         capture_output=True, text=True, cwd=tree)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bt_pairs(pairs: int) -> None:
    import numpy as np

    sys.path.insert(0, str(REPO))
    from harness.exports.bradley_terry import Comparisons, rank_models

    rng = np.random.default_rng(0)
    models, tasks = 12, pairs // 6
    truth = np.linspace(-1.5, 1.5, models)
    i = rng.integers(0, models, pairs)
    j = (i + rng.integers(1, models, pairs)) % models
    win = rng.random(pairs) < 1 / (1 + np.exp(truth[j] - truth[i]))
    winner, loser = np.where(win, i, j), np.where(win, j, i)
    task = np.minimum(np.arange(pairs) // 6, tasks - 1)
    start = time.perf_counter()
    data = Comparisons.build([f"m{k}" for k in range(models)], task.astype(np.int64),
                             winner.astype(np.int64), loser.astype(np.int64),
                             np.ones(pairs), tasks)
    rows = rank_models(data, rounds=200)
    elapsed = time.perf_counter() - start
    print(f"rankings of {pairs:,} pairwise comparisons ({models} models, {tasks:,} tasks, "
          f"200 bootstrap rounds): {elapsed:.2f} s; top {rows[0].model} "
          f"[{rows[0].ci_low:.3f}, {rows[0].ci_high:.3f}]")


def pl_rankings(rankings: int) -> None:
    """Plackett–Luce with its bootstrap on synthetic full rankings of 4 of 12 models."""
    import numpy as np

    sys.path.insert(0, str(REPO))
    from harness.exports.plackett_luce import StageBuilder, rank_models

    rng = np.random.default_rng(0)
    models = 12
    truth = np.linspace(-1.5, 1.5, models)
    start = time.perf_counter()
    builder = StageBuilder()
    for k in range(models):
        builder.models[f"m{k}"] = k
    for r in range(rankings):
        items = rng.choice(models, 4, replace=False)
        keys = rng.gumbel(size=4) + truth[items]  # a Plackett–Luce draw
        builder.add(r // 3, [[f"m{items[i]}"] for i in np.argsort(-keys)])
    built = time.perf_counter()
    rows = rank_models(builder.build(), rounds=200)
    elapsed = time.perf_counter() - built
    print(f"Plackett–Luce of {rankings:,} rankings of 4 models ({models} models, "
          f"{rankings // 3:,} tasks, 200 bootstrap rounds): fit {elapsed:.2f} s "
          f"(stages built in {built - start:.2f} s); top {rows[0].model} "
          f"[{rows[0].ci_low:.3f}, {rows[0].ci_high:.3f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--per-assignment", type=int, default=5)
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--rankings", type=int, default=100_000)
    parser.add_argument("--formats", default="jsonl,preferences,rankings",
                        help="comma-separated; each runs after its own bare read")
    parser.add_argument("--compare", type=Path, default=None,
                        help="another source tree (e.g. `git archive` of an older commit): "
                             "each format runs there too, right before this tree's run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each format (and each tree, alternately) this many times "
                             "after its bare read: on a shared machine one run says little")
    parser.add_argument("--no-fits", action="store_true",
                        help="skip the synthetic Bradley–Terry and Plackett–Luce timings")
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="bench-export-"))
    build(data, args.versions, args.per_assignment, args.annotators)
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}; data {data}")
    for fmt in args.formats.split(","):
        # The bare read beside each format: on a shared machine the load moves within a run.
        bare = run(BARE, str(data / "harness.db"), data=data)
        bare_rate = bare["records"] / bare["seconds"]
        print(f"bare sqlite3 + json.dumps: {bare['records']:,.0f} versions in "
              f"{bare['seconds']:.2f} s (CPU {bare['cpu']:.2f} s) = {bare_rate:,.0f}/s, "
              f"peak RSS {bare['rss_mb']:.0f} MB")
        trees = [("before", args.compare), ("after", REPO)] if args.compare else [("", REPO)]
        for name, tree in trees * args.repeat:
            ours = run(OURS, fmt, data=data, tree=tree)
            rate = ours["records"] / ours["seconds"]
            ours_us = ours["cpu"] / ours["records"] * 1e6
            bare_us = bare["cpu"] / bare["records"] * 1e6
            print(f"{fmt}{' ' + name if name else ''}: {ours['records']:,.0f} versions read in "
                  f"{ours['seconds']:.2f} s = {rate:,.0f}/s ({bare_rate / rate:.2f}x the bare "
                  f"time; CPU {ours_us:.0f} µs a version, {ours_us / bare_us:.2f}x the bare "
                  f"read's {bare_us:.0f} µs), "
                  f"peak RSS {ours['rss_mb']:.0f} MB, {ours['lines']:,.0f} records "
                  f"({ours['lines'] / ours['seconds']:,.0f}/s; "
                  f"{ours['lines'] / ours['cpu']:,.0f} per CPU second), "
                  f"{ours['bytes'] / 1e6:.1f} MB written")
    if not args.no_fits:
        bt_pairs(args.pairs)
        pl_rankings(args.rankings)


if __name__ == "__main__":
    main()
