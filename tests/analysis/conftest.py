"""Real task files (shared realdata, the demo) and a database with the analyses table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from harness.models.analysis import Analysis

REPO = Path(__file__).resolve().parents[2]
REALDATA = REPO.parent / "shared" / "realdata" / "humaneval-poe.jsonl"
DEMO = REPO / "examples" / "demo" / "tasks.jsonl"
BIN = REPO / ".venv" / "bin"


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
    if DEMO.exists():
        cands += load_candidates(DEMO, "demo") + load_tests(DEMO, "demo")
    return cands


@pytest.fixture
def analysis_db(tmp_path: Path) -> Iterator[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'analysis.db'}")
    Analysis.metadata.create_all(engine, tables=[Analysis.__table__])  # type: ignore[list-item]
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture(scope="session")
def real_candidates() -> list[Cand]:
    """Candidates (not tests) of realdata and the demo."""
    cands = load_candidates(REALDATA, "realdata")
    if DEMO.exists():
        cands += load_candidates(DEMO, "demo")
    return cands


@pytest.fixture(scope="session")
def real_files() -> list[Cand]:
    return all_real()
