"""Hints per candidate: our analysis (bandit + radon APIs + gaming checks) against the CLIs.

    .venv/bin/python bench/analysis.py [--candidates 1000] [--cli-sample 100] [--workers N]

Builds N distinct candidates of about 80 lines by mutating real model output
(../shared/realdata/humaneval-poe.jsonl and examples/demo/tasks.jsonl): identifiers
renamed with a per-candidate suffix, helper functions from other candidates appended.
Then, in the same run:

  ours, one process   analyze_files() on every candidate, one after another
  ours, pool          analyze_many() into a fresh SQLite database, a process per core
                      (what import does: pool start-up and inserts included)
  CLI per file        `bandit -f json`, `radon cc -j` and `radon mi -j` on each file of a
                      sample (every k-th candidate), sequentially and 2-at-a-time;
                      the rate is extrapolated from the sample.

Prints candidates/second for each and the ratios (target: >= 10x).
"""

from __future__ import annotations

import argparse
import ast
import builtins
import hashlib
import io
import json
import keyword
import os
import platform
import subprocess
import sys
import tempfile
import time
import tokenize
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from harness.analysis import analyze_files
from harness.analysis.store import analyze_many
from harness.models.analysis import Analysis, Highlight

REPO = Path(__file__).resolve().parents[1]

SOURCES = [
    REPO.parent / "shared" / "realdata" / "humaneval-poe.jsonl",
    REPO / "examples" / "demo" / "tasks.jsonl",
]
BIN = Path(sys.executable).parent
TARGET_LINES = 80
KEEP = set(dir(builtins)) | set(keyword.kwlist) | {"self", "cls", "__name__", "__init__"}


def real_solutions() -> list[tuple[str, dict[str, str]]]:
    """(python source, task tests) of every real candidate file that parses."""
    out = []
    for path in SOURCES:
        if not path.exists():
            print(f"warning: {path} is missing; not used", file=sys.stderr)
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            task = json.loads(line)
            for cand in task["candidates"]:
                for name, text in cand["files"].items():
                    if name.endswith(".py"):
                        try:
                            ast.parse(text)
                        except SyntaxError:
                            continue
                        out.append((text, task.get("tests") or {}))
    return out


def defined_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            imported.update((a.asname or a.name).split(".")[0] for a in node.names)
    return {n for n in names - imported - KEEP if not n.startswith("__")}


def rename(text: str, suffix: str) -> str:
    """Every name the file defines gets the suffix (attribute names are left alone)."""
    names = defined_names(ast.parse(text))
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    out = []
    prev = None
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string in names and prev != ".":
            tok = tok._replace(string=tok.string + suffix)
        out.append(tok)
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            prev = tok.string
    return tokenize.untokenize(out)


def make_candidates(n: int) -> list[tuple[dict[str, str], dict[str, str]]]:
    reals = real_solutions()
    made: list[tuple[dict[str, str], dict[str, str]]] = []
    seen: set[str] = set()
    i = 0
    while len(made) < n:
        base, tests = reals[i % len(reals)]
        parts = [rename(base, f"_v{i}")]
        j = 1
        while sum(p.count("\n") + 2 for p in parts) < TARGET_LINES - 8:
            helper, _ = reals[(i * 7 + j * 13) % len(reals)]
            parts.append(rename(helper, f"_h{i}_{j}"))
            j += 1
        text = "\n\n".join(p.rstrip("\n") for p in parts) + "\n"
        i += 1
        try:
            ast.parse(text)
        except SyntaxError:
            continue
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            made.append(({"solution.py": text}, tests))
    return made


def run_ours_inline(cands: list[tuple[dict[str, str], dict[str, str]]]) -> float:
    analyze_files({"warm.py": "x = 1\n"})  # bandit's plugin loading, once per process
    start = time.perf_counter()
    for files, tests in cands:
        analyze_files(files, tests=tests)
    return time.perf_counter() - start


def run_ours_pool(cands: list[tuple[dict[str, str], dict[str, str]]], workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/bench.db")
        Analysis.metadata.create_all(engine, tables=[Analysis.__table__, Highlight.__table__])  # type: ignore[list-item]
        items = [
            (hashlib.sha256(f["solution.py"].encode()).hexdigest(), f, "python", t)
            for f, t in cands
        ]
        start = time.perf_counter()
        with Session(engine) as session:
            count = analyze_many(session, items, workers=workers)
            session.commit()
        elapsed = time.perf_counter() - start
        engine.dispose()
    assert count == len(cands), (count, len(cands))
    return elapsed


def cli_one(path: Path) -> None:
    for args in (
        [str(BIN / "bandit"), "-f", "json", "-q", str(path)],
        [str(BIN / "radon"), "cc", "-j", str(path)],
        [str(BIN / "radon"), "mi", "-j", str(path)],
    ):
        proc = subprocess.run(args, capture_output=True, text=True, cwd=path.parent, check=False)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{args[0]} failed: {proc.stderr}")


def run_cli(sample: list[dict[str, str]], parallel: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, files in enumerate(sample):
            d = Path(tmp) / f"c{k:04d}"
            d.mkdir()
            (d / "solution.py").write_text(files["solution.py"], encoding="utf-8")
            paths.append(d / "solution.py")
        start = time.perf_counter()
        if parallel == 1:
            for p in paths:
                cli_one(p)
        else:
            with ThreadPoolExecutor(parallel) as pool:
                list(pool.map(cli_one, paths))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--cli-sample", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    cands = make_candidates(args.candidates)
    lines = [c[0]["solution.py"].count("\n") for c in cands]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.platform()}")
    print(f"candidates: {len(cands)} distinct, {min(lines)}-{max(lines)} lines "
          f"(mean {sum(lines) / len(lines):.0f})")

    inline = run_ours_inline(cands)
    pool = run_ours_pool(cands, args.workers)
    step = max(1, len(cands) // args.cli_sample)
    sample = [files for files, _ in cands[::step]][: args.cli_sample]
    cli_seq = run_cli(sample, 1)
    cli_par = run_cli(sample, args.workers)

    rate = {
        "ours, one process": len(cands) / inline,
        f"ours, analyze_many ({args.workers} workers)": len(cands) / pool,
        "CLI per file, sequential": len(sample) / cli_seq,
        f"CLI per file, {args.workers} at a time": len(sample) / cli_par,
    }
    for name, r in rate.items():
        print(f"{name:<36} {r:10.1f} candidates/s")
    print(f"(CLI figures from {len(sample)} of {len(cands)} candidates, extrapolated; "
          "3 commands per file: bandit -f json, radon cc -j, radon mi -j)")
    seq_ratio = rate["ours, one process"] / rate["CLI per file, sequential"]
    par_ratio = (rate[f"ours, analyze_many ({args.workers} workers)"]
                 / rate[f"CLI per file, {args.workers} at a time"])
    print(f"ratio, one core each:            {seq_ratio:6.1f}x")
    print(f"ratio, {args.workers} cores each:            {par_ratio:6.1f}x   (target >= 10x)")


if __name__ == "__main__":
    main()
