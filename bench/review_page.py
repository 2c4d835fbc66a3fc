"""Review page server time: one task of 4 candidates of 200 lines each, with bandit and
radon hints and test results, in a project of 1,000 tasks and in one of 100,000.

Issue 13's targets: p50 <= 5 ms, p95 <= 20 ms, and the large project within 20% of the
small one. "review page, first view" is the same page with the process's caches of the
task forgotten before each request (`forget`): the view of a task a server process has
not shown yet (its lines highlighted at import, migration 0014). Each request goes
through the whole Flask app in process (routing, login, the page's queries, template).
The baseline, in the same run, is the bare cost of the page's data: the same candidates'
files and hints read with sqlite3, json-decoded and html-escaped line by line.

    .venv/bin/python bench/review_page.py [--small 1000] [--large 100000] [--requests 300]
    .venv/bin/python bench/review_page.py --database-url postgresql+psycopg://...  # one size
    .venv/bin/python bench/review_page.py --compare DIR  # another source tree beside this one

With `--compare DIR` (an export of another commit: `git archive REV | tar -x -C DIR`)
the page is served by a process of each tree, set up once, by turns, `--rounds` rounds,
on the same database, so both see the same minutes of the machine; the figures pool
the rounds.

The client's own overhead is small (Werkzeug's test client, no sockets). The filler
tasks are small (two short candidates): the figure to watch is how the page's cost grows
with the project, not with the filler's size.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from harness import accounts, assignments, importer, projects, setup
from harness.db import make_engine, make_sessionmaker
from harness.models import Candidate, Task
from harness.runs import claim_run, complete_run
from harness.settings import Settings
from sandboxes.base import RunResult, TestOutcome

REPO = Path(__file__).resolve().parent.parent
BARE = "bare sqlite3 + json + escape"
FIRST_VIEW = "review page, first view"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway user in a temp database


def candidate_source(seed: int, lines: int = 200) -> str:
    """A plausible module of `lines` lines with things bandit and radon remark on."""
    out = ["import hashlib", "import subprocess", "import sqlite3", "", ""]
    i = 0
    # text of a candidate for bandit to flag (string SQL, md5, shell=True); never run here
    while len(out) < lines - 8:
        out += [
            f"def handler_{seed}_{i}(conn, name, items, limit={i % 7 + 1}):",
            f'    """Variant {seed}.{i}: looks up `name` and totals `items`."""',
            "    total = 0",
            "    for k, item in enumerate(items):",
            "        if item is None or k > limit:",
            "            continue",
            "        elif isinstance(item, str) and item.isdigit():",
            "            total += int(item)",
            "        else:",
            "            total += item",
            f"    query = \"SELECT * FROM users WHERE name = '%s'\" % name  # {i}",
            "    rows = conn.execute(query).fetchall()",
            "    digest = hashlib.md5(name.encode()).hexdigest()",
            "    if total > 100:",
            "        subprocess.call('echo ' + name, shell=True)",
            "    return rows, digest, total",
            "",
            "",
        ]
        i += 1
    call = f"    return handler_{seed}_0(sqlite3.connect(':memory:'), 'x', [1])"
    out = [*out[: lines - 2], "def main():", call]
    return "\n".join(out) + "\n"


def big_task() -> dict[str, Any]:
    return {
        "id": "page-under-test",
        "prompt": "Write a handler that looks up a user by name and totals their items.",
        "language": "python",
        "tests": {
            "test_solution.py": "from solution import main\n\n"
            + "".join(f"def test_{k}():\n    assert main() is not None\n\n" for k in range(5))
        },
        "candidates": [
            {"id": f"c{j}", "model": f"model-{j}", "files": {"solution.py": candidate_source(j)}}
            for j in range(4)
        ],
        "metadata": {},
    }


def filler(i: int) -> dict[str, Any]:
    return {
        "id": f"filler-{i}",
        "prompt": f"Write add(a, b), variant {i}.",
        "language": "python",
        "tests": {
            "test_solution.py": "from solution import add\n\ndef test_add():\n"
            "    assert add(1, 2) == 3\n"
        },
        "candidates": [
            {
                "id": "a",
                "model": "model-x",
                "files": {"solution.py": f"def add(a, b):\n    return a + b  # {i}\n"},
            },
            {
                "id": "b",
                "model": "model-y",
                "files": {"solution.py": f"def add(a, b):\n    return b + a  # {i}\n"},
            },
        ],
        "metadata": {},
    }


def write(path: Path, tasks: Any) -> Path:
    with path.open("w") as fh:
        for t in tasks:
            fh.write(json.dumps(t) + "\n")
    return path


def finished_run(letter_index: int) -> RunResult:
    tests = [
        TestOutcome(
            f"test_solution.py::test_{k}",
            "failed" if (letter_index + k) % 4 == 0 else "passed",
            0.001 * k,
            "AssertionError: assert None is not None" if (letter_index + k) % 4 == 0 else "",
        )
        for k in range(5)
    ]
    status = "failed" if any(t.outcome == "failed" for t in tests) else "passed"
    return RunResult(
        status=status,
        exit_code=int(status == "failed"),
        signal=None,
        tests=tests,
        wall_s=0.4,
        cpu_s=0.3,
        peak_memory_bytes=30 << 20,
        stdout="",
        stderr="",
        stdout_truncated=False,
        stderr_truncated=False,
        backend="bwrap",
        image="bench",
        isolation="full",
        integrity="split",
    )


def build(data: Path, url: str, n_tasks: int) -> tuple[Settings, str, str]:
    """A project of `n_tasks` tasks, the page's task first, with hints and finished runs;
    an annotator holding an assignment on it. Returns the settings and the page's path."""
    engine = make_engine(url)
    setup.migrate(engine)
    factory = make_sessionmaker(engine)
    project_file = data / "p.yaml"
    project_file.write_text(
        f"name: page bench\nslug: page\nrubric: {REPO / 'rubrics' / 'code-review.yaml'}\n"
        "overlap: 1\n"
    )
    with factory() as session:
        project, _ = projects.create_project(session, project_file)
        user = accounts.add_user(
            session, "bench-annotator", "annotator", password=PASSWORD, projects=[project.slug]
        )
        report = importer.import_tasks(session, project, write(data / "page.jsonl", [big_task()]))
        setup.after_import(session, project, report, progress=False)
        session.commit()
        while (run := claim_run(session, "bench")) is not None:
            cand = session.scalars(
                select(Candidate).where(Candidate.content_hash == run.candidate_hash)
            ).first()
            assert cand is not None
            complete_run(session, run.id, finished_run(ord(cand.label[-1]) % 4), worker="bench")
            session.commit()
        if n_tasks > 1:
            importer.import_tasks(
                session,
                project,
                write(data / "filler.jsonl", (filler(i) for i in range(n_tasks - 1))),
            )
            session.commit()
        assignment = assignments.claim_next(session, user.id, project).assignment
        assert assignment is not None
        task = session.get(Task, assignment.task_id)
        assert task is not None and task.external_id == "page-under-test", "claimed a filler task"
        session.commit()
        path = f"/p/{project.slug}/a/{assignment.id}"
    engine.dispose()
    settings = Settings.from_env(
        {"HARNESS_DATA_DIR": str(data), "DATABASE_URL": url, "HARNESS_INPROCESS_WORKER": "0"}
    )
    return settings, path, "/p/page/t/page-under-test/runs.json"


def timed(fn: Callable[[], Any], n: int) -> list[tuple[float, float]]:
    """(wall ms, CPU ms of this process) per call: on a busy machine the CPU time is the
    steadier figure of the two."""
    times = []
    for _ in range(n):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(((time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000))
    return times


def fetchers(settings: Settings, path: str, runs_path: str) -> dict[str, Callable[[], None]]:
    """The review page and its runs.json, each a call through the whole app (logged in,
    warmed up: templates compiled, analyzers loaded, connections open)."""
    from web import create_app

    app = create_app(settings=settings)
    client = app.test_client()
    token = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)
    )
    assert token, "no CSRF token on the login page"
    page = client.post(
        "/login",
        data={"name": "bench-annotator", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert page.status_code == 302, page.get_data(as_text=True)[:500]

    def get(url: str) -> Callable[[], None]:
        def fetch() -> None:
            resp = client.get(url)
            assert resp.status_code == 200, (url, resp.status_code)

        return fetch

    def first_view() -> None:
        forget()
        get(path)()

    found = {"review page": get(path), "runs.json": get(runs_path),
             FIRST_VIEW: first_view}
    for _ in range(20):
        for fetch in found.values():
            fetch()
    return found


def forget() -> None:
    """What a server process keeps of a task it has shown (the highlighted lines, the code
    rows, the parsed hints), forgotten: the next view is the task's first in a process,
    as most views are with k annotators and several server processes."""
    from harness.analysis import store
    from web import columns, render

    if hasattr(render, "forget_lines"):
        render.forget_lines()
    else:  # a tree from before the stored lines (migration 0014), with --compare
        render._highlight.cache_clear()  # type: ignore[attr-defined]
    columns.code_rows.cache_clear()
    store._hints_of_text.cache_clear()


def measure(
    settings: Settings, path: str, runs_path: str, requests: int
) -> dict[str, list[tuple[float, float]]]:
    return {what: timed(fetch, requests)
            for what, fetch in fetchers(settings, path, runs_path).items()}


class Server:
    """A process serving the page from `tree` (this checkout when None) in process, a
    round of requests per `round` call. With --compare the trees' processes take turns,
    so both see the same minutes of this machine (whose speed drifts), and each is set
    up once (fresh processes, one a round, differed from each other by more than the
    two trees' code did)."""

    def __init__(self, tree: Path | None, data: Path, url: str, path: str,
                 runs_path: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(tree.resolve())} if tree else dict(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(data), url, path, runs_path],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/",
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def round(self, requests: int) -> dict[str, list[tuple[float, float]]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{requests}\n")
        self.proc.stdin.flush()
        found: dict[str, list[list[float]]] = json.loads(self.proc.stdout.readline())
        return {k: [(wall, cpu) for wall, cpu in v] for k, v in found.items()}

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def serve_main(argv: list[str]) -> None:
    """The child of Server: "ready", then each line N on stdin answered with N timed
    requests of each kind, as JSON."""
    data, url, path, runs_path = argv
    settings = Settings.from_env({"HARNESS_DATA_DIR": data, "DATABASE_URL": url,
                                  "HARNESS_INPROCESS_WORKER": "0"})
    found = fetchers(settings, path, runs_path)
    print("ready", flush=True)
    for line in sys.stdin:
        print(json.dumps({what: timed(fetch, int(line)) for what, fetch in found.items()}),
              flush=True)


def bare(db: Path, requests: int) -> list[tuple[float, float]]:
    """The page's data with nothing in between: files and hints of the task's candidates."""
    conn = sqlite3.connect(db)
    task_id = conn.execute("SELECT id FROM tasks WHERE external_id = 'page-under-test'").fetchone()[
        0
    ]

    def page() -> str:
        parts = []
        for (files,) in conn.execute("SELECT files FROM candidates WHERE task_id = ?", (task_id,)):
            for text in json.loads(files).values():
                parts += [
                    f"<td>{n}</td><td>{html.escape(line)}</td>"
                    for n, line in enumerate(text.splitlines(), 1)
                ]
        for (hints,) in conn.execute(
            "SELECT a.hints FROM analyses a JOIN candidates c ON c.content_hash = a.content_hash "
            "WHERE c.task_id = ?",
            (task_id,),
        ):
            parts += [html.escape(str(h)) for h in json.loads(hints or "[]")]
        return "".join(parts)

    page()
    times = timed(page, requests)
    conn.close()
    return times


def summary(times: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Wall p50, wall p95, CPU p50 in ms."""
    wall = [w for w, _ in times]
    return (
        statistics.median(wall),
        statistics.quantiles(wall, n=20)[18],
        statistics.median(c for _, c in times),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--database-url",
        default=None,
        help="measure one project of --small tasks on this database instead",
    )
    parser.add_argument("--compare", type=Path, metavar="DIR",
                        help="also serve the page from this source tree, round by round")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    figures: dict[tuple[str, int], tuple[float, float, float]] = {}
    sizes = [args.small] if args.database_url else [args.small, args.large]
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="harness-page-bench-") as tmp:
            data = Path(tmp)
            url = args.database_url or f"sqlite:///{data / 'harness.db'}"
            start = time.perf_counter()
            settings, path, runs_path = build(data, url, n)
            print(f"built {n:,} tasks in {time.perf_counter() - start:.1f} s", file=sys.stderr)
            if args.compare:
                pooled: dict[str, list[tuple[float, float]]] = {}
                servers = [(Server(tree, data, url, path, runs_path), label)
                           for tree, label in ((None, ""), (args.compare, "compared: "))]
                for r in range(args.rounds):
                    for server, label in servers if r % 2 == 0 else servers[::-1]:
                        for what, times in server.round(args.requests // args.rounds).items():
                            pooled.setdefault(label + what, []).extend(times)
                for server, _ in servers:
                    server.close()
                for what, times in pooled.items():
                    figures[what, n] = summary(times)
            else:
                for what, times in measure(settings, path, runs_path, args.requests).items():
                    figures[what, n] = summary(times)
            if not args.database_url:
                figures[BARE, n] = summary(bare(data / "harness.db", args.requests))
    print(f"load average at end: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    print(f"{'what':<34} {'tasks':>9} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50':>8}")
    for (what, n), (p50, p95, cpu) in figures.items():
        print(f"{what:<34} {n:>9,} {p50:8.2f} {p95:8.2f} {cpu:8.2f}")
    if len(sizes) == 2:
        small, large = args.small, args.large
        for what in ("review page", "runs.json", FIRST_VIEW):
            (s50, s95, scpu), (l50, l95, lcpu) = figures[what, small], figures[what, large]
            print(
                f"{what}: {large:,} / {small:,} tasks: p50 x{l50 / s50:.2f}, "
                f"p95 x{l95 / s95:.2f}, CPU p50 x{lcpu / scpu:.2f}"
            )
        ratio = figures["review page", small][0] / figures[BARE, small][0]
        print(f"review page p50 / bare p50 at {small:,} tasks: x{ratio:.1f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve_main(sys.argv[2:])
    else:
        main()
