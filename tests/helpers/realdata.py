"""Candidates and test files of the shared real model output (humaneval-poe.jsonl) and the
demo project, as (source, task, label, files) records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import DEMO_TASKS, REALDATA


@dataclass(frozen=True)
class Cand:
    source: str
    task_id: str
    label: str
    files: dict[str, str]
    tests: dict[str, str]
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.source}:{self.task_id}:{self.label}"


def load_candidates(path: Path, source: str) -> list[Cand]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        task = json.loads(line)
        for c in task["candidates"]:
            out.append(
                Cand(source, task["id"], c["id"], c["files"], task.get("tests") or {},
                     c.get("metadata") or {})
            )
    return out


def load_tests(path: Path, source: str) -> list[Cand]:
    """Each task's test files, as if they were a candidate (they are real Python too)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            task = json.loads(line)
            out.append(Cand(source, task["id"], "tests", task.get("tests") or {}, {}, {}))
    return out


def all_real() -> list[Cand]:
    """Every candidate and test file of realdata and (when present) the demo."""
    cands = load_candidates(REALDATA, "realdata") + load_tests(REALDATA, "realdata")
    if DEMO_TASKS.exists():
        cands += load_candidates(DEMO_TASKS, "demo") + load_tests(DEMO_TASKS, "demo")
    return cands
