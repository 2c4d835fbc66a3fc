"""Fixtures for the run queue: projects with tasks whose candidates need runs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, for tests and subprocesses

from helpers import task_line, write_jsonl  # noqa: E402

from harness import runs as runqueue  # noqa: E402
from harness.models import Project  # noqa: E402

GOOD = "def add(a, b):\n    return a + b\n"
BAD = "def add(a, b):\n    return a - b\n"


def add_tasks(n: int, *, offset: int = 0) -> list[dict[str, Any]]:
    """n tasks, each with a passing and a failing candidate of distinct content."""
    lines = []
    for i in range(offset, offset + n):
        line = task_line(f"t{i}")
        line["candidates"][0]["files"] = {"solution.py": GOOD + f"# {i}\n"}
        line["candidates"][1]["files"] = {"solution.py": BAD + f"# {i}\n"}
        lines.append(line)
    return lines


@pytest.fixture
def queued_project(db, make_project, import_file, tmp_path) -> Callable[..., Project]:  # type: ignore[no-untyped-def]
    """A project with tasks imported and their runs queued (as `harness import` does)."""

    def make(slug: str = "q", lines: list[dict[str, Any]] | None = None, **fields: Any) -> Project:
        project = make_project(slug, **fields)
        path = write_jsonl(tmp_path / f"{slug}.jsonl", lines if lines is not None else add_tasks(2))
        report = import_file(project, path)
        runqueue.enqueue_for_tasks(db, project, report.task_ids)
        db.commit()
        return project

    return make
