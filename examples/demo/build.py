"""Build examples/demo/tasks.jsonl from the task folders.

    python3 examples/demo/build.py            # write tasks.jsonl
    python3 examples/demo/build.py --check    # exit 1 if tasks.jsonl is stale

Layout read (all sorted, so the output is byte-for-byte deterministic):

    tasks/<task-id>/prompt.md
    tasks/<task-id>/tests/<file>                  -> "tests"
    tasks/<task-id>/hidden_tests/<file>           -> "hidden_tests" (optional)
    tasks/<task-id>/candidates/<label>/<file>     -> candidate "files"
    tasks/<task-id>/candidates/<label>/meta.yaml  -> "model" and "metadata"
                                                     (an optional `gaming`: the hint
                                                     rule the candidate is known to trip)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
TASKS_DIR = HERE / "tasks"
OUTPUT = HERE / "tasks.jsonl"
META_FILE = "meta.yaml"
SKIP_NAMES = {"__pycache__", ".pytest_cache", ".DS_Store"}


def _read_tree(root: Path, *, exclude: frozenset[str] = frozenset()) -> dict[str, str]:
    """Map POSIX-style relative path -> text for every file under ``root``."""
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in SKIP_NAMES for part in rel.parts) or path.suffix == ".pyc":
            continue
        if path.is_file() and rel.as_posix() not in exclude:
            files[rel.as_posix()] = path.read_text(encoding="utf-8")
    return files


def _read_meta(path: Path) -> dict[str, Any]:
    meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise SystemExit(f"{path}: expected a mapping")
    for key in ("model", "expected", "notes"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise SystemExit(f"{path}: field {key!r} must be a non-empty string")
    if meta["expected"] not in ("passed", "failed"):
        raise SystemExit(f"{path}: expected must be 'passed' or 'failed'")
    return meta


def build_task(task_dir: Path) -> dict[str, Any]:
    candidates = []
    for cand_dir in sorted(p for p in (task_dir / "candidates").iterdir() if p.is_dir()):
        meta = _read_meta(cand_dir / META_FILE)
        files = _read_tree(cand_dir, exclude=frozenset({META_FILE}))
        if "solution.py" not in files:
            raise SystemExit(f"{cand_dir}: no solution.py")
        metadata = {"expected": meta["expected"], "notes": meta["notes"]}
        if meta.get("gaming"):
            metadata["gaming"] = str(meta["gaming"])
        candidates.append(
            {
                "id": cand_dir.name,
                "model": meta["model"],
                "files": files,
                "metadata": metadata,
            }
        )
    expected = {c["metadata"]["expected"] for c in candidates}
    if expected != {"passed", "failed"}:
        raise SystemExit(f"{task_dir}: needs at least one passing and one failing candidate")
    task: dict[str, Any] = {
        "id": task_dir.name,
        "prompt": (task_dir / "prompt.md").read_text(encoding="utf-8"),
        "language": "python",
        "tests": _read_tree(task_dir / "tests"),
    }
    if (task_dir / "hidden_tests").is_dir():
        task["hidden_tests"] = _read_tree(task_dir / "hidden_tests")
    task["candidates"] = candidates
    task["metadata"] = {"source": "review-harness demo"}
    return task


def render() -> str:
    task_dirs = sorted(p for p in TASKS_DIR.iterdir() if p.is_dir())
    lines = [json.dumps(build_task(d), ensure_ascii=False) for d in task_dirs]
    return "".join(line + "\n" for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify tasks.jsonl is up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else None
        if current != text:
            print(f"{OUTPUT.name} is out of date: run python3 examples/demo/build.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT.name} is up to date ({text.count(chr(10))} tasks)")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.name}: {text.count(chr(10))} tasks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
