"""Cold start of the command line and of the server, against `python -c pass`.

    .venv/bin/python bench/cold_start.py [--repeat 7] [--compare DIR]

Each figure is the median of --repeat fresh processes:
- baseline: `python -c pass` with the same interpreter;
- `harness --help` and `harness --version` (the lazy command table);
- `harness serve` from exec to its first answer (GET /login -> 200) on a data dir that
  is already migrated, with the in-process worker off so no sandbox check runs.
Ratios are against the baseline measured in the same run. `--compare DIR` also times
the source tree in DIR (an export of another commit, `git archive REV | tar -x -C DIR`)
with the same interpreter, run by run beside this one, so both see the same load.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
HARNESS = str(BIN / "harness")


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CPU_FIGURES: dict[str, list[float]] = {}
"""CPU seconds (user + system) of each server process when its first answer arrived: on a
busy machine the steadier figure (the wall time includes waiting for a core)."""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_to_first_answer(env: dict[str, str], timeout: float = 30.0, name: str = "") -> float:
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([HARNESS, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=1) as r:
                    if r.status == 200:
                        wall = time.perf_counter() - start
                        CPU_FIGURES.setdefault(name, []).append(cpu_seconds(proc.pid))
                        return wall
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("the server did not answer")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--compare", type=Path, metavar="DIR",
                        help="another source tree to time beside this one")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "HARNESS_DATA_DIR": data, "HARNESS_INPROCESS_WORKER": "0"}
        subprocess.run([HARNESS, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
        other = {**env, "PYTHONPATH": str(args.compare.resolve())} if args.compare else None
        figures: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            runs = {
                "python -c pass": lambda: timed([sys.executable, "-c", "pass"], env),
                "harness --version": lambda: timed([HARNESS, "--version"], env),
                "harness --help": lambda: timed([HARNESS, "--help"], env),
                "harness serve, first answer": lambda: serve_to_first_answer(env, name="serve"),
            }
            if other is not None:
                runs["compared tree: harness serve, first answer"] = (
                    lambda: serve_to_first_answer(other, name="compared tree: serve"))
            for name, run in runs.items():
                figures.setdefault(name, []).append(run())
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    base = statistics.median(figures["python -c pass"])
    print(f"{'what':32} {'median s':>9} {'min s':>7} {'x baseline':>11}")
    for name, values in figures.items():
        med = statistics.median(values)
        print(f"{name:32} {med:9.3f} {min(values):7.3f} {med / base:11.1f}")
    for name, values in CPU_FIGURES.items():
        print(f"CPU of the {name} process at its first answer: median "
              f"{statistics.median(values):.3f} s, min {min(values):.3f} s")


if __name__ == "__main__":
    main()
