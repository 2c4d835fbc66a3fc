"""The server's CPU and SQL statements per request of a load.py annotator's cycle (claim,
review page, two draft saves, submit), in process through Flask's test client: what one
server process can do, whatever the load generator and the machine's load cost.

    .venv/bin/python bench/write_cost.py [--cycles 200] [--database-url ...] [--profile FILE]
    .venv/bin/python bench/write_cost.py --compare DIR [--rounds 20] [--cycles 6]
                                         [--database-url URL --database-url URL2]
    ... [--big]

`--big`: tasks as a real project's (bench/review_page.py's: 4 candidates of 200 lines,
5 tests and 5 hidden ones) and drafts of 20 findings with a sentence of comment each,
instead of load.py's (3 candidates of 2 lines, no tests, no findings).

Figures are process CPU time (time.process_time), so other processes on the machine
change them less than wall time; the test client's own cost (building the WSGI environ)
is in them, gunicorn's HTTP parsing is not.

`--compare DIR` (an export of another commit: `git archive REV | tar -x -C DIR`) sets up
this tree and DIR's, each in a process of its own with its own SQLite database, and
runs them by turns, --cycles cycles (of four draft saves) a round: this machine's speed
drifts by a third within minutes, so two runs one after the other compare the minutes as
much as the code. It prints each tree's median per round and the median of the
round-by-round ratios. With --database-url twice (two empty databases, PostgreSQL for
example), this tree uses the first and DIR's the second.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import annotators  # noqa: E402 - bench/annotators.py: the same login and payload
import load  # noqa: E402 - bench/load.py: the same project and users
import review_page  # noqa: E402 - bench/review_page.py: a real-sized task
from sqlalchemy import event  # noqa: E402

KINDS = ("claim", "review_page", "draft", "submit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--database-url", action="append", default=[],
                        help="default: SQLite in a temp dir (with --compare: twice, this "
                             "tree's and DIR's)")
    parser.add_argument("--profile", default="", help="write a cProfile of the writes here")
    parser.add_argument("--compare", type=Path, metavar="DIR",
                        help="another source tree, run by turns with this one")
    parser.add_argument("--rounds", type=int, default=20, help="with --compare")
    parser.add_argument("--big", action="store_true",
                        help="review_page.py's tasks and drafts of 20 findings")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compare:
        if len(args.database_url) not in (0, 2):
            parser.error("--compare takes --database-url twice (this tree's, DIR's) or not at all")
        return compare(args.compare, args.rounds, args.cycles, args.database_url, args.big)
    if len(args.database_url) > 1:
        parser.error("--database-url once, but with --compare")
    args.database_url = args.database_url[0] if args.database_url else ""
    if args.worker:
        return worker(args.cycles, args.big)
    with tempfile.TemporaryDirectory(prefix="harness-writes-") as tmp:
        work = Path(tmp)
        (work / "data").mkdir(mode=0o700)
        os.environ["HARNESS_DATA_DIR"] = str(work / "data")
        os.environ.pop("DATABASE_URL", None)
        if args.database_url:
            os.environ["DATABASE_URL"] = args.database_url
        url = args.database_url or f"sqlite:///{work / 'data' / 'harness.db'}"
        set_up(url, work, args.cycles + 20, args.big)
        from harness.settings import Settings
        from web import create_app
        from web.extensions import dispose_engine

        app = create_app(settings=Settings.from_env())
        cpu, statements = run(app, args.cycles, args.profile, args.big)
        dispose_engine(app)
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(f"{args.cycles} cycles in process, {database}, "
          f"{'review_page.py' if args.big else 'load.py'}'s tasks, load average "
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


def set_up(url: str, work: Path, tasks: int, big: bool) -> None:
    """load.py's project of `tasks` tasks, or with `big` as many of review_page.py's task
    (each with its own candidates, and hidden tests), hints computed and runs queued."""
    lines = None
    if big:
        lines = []
        for i in range(tasks):
            line = review_page.big_task()
            line["id"] = f"big-{i}"
            line["hidden_tests"] = {"test_hidden.py": line["tests"]["test_solution.py"]}
            for j, cand in enumerate(line["candidates"]):
                cand["files"] = {"solution.py": review_page.candidate_source(i * 4 + j)}
            lines.append(line)
    load.set_up(url, work, argparse.Namespace(overlap=2, tasks=tasks, annotators=1), lines)


def draft_body(page: dict[str, Any], big: bool) -> dict[str, Any]:
    """What the page saves: load.py's payload, with `big` 20 findings spread over the
    candidates."""
    draft = annotators.payload(page)
    if big:
        ids = [c["id"] for c in page["candidates"]]
        draft["findings"] = [
            {"candidate_id": ids[i % len(ids)], "file_path": "solution.py",
             "line_start": 10 + i, "line_end": 12 + i, "category": "bug", "severity": "low",
             "comment": f"Finding {i}: the loop reads one item past the end of the list."}
            for i in range(20)]
    return {"draft": draft, "active_seconds": 1}


def run(app: Any, cycles: int, profile: str, big: bool = False
        ) -> tuple[dict[str, float], dict[str, int]]:
    counted: list[str] = []
    from web.extensions import app_engine

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

    cycle = cycler(app, timed, drafts=2, big=big)
    event.listen(app_engine(app), "before_cursor_execute",
                 lambda *_: counted.append(""))
    for i in range(cycles + 5):  # 5 to warm up: caches, the first connection
        if i == 5:
            cpu.clear()
            statements.clear()
        cycle()
    if profiler is not None:
        profiler.dump_stats(profile)
    return cpu, statements


ROUND_KINDS = ("claim", "review_page", "draft", "submit")
ROUND_DRAFTS = 4


def worker(tasks: int, big: bool) -> int:
    """--compare's side: set up (on DATABASE_URL when set, else SQLite in a temp dir), then
    answer each line "N" on stdin with the CPU (ms) a request of each kind took over N
    cycles (claim, page, ROUND_DRAFTS draft saves, submit)."""
    with tempfile.TemporaryDirectory(prefix="harness-writes-") as tmp:
        work = Path(tmp)
        (work / "data").mkdir(mode=0o700)
        os.environ["HARNESS_DATA_DIR"] = str(work / "data")
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{work / 'data' / 'harness.db'}"
        set_up(url, work, tasks, big)
        from harness.settings import Settings
        from web import create_app
        from web.extensions import dispose_engine

        app = create_app(settings=Settings.from_env())
        cpu: dict[str, float] = defaultdict(float)

        def timed(kind: str, call: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            resp = call(*args, **kwargs)
            cpu[kind] += time.process_time() - start
            assert resp.status_code in (200, 302), (kind, resp.status_code)
            return resp

        cycle = cycler(app, timed, drafts=ROUND_DRAFTS, big=big)
        for _ in range(3):
            cycle()  # warm: caches, the first connection
        print("ready", flush=True)
        for line in sys.stdin:
            n = int(line)
            cpu.clear()
            for _ in range(n):
                cycle()
            print(json.dumps({k: 1000 * v / n / (ROUND_DRAFTS if k == "draft" else 1)
                              for k, v in cpu.items()}), flush=True)
        dispose_engine(app)
    return 0


def cycler(app: Any, timed: Any, drafts: int, big: bool = False) -> Any:
    """One annotator's cycle through Flask's test client, each request through `timed`:
    claim, review page, `drafts` draft saves, submit."""
    client = app.test_client()
    token = annotators.CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"name": "ann0", "password": annotators.PASSWORD,
                                       "csrf_token": token})
    assert resp.status_code == 302, resp.status_code
    token = annotators.CSRF_RE.search(client.get("/p/load/queue").get_data(as_text=True)).group(1)
    headers = {"X-CSRFToken": token}

    def cycle() -> None:
        resp = timed("claim", client.post, "/p/load/queue", data={"csrf_token": token})
        html = timed("review_page", client.get, resp.headers["Location"]).get_data(as_text=True)
        page = json.loads(annotators.PAGE_DATA_RE.search(html).group(1))  # type: ignore[union-attr]
        body = draft_body(page, big)
        for _ in range(drafts):
            timed("draft", client.post, page["urls"]["draft"], json=body, headers=headers)
        timed("submit", client.post, page["urls"]["submit"], json=body, headers=headers)

    return cycle


def compare(other: Path, rounds: int, cycles: int, urls: list[str], big: bool) -> int:
    here = Path(__file__).resolve().parent.parent
    trees = {"this tree": here, f"compared ({other})": other.resolve()}
    procs = {}
    for i, (label, tree) in enumerate(trees.items()):
        env = {**os.environ, "PYTHONPATH": str(tree)}
        env.pop("DATABASE_URL", None)
        if urls:
            env["DATABASE_URL"] = urls[i]
        procs[label] = subprocess.Popen(
            [sys.executable, __file__, "--worker", "--cycles", str(rounds * cycles + 10),
             *(["--big"] if big else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=env, cwd=tempfile.gettempdir())
    for label, proc in procs.items():
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", label
    results: dict[str, list[dict[str, float]]] = {label: [] for label in procs}
    order = list(procs)
    for r in range(rounds):
        for label in order if r % 2 == 0 else order[::-1]:
            proc = procs[label]
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(f"{cycles}\n")
            proc.stdin.flush()
            results[label].append(json.loads(proc.stdout.readline()))
    for proc in procs.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    print(f"{rounds} rounds of {cycles} cycles each (claim, page, {ROUND_DRAFTS} draft saves, "
          f"submit), by turns, CPU ms a request; load average {os.getloadavg()[0]:.1f}")
    print(f"  {'':<40}" + "".join(f"{k:>12}" for k in ROUND_KINDS))
    for label, rows in results.items():
        print(f"  {label[:40]:<40}" + "".join(
            f"{statistics.median(row[k] for row in rows):12.3f}" for k in ROUND_KINDS))
    mine, theirs = results.values()
    print(f"  {'this tree / compared, median of rounds':<40}" + "".join(
        f"{statistics.median(a[k] / b[k] for a, b in zip(mine, theirs, strict=True)):12.3f}"
        for k in ROUND_KINDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
