"""Results are stored once per content hash and analyzer versions."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.analysis import analyze_files
from harness.analysis.analyzers.bandit_hints import BanditAnalyzer
from harness.analysis.analyzers.gaming import GamingAnalyzer
from harness.analysis.analyzers.radon_metrics import RadonAnalyzer
from harness.analysis.core import DEFAULT_MAX_BYTES
from harness.analysis.store import (
    analyses_for,
    analyze_many,
    context_hash,
    get_or_analyze,
    hints_for,
)
from harness.models.analysis import Analysis

CODE = "import pickle\n\ndef load(b):\n    return pickle.loads(b)\n"
SPECIAL_CASED = "def f(x):\n    if x == 12345:\n        return 42\n    return x\n"
TESTS_PLAIN = {"test_s.py": "from solution import f\n\ndef test_f():\n    assert f(3) == 3\n"}
TESTS_WITH_LITERAL = {"test_s.py": "assert f(12345) == 42\n"}


def _hash(files: dict[str, str]) -> str:
    return hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times each analyzer ran in this process."""
    counts = {"bandit": 0, "radon": 0, "gaming": 0}
    for cls in (BanditAnalyzer, RadonAnalyzer, GamingAnalyzer):
        original = cls.analyze

        def counting(self: Any, *args: Any, _orig: Any = original, **kw: Any) -> Any:
            counts[self.name] += 1
            return _orig(self, *args, **kw)

        monkeypatch.setattr(cls, "analyze", counting)
    return counts


def _rows(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Analysis)) or 0


def test_same_content_twice_runs_the_analyzers_once(
    analysis_db: Session, runs: dict[str, int]
) -> None:
    files = {"solution.py": CODE}
    first = get_or_analyze(analysis_db, _hash(files), files)
    second = get_or_analyze(analysis_db, _hash(files), dict(files))
    assert runs == {"bandit": 1, "radon": 1, "gaming": 1}
    assert second.id == first.id and _rows(analysis_db) == 1
    assert first.hints == analyze_files(files).to_dict()["hints"]
    assert [h["rule_id"] for h in first.hints] == ["B403", "B301"]
    assert first.versions["bandit"] == BanditAnalyzer.version()


def test_a_new_bandit_or_radon_version_invalidates(
    analysis_db: Session, runs: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"solution.py": CODE}
    old = get_or_analyze(analysis_db, _hash(files), files)
    monkeypatch.setattr(BanditAnalyzer, "version", classmethod(lambda cls: "99.0"))
    new = get_or_analyze(analysis_db, _hash(files), files)
    assert new.id != old.id and new.versions["bandit"] == "99.0"
    monkeypatch.setattr(RadonAnalyzer, "version", classmethod(lambda cls: "99.0"))
    get_or_analyze(analysis_db, _hash(files), files)
    assert runs["bandit"] == 3 and _rows(analysis_db) == 3
    get_or_analyze(analysis_db, _hash(files), files)
    assert runs["bandit"] == 3


def test_other_tests_for_the_same_files_are_analysed_into_their_own_row(
    analysis_db: Session, runs: dict[str, int]
) -> None:
    files = {"solution.py": SPECIAL_CASED}
    plain = get_or_analyze(analysis_db, _hash(files), files, tests={})
    assert plain.hints == []
    gamed = get_or_analyze(analysis_db, _hash(files), files, tests=TESTS_WITH_LITERAL)
    assert [h["rule_id"] for h in gamed.hints] == ["special-cased-test-input"]
    assert runs["gaming"] == 2 and _rows(analysis_db) == 2 and gamed.id != plain.id
    analysis_db.refresh(plain)
    assert plain.hints == []  # not overwritten by the other context
    assert get_or_analyze(analysis_db, _hash(files), files, tests={}).id == plain.id
    assert runs["gaming"] == 2


def test_the_same_candidate_in_two_tasks_keeps_each_tasks_hints(
    analysis_db: Session, runs: dict[str, int]
) -> None:
    """The reproduction: one candidate in t1 (tests without the literal) and t2 (tests
    assert f(12345) == ...). Each task reads the analysis against its own tests."""
    files = {"solution.py": SPECIAL_CASED}
    digest = _hash(files)
    t1 = context_hash("python", TESTS_PLAIN, DEFAULT_MAX_BYTES)
    t2 = context_hash("python", TESTS_WITH_LITERAL, DEFAULT_MAX_BYTES)
    items = [(digest, files, "python", TESTS_PLAIN), (digest, files, "python", TESTS_WITH_LITERAL)]
    assert analyze_many(analysis_db, items) == 2
    assert _rows(analysis_db) == 2

    direct = analyze_files(files, tests=TESTS_WITH_LITERAL).to_dict()["hints"]
    assert "special-cased-test-input" in {h["rule_id"] for h in direct}
    assert [h.to_dict() for h in hints_for(analysis_db, digest, context=t2)] == direct
    assert hints_for(analysis_db, digest, context=t1) == []
    assert analyses_for(analysis_db, [digest], context="0" * 64) == {}

    # a second run, in either order, finds both; force recomputes each in its own row
    before = runs["gaming"]
    assert analyze_many(analysis_db, items[::-1]) == 0
    assert analyze_many(analysis_db, items[::-1], force=True) == 2
    assert _rows(analysis_db) == 2 and runs["gaming"] == before + 2
    assert [h.to_dict() for h in hints_for(analysis_db, digest, context=t2)] == direct
    assert hints_for(analysis_db, digest, context=t1) == []


def test_get_or_analyze_force_recomputes_only_its_own_context(
    analysis_db: Session, runs: dict[str, int]
) -> None:
    files = {"solution.py": SPECIAL_CASED}
    plain = get_or_analyze(analysis_db, _hash(files), files, tests=TESTS_PLAIN)
    gamed = get_or_analyze(analysis_db, _hash(files), files, tests=TESTS_WITH_LITERAL)
    again = get_or_analyze(analysis_db, _hash(files), files, tests=TESTS_WITH_LITERAL, force=True)
    assert again.id == gamed.id and runs["gaming"] == 3 and _rows(analysis_db) == 2
    analysis_db.refresh(plain)
    assert plain.hints == [] and plain.context_hash != gamed.context_hash


def test_services_flush_and_never_commit(analysis_db: Session) -> None:
    files = {"solution.py": CODE}
    get_or_analyze(analysis_db, _hash(files), files)
    analyze_many(analysis_db, [("h2", {"s.py": "x = 1\n"}, "python", None)])
    analysis_db.rollback()
    assert _rows(analysis_db) == 0


def test_analyze_many_skips_known_and_duplicate_hashes(
    analysis_db: Session, runs: dict[str, int]
) -> None:
    items = [(f"h{i}", {"solution.py": f"x = {i}\n"}, "python", None) for i in range(5)]
    assert analyze_many(analysis_db, items + items[:2]) == 5
    assert analyze_many(analysis_db, items) == 0
    assert runs["bandit"] == 5 and _rows(analysis_db) == 5
    assert analyze_many(analysis_db, items[:3], force=True) == 3
    assert _rows(analysis_db) == 5


def test_analyze_many_uses_a_process_pool_and_stores_what_analyze_files_says(
    analysis_db: Session, real_candidates: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    cands = real_candidates[:40]
    items = [(_hash(c.files), c.files, "python", c.tests) for c in cands]
    assert analyze_many(analysis_db, items, progress=True, workers=2) == len(set(i[0] for i in items))
    assert "analysing" in capsys.readouterr().err  # the progress bar
    for c in cands[:10]:
        row = analysis_db.scalars(select(Analysis).where(Analysis.content_hash == _hash(c.files))).one()
        expected = analyze_files(c.files, tests=c.tests).to_dict()
        assert row.hints == expected["hints"]
        assert row.metrics == expected["metrics"]
        assert row.versions == expected["versions"]


def test_stored_hints_are_parsed_once_on_either_database(db: Session) -> None:
    """The review page reads a task's hints on every view: the stored text is read as text
    on SQLite and on PostgreSQL (whose driver would decode the json itself each time) and
    parsed once per distinct text, so two views share the same Hint objects."""
    files = {"solution.py": CODE}
    get_or_analyze(db, _hash(files), files)
    db.commit()
    context = context_hash("python", None, DEFAULT_MAX_BYTES)
    first = hints_for(db, _hash(files), context=context)
    second = hints_for(db, _hash(files), context=context)
    assert [h.rule_id for h in first] == ["B403", "B301"]
    assert all(a is b for a, b in zip(first, second, strict=True))
