"""Lead pages on a large project: server time of the task list, agreement, adjudication
queue and dashboard pages.

    .venv/bin/python bench/lead.py [--tasks 2000] [--annotators 3] [--data DIR] [--repeat 5]

Builds (or reuses, with --data) a project of --tasks tasks (the demo tasks repeated
under new ids), overlap = --annotators, reviewed by that many simulated annotators
through `harness simulate` (claim, draft, submit, as the server does). Then times
each lead page through the app (Flask's test client, logged in as a lead, CSRF on):
the median and the slowest of --repeat views after one warm-up view, which is
reported on its own (on a database built before task_stats existed it is the one
that fills them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"
HARNESS = [str(Path(sys.executable).with_name("harness"))]
PASSWORD = "bench-password-1"
PAGES = {
    "task list": "/p/bench/",
    "agreement": "/p/bench/agreement",
    "adjudication queue": "/p/bench/adjudication",
    "dashboard": "/p/bench/dashboard",
    "agreement.csv": "/p/bench/dashboard/agreement.csv",
}


def build(data: Path, tasks: int, annotators: int) -> None:
    env = dict(os.environ, HARNESS_DATA_DIR=str(data))
    if (data / "built").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    demo = [json.loads(line) for line in (DEMO / "tasks.jsonl").read_text().splitlines()]
    path = data / "tasks.jsonl"
    with path.open("w") as fh:
        for i in range(tasks):
            task = dict(demo[i % len(demo)])
            task["id"] = f"{task['id']}-{i}"
            fh.write(json.dumps(task) + "\n")
    spec = data / "project.yaml"
    spec.write_text(json.dumps({"name": "Bench", "slug": "bench",
                                "rubric": str(REPO / "rubrics" / "code-review.yaml"),
                                "overlap": annotators, "tests": False,
                                "hints": {"visible": False}}))

    def harness(*args: str, stdin: str | None = None) -> None:
        subprocess.run(HARNESS + list(args), env=env, check=True, input=stdin, text=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    harness("init")
    harness("project", "create", str(spec))
    harness("import", "bench", str(path))
    harness("user", "add", "bench-lead", "--role", "lead", "--project", "bench",
            "--password-stdin", stdin=PASSWORD + "\n")
    start = time.perf_counter()
    harness("simulate", "bench", "--annotators", str(annotators))
    print(f"simulate: {time.perf_counter() - start:.0f} s for {tasks} tasks x {annotators}")
    (data / "built").write_text("ok")


def measure(data: Path, repeat: int) -> None:
    from harness.settings import Settings
    from web import create_app

    settings = Settings.from_env({"HARNESS_DATA_DIR": str(data),
                                  "HARNESS_INPROCESS_WORKER": "0"})
    app = create_app(settings=settings)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token is not None
    resp = client.post("/login", data={"csrf_token": token.group(1), "name": "bench-lead",
                                       "password": PASSWORD})
    assert resp.status_code == 302, resp.status_code
    print(f"{'page':<20} {'first view':>11} {'median':>9} {'slowest':>9}")
    for name, url in PAGES.items():
        times = []
        for _ in range(repeat + 1):
            start = time.perf_counter()
            resp = client.get(url)
            times.append(time.perf_counter() - start)
            assert resp.status_code == 200, (url, resp.status_code)
        first, rest = times[0], times[1:]
        print(f"{name:<20} {first * 1000:>9.0f} ms {statistics.median(rest) * 1000:>6.0f} ms "
              f"{max(rest) * 1000:>6.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--annotators", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    data = args.data or Path(tempfile.mkdtemp(prefix="bench-lead-"))
    build(data, args.tasks, args.annotators)
    measure(data, args.repeat)


if __name__ == "__main__":
    main()
