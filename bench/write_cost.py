"""The server's CPU and SQL statements per request of a load.py annotator's cycle (claim,
review page, two draft saves, submit), in process through Flask's test client: what one
server process can do, whatever the load generator and the machine's load cost.

    .venv/bin/python bench/write_cost.py [--cycles 200] [--database-url ...] [--profile FILE]

Figures are process CPU time (time.process_time), so other processes on the machine
change them less than wall time; the test client's own cost (building the WSGI environ)
is in them, waitress's HTTP parsing is not. A side-by-side with another checkout's code:
run it again with PYTHONPATH=that checkout (from outside this directory).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import annotators  # noqa: E402 - bench/annotators.py: the same login and payload
import load  # noqa: E402 - bench/load.py: the same project and users
from sqlalchemy import event  # noqa: E402

KINDS = ("claim", "review_page", "draft", "submit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--profile", default="", help="write a cProfile of the writes here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="harness-writes-") as tmp:
        work = Path(tmp)
        (work / "data").mkdir(mode=0o700)
        os.environ["HARNESS_DATA_DIR"] = str(work / "data")
        os.environ.pop("DATABASE_URL", None)
        if args.database_url:
            os.environ["DATABASE_URL"] = args.database_url
        url = args.database_url or f"sqlite:///{work / 'data' / 'harness.db'}"
        load.set_up(url, work, argparse.Namespace(overlap=2, tasks=args.cycles + 20,
                                                  annotators=1))
        from harness.settings import Settings
        from web import create_app
        from web.extensions import dispose_engine

        app = create_app(settings=Settings.from_env())
        cpu, statements = run(app, args.cycles, args.profile)
        dispose_engine(app)
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(f"{args.cycles} cycles in process, {database}, load average "
          f"{os.getloadavg()[0]:.1f}")
    for kind in KINDS:
        n = args.cycles * (2 if kind == "draft" else 1)
        print(f"  {kind:<12} {1000 * cpu[kind] / n:6.2f} ms CPU  "
              f"{statements[kind] / n:5.1f} statements")
    writes = 3 * args.cycles
    print(f"  per write (draft saves and submits): "
          f"{1000 * (cpu['draft'] + cpu['submit']) / writes:.2f} ms CPU; "
          f"per write with the claims and pages a cycle needs: "
          f"{1000 * sum(cpu.values()) / writes:.2f} ms CPU")
    return 0


def run(app: Any, cycles: int, profile: str) -> tuple[dict[str, float], dict[str, int]]:
    client = app.test_client()
    token = annotators.CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"name": "ann0", "password": annotators.PASSWORD,
                                       "csrf_token": token})
    assert resp.status_code == 302, resp.status_code
    token = annotators.CSRF_RE.search(client.get("/p/load/queue").get_data(as_text=True)).group(1)
    headers = {"X-CSRFToken": token}
    counted: list[str] = []
    from web.extensions import app_engine

    event.listen(app_engine(app), "before_cursor_execute",
                 lambda *_: counted.append(""))
    cpu: dict[str, float] = defaultdict(float)
    statements: dict[str, int] = defaultdict(int)
    profiler = cProfile.Profile() if profile else None

    def timed(kind: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        counted.clear()
        if profiler is not None and kind in ("draft", "submit"):
            profiler.enable()
        start = time.process_time()
        resp = call(*args, **kwargs)
        cpu[kind] += time.process_time() - start
        if profiler is not None:
            profiler.disable()
        statements[kind] += len(counted)
        assert resp.status_code in (200, 302), (kind, resp.status_code)
        return resp

    for i in range(cycles + 5):  # 5 to warm up: caches, the first connection
        if i == 5:
            cpu.clear()
            statements.clear()
        resp = timed("claim", client.post, "/p/load/queue", data={"csrf_token": token})
        html = timed("review_page", client.get, resp.headers["Location"]).get_data(as_text=True)
        page = json.loads(annotators.PAGE_DATA_RE.search(html).group(1))  # type: ignore[union-attr]
        body = {"draft": annotators.payload(page), "active_seconds": 1}
        for _ in range(2):
            timed("draft", client.post, page["urls"]["draft"], json=body, headers=headers)
        timed("submit", client.post, page["urls"]["submit"], json=body, headers=headers)
    if profiler is not None:
        profiler.dump_stats(profile)
    return cpu, statements


if __name__ == "__main__":
    sys.exit(main())
