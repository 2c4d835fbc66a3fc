"""One sandboxed run of a 5-test pytest file against a bare pytest process, and throughput.

    HARNESS_SANDBOX_DIR=.cache/sandbox .venv/bin/python bench/sandbox.py [--repeat 15] [--runs 200]

Each backend runs in both execution modes: split (the judge and the candidate in
two sandboxes, a pair started ahead of need) and in process; the ratio split /
in process is printed per backend, and the median time of one call crossing the
boundary (measured in the judge, 2,000 calls of a small function).

Baselines, each a fresh process per run with plugin autoload off:
- bare (image): `chroot ROOTFS python3 -m pytest` — the very interpreter and pytest
  the sandbox runs, without namespaces, cgroups or limits;
- bare (host venv): `.venv/bin/python -m pytest` from the harness's own venv.
Ratios are against the image baseline. Medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sandboxes import image
from sandboxes.base import Limits, Sandbox, SandboxConfig, get_backend

REPO = Path(__file__).resolve().parents[1]

SOLUTION = """
def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
"""
TESTS = """
import pytest
from solution import add, fib, mul


def test_add():
    assert add(2, 3) == 5


def test_mul():
    assert mul(2, 3) == 6


def test_fib():
    assert fib(10) == 55


@pytest.mark.parametrize("n", [0, 1])
def test_fib_small(n):
    assert fib(n) == n


def test_fib_big():
    assert fib(30) == 832040
"""
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
ENV = {"PATH": "/usr/bin:/bin", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "LANG": "C.UTF-8",
       "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"}


MODES = ("split", "in_process")
CALLS = """
import statistics, time
from solution import add


def test_calls():
    took = []
    for i in range(2000):
        t = time.perf_counter()
        add(i, 1)
        took.append(time.perf_counter() - t)
    assert False, f"median_us={statistics.median(took) * 1e6:.1f}"
"""


def per_call_us(sb: Sandbox) -> float:
    """Median of one call into the candidate process, measured inside the judge."""
    res = sb.run({"solution.py": SOLUTION}, {"test_solution.py": CALLS}, Limits(wall_s=30),
                 mode="split")
    message = res.tests[0].message if res.tests else ""
    if "median_us=" not in message:
        raise SystemExit(f"per-call bench failed: {res.status} {res.error} {message}")
    return float(message.split("median_us=")[1].split()[0].strip("'\""))


def bare_image_once(rootfs: Path) -> None:
    """Needs solution.py and test_solution.py in ROOTFS/work (a sandbox's /work is a
    tmpfs over it, so no run sees them)."""
    subprocess.run([CHROOT, str(rootfs), "/usr/bin/python3", "-B", "-m", "pytest", "-q",
                    "-p", "no:cacheprovider", "/work/test_solution.py"],
                   env=ENV, cwd="/", check=True, stdout=subprocess.DEVNULL)


def bare_venv_once(tmp: Path) -> None:
    subprocess.run([sys.executable, "-B", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "test_solution.py"], env=ENV, cwd=tmp, check=True,
                   stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    sandbox_dir = Path(os.environ.get("HARNESS_SANDBOX_DIR", REPO / ".cache" / "sandbox"))
    paths = image.paths_for(sandbox_dir.resolve())
    if not paths.rootfs_ready():
        sys.exit(f"no rootfs in {sandbox_dir}; run sandboxes/host-setup.sh first")
    cfg = SandboxConfig(sandbox_dir=sandbox_dir.resolve())
    files, tests, limits = {"solution.py": SOLUTION}, {"test_solution.py": TESTS}, Limits()
    backends = []
    for name in ("bwrap", "docker"):
        sb = get_backend(name, cfg)
        ok, detail = sb.check()
        if ok:
            backends.append(sb)
        else:
            print(f"{name}: unavailable ({detail})")

    def sandboxed(sb: Sandbox, mode: str = "in_process") -> Callable[[], float]:
        def once() -> float:
            for each in backends:  # steady state on every backend: started sandboxes
                each.settle()      # waiting, teardowns done (not the last kind's still running)
            t = time.perf_counter()
            res = sb.run(files, tests, limits, mode=mode)
            took = time.perf_counter() - t
            assert res.status == "passed", res.error
            return took
        return once

    def timed(fn: Callable[[], None]) -> Callable[[], float]:
        def once() -> float:
            t = time.perf_counter()
            fn()
            return time.perf_counter() - t
        return once

    tmp = Path(tempfile.mkdtemp())
    work = paths.rootfs / "work"
    for d in (tmp, work):
        (d / "solution.py").write_text(SOLUTION)
        (d / "test_solution.py").write_text(TESTS)
    kinds: dict[str, Callable[[], float]] = {
        "bare pytest, image python (chroot)": timed(lambda: bare_image_once(paths.rootfs)),
        "bare pytest, host venv python": timed(lambda: bare_venv_once(tmp)),
    }
    for sb in backends:
        for mode in MODES:
            sandboxed(sb, mode)()  # warm the pool
            kinds[f"{sb.name} {mode}, started ahead of need"] = sandboxed(sb, mode)
    times: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        for _ in range(args.repeat):  # interleaved, so load from elsewhere hits all alike
            for kind, fn in kinds.items():
                times[kind].append(fn())
        for sb in backends:
            sb.set_pool_size(0)
            sb.close()
            cold = sandboxed(sb)
            kinds[f"{sb.name}, nothing started ahead"] = cold
            times[f"{sb.name}, nothing started ahead"] = []
        for _ in range(max(3, args.repeat // 3)):
            for sb in backends:
                kind = f"{sb.name}, nothing started ahead"
                times[kind].append(kinds[kind]())
    finally:
        shutil.rmtree(tmp)
        for name in ("solution.py", "test_solution.py"):
            (work / name).unlink()

    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; one run of a 5-test file, median of {args.repeat}")
    base = statistics.median(times["bare pytest, image python (chroot)"])
    for kind, values in times.items():
        med = statistics.median(values)
        print(f"  {kind:40} {med:6.3f} s  {med / base:5.2f}x")
    for sb in backends:
        split = statistics.median(times[f"{sb.name} split, started ahead of need"])
        inproc = statistics.median(times[f"{sb.name} in_process, started ahead of need"])
        print(f"  {sb.name}: split / in process {split / inproc:5.2f}x; one call across the "
              f"boundary: median {per_call_us(sb):.0f} us")

    for sb in backends:
        for mode in MODES:
            sb.set_pool_size(args.concurrency)
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                results = list(pool.map(
                    lambda _, sb=sb, mode=mode: sb.run(files, tests, limits, mode=mode),
                    range(args.runs)))
            took = time.perf_counter() - start
            bad = [r.status for r in results if r.status != "passed"]
            print(f"  {sb.name} {mode}: {args.runs} runs, {args.concurrency} at a time: "
                  f"{took:5.1f} s, {args.runs / took:.2f} runs/s"
                  f"{'  NOT PASSED: ' + str(bad[:5]) if bad else ''}")
            sb.close()


if __name__ == "__main__":
    main()
