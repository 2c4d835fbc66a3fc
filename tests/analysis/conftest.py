"""Real task files (shared realdata, the demo) and a database with the analyses table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import DEMO_TASKS, REALDATA
from helpers.realdata import Cand, all_real, load_candidates
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from harness.models.analysis import Analysis, Highlight


@pytest.fixture
def analysis_db(tmp_path: Path) -> Iterator[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'analysis.db'}")
    Analysis.metadata.create_all(engine, tables=[Analysis.__table__, Highlight.__table__])  # type: ignore[list-item]
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture(scope="session")
def real_candidates() -> list[Cand]:
    """Candidates (not tests) of realdata and the demo."""
    cands = load_candidates(REALDATA, "realdata")
    if DEMO_TASKS.exists():
        cands += load_candidates(DEMO_TASKS, "demo")
    return cands


@pytest.fixture(scope="session")
def real_files() -> list[Cand]:
    return all_real()
