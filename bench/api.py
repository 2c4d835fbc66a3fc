"""Lab API: server time of an annotations page of 500, walking the whole project by cursor.

    .venv/bin/python bench/api.py --data DIR [--pages 60] [--rounds 1] [--compare OLD_TREE]

(DIR: a data dir built by bench/export.py.) Adds a lab user and a token for project
`bench`, then pulls every page of /api/v1/projects/bench/annotations?limit=500 through
the app in-process (the WSGI call, no network), each walk in a fresh interpreter, and
prints p50/p95 wall time and the p50 of the CPU time per page, against a bare sqlite3
read of the same rows (the page's annotations, findings and verdicts) with json.dumps.
With --compare, each round walks with the other source tree (e.g. `git archive` of an
older commit) right before this one, so both see the same load; the load average is
printed beside each round. Target (issue 9): p50 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WALK = r'''
import json, sys, time
from sqlalchemy import select
from harness import accounts
from harness.cli.common import session
from harness.models import User
from web import create_app

pages = int(sys.argv[1])
with session() as s:
    user = s.scalars(select(User).where(User.name == "bench-lab")).one_or_none()
    if user is None:
        user = accounts.add_user(s, "bench-lab", "lab", password=None, projects=["bench"])
    _, secret = accounts.create_token(s, user, [accounts.project_by_slug(s, "bench")])
client = create_app().test_client()
headers = {"Authorization": f"Bearer {secret}"}
wall, cpu, since, rows, size = [], [], None, 0, 0
for _ in range(pages):
    url = "/api/v1/projects/bench/annotations?limit=500" + (f"&since={since}" if since else "")
    start, c = time.perf_counter(), time.process_time()
    resp = client.get(url, headers=headers)
    body = resp.get_data()
    wall.append(time.perf_counter() - start)
    cpu.append(time.process_time() - c)
    assert resp.status_code == 200, body[:300]
    page = json.loads(body)
    rows += len(page["items"])
    size += len(body)
    since = page["next_cursor"]
    if not page["has_more"]:
        break
print(json.dumps({"wall": wall, "cpu": cpu, "rows": rows, "bytes": size}))
'''


def walk(tree: Path, data: Path, pages: int) -> dict[str, list[float]]:
    env = dict(os.environ, HARNESS_DATA_DIR=str(data), PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", WALK, str(pages)], env=env, check=True,
                         capture_output=True, text=True, cwd=tree)
    result: dict[str, list[float]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bare_read(data: Path, pages: int) -> tuple[list[float], list[float]]:
    db = sqlite3.connect(data / "harness.db")
    wall, cpu, last = [], [], 0
    for _ in range(pages):
        start, c = time.perf_counter(), time.process_time()
        got = db.execute("SELECT a.* FROM annotations a JOIN assignments s "
                         "ON s.id = a.assignment_id WHERE a.id > ? ORDER BY a.id LIMIT 500",
                         (last,)).fetchall()
        if not got:
            break
        ids = [r[0] for r in got]
        marks = ",".join("?" * len(ids))
        f = db.execute(f"SELECT * FROM findings WHERE annotation_id IN ({marks})", ids).fetchall()
        v = db.execute(f"SELECT * FROM hint_verdicts WHERE annotation_id IN ({marks})",
                       ids).fetchall()
        json.dumps([list(r) for r in got] + [list(r) for r in f] + [list(r) for r in v])
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - c)
        last = ids[-1]
    return wall, cpu


def ms(values: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    found = sorted(v * 1000 for v in values)
    return statistics.median(found), found[int(0.95 * (len(found) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--compare", type=Path, default=None,
                        help="another source tree, walked right before this one each round")
    args = parser.parse_args()
    trees = [("before", args.compare), ("after", REPO)] if args.compare else [("", REPO)]
    for r in range(args.rounds):
        load = os.getloadavg()[0]
        results = [(name, walk(tree, args.data, args.pages)) for name, tree in trees]
        bare_wall, bare_cpu = bare_read(args.data, args.pages)
        bare_p50, _ = ms(bare_wall)
        bare_cpu50, _ = ms(bare_cpu)
        print(f"round {r + 1}, load average {load:.1f} -> {os.getloadavg()[0]:.1f}; bare sqlite3 "
              f"+ json.dumps p50 {bare_p50:.1f} ms (CPU {bare_cpu50:.1f} ms)")
        for name, got in results:
            p50, p95 = ms(got["wall"])
            cpu50, _ = ms(got["cpu"])
            print(f"  {name or 'page'}: {len(got['wall'])} pages, {got['rows']:,.0f} versions, "
                  f"{got['bytes'] / len(got['wall']) / 1e6:.2f} MB a page: p50 {p50:.1f} ms, "
                  f"p95 {p95:.1f} ms ({p50 / bare_p50:.1f}x bare); CPU p50 {cpu50:.1f} ms "
                  f"({cpu50 / bare_cpu50:.1f}x bare)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
