"""Lab API: server time of an annotations page of 500, walking the whole project by cursor.

    .venv/bin/python bench/api.py --data DIR      (a data dir built by bench/export.py)

Adds a lab user and a token for project `bench`, then pulls every page of
/api/v1/projects/bench/annotations?limit=500 through the app in-process (the WSGI
call, no network), and prints p50/p95 per page against a bare sqlite3 read of the
same rows (the page's annotations, findings and verdicts) with json.dumps.
Target (issue 9): p50 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--pages", type=int, default=60)
    args = parser.parse_args()
    os.environ["HARNESS_DATA_DIR"] = str(args.data)
    from sqlalchemy import select

    from harness import accounts
    from harness.cli.common import session
    from harness.models import User
    from web import create_app

    with session() as s:
        user = s.scalars(select(User).where(User.name == "bench-lab")).one_or_none()
        if user is None:
            user = accounts.add_user(s, "bench-lab", "lab", password=None, projects=["bench"])
        _, secret = accounts.create_token(s, user, [accounts.project_by_slug(s, "bench")])
    app = create_app()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    times, since, rows = [], None, 0
    for _ in range(args.pages):
        url = "/api/v1/projects/bench/annotations?limit=500" + (f"&since={since}" if since else "")
        start = time.perf_counter()
        resp = client.get(url, headers=headers)
        body = resp.get_data()
        times.append(time.perf_counter() - start)
        page = json.loads(body)
        rows += len(page["items"])
        since = page["next_cursor"]
        if not page["has_more"]:
            break
    db = sqlite3.connect(args.data / "harness.db")
    bare, last = [], 0
    for _ in range(len(times)):
        start = time.perf_counter()
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
        bare.append(time.perf_counter() - start)
        last = ids[-1]
    ms = sorted(t * 1000 for t in times)
    bare_ms = sorted(t * 1000 for t in bare)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    p50, bare_p50 = statistics.median(ms), statistics.median(bare_ms)
    print(f"{len(times)} pages, {rows:,} annotation versions: p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms per page of 500; bare sqlite3 + json.dumps p50 {bare_p50:.1f} ms "
          f"({p50 / bare_p50:.1f}x)")


if __name__ == "__main__":
    main()
