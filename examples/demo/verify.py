"""Run every demo candidate against its task's tests and compare with meta.yaml.

    python3 examples/demo/verify.py [TASK-ID ...]

Each candidate's files and the task's tests are copied into a fresh temporary
directory and ``python -m pytest -q -p no:cacheprovider`` runs there in a
subprocess (argument list, 30 s timeout). Exit code 0 from pytest is
"passed", 1 is "failed"; anything else (collection error, timeout) is reported
as such and never matches. Exits 1 if any verdict differs from ``expected``.

This runs deliberately flawed code on the host, outside any sandbox; the
tests only ever call it with benign inputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
TASKS_DIR = HERE / "tasks"
TIMEOUT_S = 30
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "meta.yaml")


@dataclass
class Result:
    task: str
    label: str
    expected: str
    verdict: str
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.verdict == self.expected

    @property
    def summary(self) -> str:
        """pytest's closing line without the timing, e.g. "1 failed, 4 passed"."""
        for line in reversed(self.output.strip().splitlines()):
            if " in " in line and ("passed" in line or "failed" in line or "error" in line):
                return line.strip("= ").rsplit(" in ", 1)[0]
        return ""


def run_candidate(task_dir: Path, cand_dir: Path) -> Result:
    meta = yaml.safe_load((cand_dir / "meta.yaml").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="demo-verify-") as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(cand_dir, work, ignore=IGNORE)
        shutil.copytree(task_dir / "tests", work, ignore=IGNORE, dirs_exist_ok=True)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
        env.pop("PYTHONPATH", None)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        start = time.monotonic()
        try:
            proc = subprocess.run(
                cmd, cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
            )
            output = proc.stdout + proc.stderr
            verdict = {0: "passed", 1: "failed"}.get(proc.returncode, f"error(rc={proc.returncode})")
        except subprocess.TimeoutExpired as exc:
            output = str(exc)
            verdict = "timeout"
    return Result(task_dir.name, cand_dir.name, str(meta["expected"]), verdict,
                  time.monotonic() - start, output)


def main(argv: list[str]) -> int:
    task_dirs = sorted(p for p in TASKS_DIR.iterdir() if p.is_dir())
    if argv:
        task_dirs = [d for d in task_dirs if d.name in argv]
    jobs = [
        (task_dir, cand_dir)
        for task_dir in task_dirs
        for cand_dir in sorted(p for p in (task_dir / "candidates").iterdir() if p.is_dir())
    ]
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        results = list(pool.map(lambda job: run_candidate(*job), jobs))

    width = max((len(r.task) for r in results), default=4)
    print(f"{'task':<{width}}  cand  expected  verdict   match     time  pytest")
    print(f"{'-' * width}  ----  --------  --------  --------  -----  ------")
    for r in results:
        mark = "ok" if r.ok else "MISMATCH"
        print(f"{r.task:<{width}}  {r.label:<4}  {r.expected:<8}  {r.verdict:<8}  {mark:<8}"
              f"  {r.seconds:4.2f}s  {r.summary}")
    bad = [r for r in results if not r.ok]
    for r in bad:
        print(f"\n=== {r.task}/{r.label}: expected {r.expected}, got {r.verdict}\n{r.output[-3000:]}")
    print(f"\n{len(results) - len(bad)}/{len(results)} verdicts match")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
