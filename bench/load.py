"""Simulated annotators against a real `harness serve` on loopback, with an import running
beside them; then the database is checked for what must hold under load.

    .venv/bin/python bench/load.py [--annotators 50] [--seconds 60] [--tasks 400]
                                   [--overlap 2] [--import-tasks 2000]
                                   [--lease-seconds 6 --abandon 5]
                                   [--database-url postgresql+psycopg://...]
                                   [--workers 2] [--rate 300 --autosaves 20]

Each annotator logs in and loops until the time is up: claim (POST /p/load/queue),
open the review page, --autosaves draft saves (2), then submit (9 in 10) or skip (1 in
10). A second
process imports another project's tasks meanwhile (`harness import`), contending for
the database. With --abandon N and a short --lease-seconds, the first N annotators
claim a task, save a draft once and walk away; once their lease has run out they come
back and try to save again (refused, or their lapsed task revived if its slot is
still free), then stop. Bounded: the annotators stop at --seconds, the import gets the same time
plus 60 s, the server is stopped at the end. Everything listens on 127.0.0.1.

Closed loop by default: each annotator sends its next request as soon as the last is
answered, so the server runs flat out and latency is queueing behind the 50 (Little's
law: 50 clients at 300/s wait 167 ms on average, whatever the server). With --rate R the
annotators pace their writes instead, like people on the review page (it saves a second
after each change): together they schedule R draft saves and submits a second, each
annotator's at random (Poisson) times, and a write's time is counted from when it was
due, not from when it was sent, so a server that falls behind shows it in the
percentiles (no coordinated omission). Claims and pages are sent unpaced, between an
annotator's writes; a write that falls due meanwhile is late, and counted so.

Afterwards (exit status 1 when one fails):
- no response was a 5xx, and no request failed to connect;
- every submit that got a success response is in the database (none lost), each
  annotation version once (none duplicated);
- no task was held or submitted by more than --overlap annotators;
- with --abandon: every abandoned lease expired (or was revived by its own annotator's
  late save while its slot was free), and its task was claimed by someone else after
  the lease ran out (lease expiry honoured under load);
- the import finished and holds all its tasks (all or nothing).
Printed: submits and draft saves per second, p50/p95 of each request kind; with --rate,
whether the writes kept to the rate asked for. The simulated annotators are
bench/annotators.py; the checks, bench/load_checks.py.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from harness import accounts, importer, projects
from harness.db import make_engine, make_sessionmaker, session_scope
from harness.setup import after_import, migrate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from annotators import PASSWORD, Clock, annotator  # noqa: E402 - bench/annotators.py, beside this file
from load_checks import Stats, check  # noqa: E402 - bench/load_checks.py

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RUBRIC = REPO / "rubrics" / "code-review.yaml"


def task_lines(n: int, prefix: str) -> list[dict[str, Any]]:
    lines = []
    for i in range(n):
        files = [{"solution.py": f"def add(a, b):\n    return a + b  # {prefix}{i}{label}\n"}
                 for label in "abc"]
        lines.append({
            "id": f"{prefix}{i}", "prompt": f"Write `add(a, b)` ({i}).", "language": "python",
            "tests": {}, "metadata": {},
            "candidates": [{"id": label, "model": f"m-{label}", "files": f}
                           for label, f in zip("abc", files, strict=True)],
        })
    return lines


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def project_file(directory: Path, slug: str, overlap: int) -> Path:
    path = directory / f"{slug}.yaml"
    path.write_text(json.dumps({"name": slug, "slug": slug, "rubric": str(RUBRIC),
                                "overlap": overlap}), encoding="utf-8")
    return path


def set_up(url: str, work: Path, args: argparse.Namespace,
           lines: list[dict[str, Any]] | None = None) -> None:
    """The "load" project of `args.tasks` tasks (`task_lines`), or of `lines` with their
    runs queued and hints computed as `harness import` does; "side"; the annotators."""
    engine = make_engine(url)
    migrate(engine)
    factory = make_sessionmaker(engine)
    digest = accounts.hash_password(PASSWORD)  # once: scrypt costs ~0.3 s a hash
    with session_scope(factory) as s:
        project, _ = projects.create_project(s, project_file(work, "load", args.overlap))
        report = importer.import_tasks(s, project, write_jsonl(
            work / "load.jsonl", task_lines(args.tasks, "t") if lines is None else lines))
        if lines is not None:
            after_import(s, project, report, progress=False)
        projects.create_project(s, project_file(work, "side", 1))
        for i in range(args.annotators):
            user = accounts.add_user(s, f"ann{i}", "annotator", password=None,
                                     projects=["load"])
            user.password_hash = digest
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (the server's
    worker processes with --workers), from /proc; 0 where there is none (not Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--import-tasks", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16, help="the server's threads")
    parser.add_argument("--workers", type=int, default=1,
                        help="the server's processes (harness serve --workers)")
    parser.add_argument("--lease-seconds", type=float, default=0,
                        help="the server's lease (HARNESS_LEASE_MINUTES); 0: its default")
    parser.add_argument("--autosaves", type=int, default=2,
                        help="draft saves per task before its submit or skip (the page "
                             "saves 1 s after each change: a real review makes dozens)")
    parser.add_argument("--rate", type=float, default=0,
                        help="draft saves and submits a second that the annotators schedule "
                             "between them (open loop; 0: each annotator flat out)")
    parser.add_argument("--warmup", type=float, default=0,
                        help="seconds at the start not counted in the figures (the first "
                             "claims of all the annotators at once)")
    parser.add_argument("--abandon", type=int, default=0,
                        help="annotators who walk away from their first task")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    args = parser.parse_args(argv)
    if not 0 <= args.warmup < args.seconds:
        parser.error("--warmup must be under --seconds")
    if args.abandon and not 3 <= args.lease_seconds <= args.seconds - 6:
        parser.error("--abandon needs --lease-seconds between 3 and --seconds minus 6")

    with tempfile.TemporaryDirectory(prefix="harness-load-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "HARNESS_DATA_DIR": str(work / "data")}
        env.pop("DATABASE_URL", None)
        if args.lease_seconds:
            env["HARNESS_LEASE_MINUTES"] = str(args.lease_seconds / 60)
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        url = args.database_url or f"sqlite:///{work / 'data' / 'harness.db'}"
        (work / "data").mkdir(mode=0o700)
        set_up(url, work, args)
        side_file = write_jsonl(work / "side.jsonl", task_lines(args.import_tasks, "s"))

        port = free_port()
        server = subprocess.Popen(
            [str(BIN / "harness"), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--threads", str(args.threads),
             *(["--workers", str(args.workers)] if args.workers > 1 else [])],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(work / "server.log", "wb"))  # noqa: SIM115
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        print((work / "server.log").read_text()[-2000:], file=sys.stderr)
                        return 1
                    time.sleep(0.1)
            stats = Stats()
            clock = Clock(args.annotators + 1, args.seconds, min(args.abandon, args.annotators))
            threads = [threading.Thread(target=annotator, args=(
                f"ann{i}", port, clock, stats, i, args.lease_seconds if i < args.abandon else 0,
                args.autosaves, args.rate / args.annotators))
                for i in range(args.annotators)]
            for t in threads:
                t.start()
            try:
                clock.ready.wait(timeout=300)
            except threading.BrokenBarrierError:
                stats.errors.append("an annotator could not log in")
            if args.warmup:  # else every request after the logins counts, from the first
                stats.counted_from = time.perf_counter() + args.warmup
            end = clock.end
            stats.counted_until = time.perf_counter() + end - time.monotonic()
            with stats.lock:
                for kind in ("login_page", "login", "queue_page"):
                    stats.times.pop(kind, None)
            importer_proc = subprocess.Popen(  # --import-tasks 0: no import, only `true`
                [str(BIN / "harness"), "import", "side", str(side_file)]
                if args.import_tasks else ["true"], env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(args.warmup)
            start = time.monotonic()
            server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
            load_before = os.getloadavg()[0]
            for t in threads:
                t.join(timeout=args.seconds + 120)
            # the figures are of the requests sent between the warm-up and the end
            elapsed = min(time.monotonic(), end) - start
            server_cpu = cpu_seconds(server.pid) - server_cpu
            client_cpu = time.process_time() - client_cpu
            load_after = os.getloadavg()[0]
            try:
                _, err = importer_proc.communicate(timeout=max(end + 60 - time.monotonic(), 1))
                if importer_proc.returncode:
                    stats.errors.append(f"import failed: {err.decode()[-500:]}")
            except subprocess.TimeoutExpired:
                importer_proc.kill()
                importer_proc.wait()
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

        problems = check(url, args, stats, args.import_tasks)
        if problems:  # the server's side of it, before the temp dir goes
            log = "\n".join(line for line in (work / "server.log").read_text(
                errors="replace").splitlines() if not line.startswith("WARNING:waitress"))
            if "Traceback" in log:  # the last two, else the log's tail
                print("Traceback" + "Traceback".join(log.split("Traceback")[-2:])[-6000:],
                      file=sys.stderr)
            elif log.strip():
                print(f"server log (tail):\n{log[-3000:]}", file=sys.stderr)
        database = "postgresql" if url.startswith("postgresql") else "sqlite"
        print(f"{args.annotators} annotators, {elapsed:.1f} s"
              + (f" after {args.warmup:g} s of warm-up" if args.warmup else "")
              + f", {database}, "
              f"server {args.workers} process(es) x {args.threads} threads, "
              + (f"import of {args.import_tasks} tasks beside them" if args.import_tasks
                 else "no import beside them")
              + (f", lease {args.lease_seconds:g} s, {args.abandon} abandon"
                 if args.abandon else ""))
        for kind in ("claim", "review_page", "draft", "submit", "skip", "late_draft"):
            values = stats.times.get(kind, [])
            if values:
                print(f"  {kind:<12} {len(values):>6}  {len(values) / elapsed:7.1f}/s  "
                      f"p50 {1000 * statistics.median(values):6.1f} ms  "
                      f"p95 {1000 * percentile(values, 95):6.1f} ms")
        writes = len(stats.times.get("draft", [])) + len(stats.times.get("submit", []))
        print(f"  submits + draft saves: {writes / elapsed:.1f}/s"
              + (f" (scheduled {args.rate:g}/s, times counted from when each was due)"
                 if args.rate else "") + f"; acknowledged submits: {len(stats.submitted)}")
        requests = sum(len(v) for k, v in stats.times.items()
                       if k not in ("late_draft", "warm-up", "overtime"))
        print(f"  server CPU {server_cpu:.1f} s: {1000 * server_cpu / max(writes, 1):.2f} ms "
              f"per write ({1000 * server_cpu / max(requests, 1):.2f} ms per request of "
              f"{requests}, claims and pages included); load generator CPU {client_cpu:.1f} s "
              f"({1000 * client_cpu / max(requests, 1):.2f} ms per request); load average "
              f"{load_before:.1f} at the start, {load_after:.1f} at the end")
        for note in stats.notes:
            print(f"  {note}")
        for problem in problems:
            print(f"  PROBLEM: {problem}")
        print("  all checks hold" if not problems else f"  {len(problems)} problems")
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
