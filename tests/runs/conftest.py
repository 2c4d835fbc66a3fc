"""Fixtures for the run queue: projects with tasks whose candidates need runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from helpers import write_jsonl
from helpers.runs import add_tasks

from harness import runs as runqueue
from harness.models import Project


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
