"""Cold start of the command line and of the server, against `python -c pass`.

    .venv/bin/python bench/cold_start.py [--repeat 7]

Each figure is the median of --repeat fresh processes:
- baseline: `python -c pass` with the same interpreter;
- `harness --help` and `harness --version` (the lazy command table);
- `harness serve` from exec to its first answer (GET /login -> 200) on a data dir that
  is already migrated, with the in-process worker off so no sandbox check runs.
Ratios are against the baseline measured in the same run.
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


def serve_to_first_answer(env: dict[str, str], timeout: float = 30.0) -> float:
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([HARNESS, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("the server did not answer")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "HARNESS_DATA_DIR": data, "HARNESS_INPROCESS_WORKER": "0"}
        subprocess.run([HARNESS, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
        figures = {
            "python -c pass": [timed([sys.executable, "-c", "pass"], env)
                               for _ in range(args.repeat)],
            "harness --version": [timed([HARNESS, "--version"], env) for _ in range(args.repeat)],
            "harness --help": [timed([HARNESS, "--help"], env) for _ in range(args.repeat)],
            "harness serve, first answer": [serve_to_first_answer(env)
                                            for _ in range(args.repeat)],
        }
    base = statistics.median(figures["python -c pass"])
    print(f"{'what':32} {'median s':>9} {'min s':>7} {'x baseline':>11}")
    for name, values in figures.items():
        med = statistics.median(values)
        print(f"{name:32} {med:9.3f} {min(values):7.3f} {med / base:11.1f}")


if __name__ == "__main__":
    main()
