"""Helpers and paths shared by the tests (importable; conftest.py is not)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
REALDATA = REPO.parent / "shared" / "realdata" / "humaneval-poe.jsonl"
DEMO_TASKS = REPO / "examples" / "demo" / "tasks.jsonl"
RUBRIC = REPO / "rubrics" / "code-review.yaml"
PASSWORD = "correct horse battery"


def task_line(task_id: str = "t1", **overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "id": task_id,
        "prompt": "Write `add(a, b)`.",
        "language": "python",
        "tests": {"test_solution.py": "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"},
        "candidates": [
            {"id": "a", "model": "model-x", "files": {"solution.py": "def add(a, b):\n    return a + b\n"}},
            {"id": "b", "model": "model-y", "files": {"solution.py": "def add(a, b):\n    return a - b\n"}},
        ],
        "metadata": {},
    }
    task.update(overrides)
    return task


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token in page"
    return match.group(1) or match.group(2)
