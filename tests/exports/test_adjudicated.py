"""Adjudicated results in the exports: for an adjudicated task, the formats built from
rankings and findings use the lead's final ranking and findings instead of the
annotators', each record says its source, and the raw jsonl keeps every version and
adds the adjudicated record."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import jsonschema
import pytest
from helpers.adjudications import adjudicate
from sqlalchemy import select

from harness import exports
from harness.exports.preferences import ordered_pairs
from harness.exports.sarif import schema
from harness.models import Annotation, Assignment, Task


def _lines(db, project, fmt: str, **options) -> list[dict]:
    data = b"".join(exports.get(fmt, exports.ExportOptions(**options)).stream(db, project))
    return [json.loads(line) for line in data.decode().splitlines()]


@pytest.fixture
def adjudicated(db, simulated):
    """The demo project reviewed by 3 simulated annotators (k=2), its first two tasks
    adjudicated with rankings the reverse of the candidates' order."""
    project = simulated(annotators=3)
    tasks = list(db.scalars(select(Task).where(Task.project_id == project.id)
                            .order_by(Task.id).limit(2)))
    finals = [adjudicate(db, project, t) for t in tasks]
    db.commit()
    return project, tasks, finals


def _latest(db, project):
    """The latest annotation version of each assignment."""
    rows = db.scalars(select(Annotation).join(Assignment)
                      .where(Assignment.project_id == project.id)).all()
    newest: dict[int, Annotation] = {}
    for a in rows:
        if a.assignment_id not in newest or a.version > newest[a.assignment_id].version:
            newest[a.assignment_id] = a
    return list(newest.values())


def test_preferences_use_the_final_ranking_of_adjudicated_tasks(db, adjudicated) -> None:
    project, tasks, finals = adjudicated
    records = _lines(db, project, "preferences")
    label = {c.id: c.label for t in db.scalars(select(Task)) for c in t.candidates}
    done = {t.external_id: f for t, f in zip(tasks, finals, strict=True)}
    for ext, final in done.items():
        got = [(r["chosen_candidate"], r["rejected_candidate"], r["margin"])
               for r in records if r["task_id"] == ext]
        assert sorted(got) == sorted((label[b], label[w], float(g))
                                     for b, w, g in ordered_pairs(final.ranking))
        assert {r["source"] for r in records if r["task_id"] == ext} == {"adjudicated"}
        assert all(r["annotation_id"] is None and r["adjudicator"] for r in records
                   if r["task_id"] == ext)
    expected = set()
    for a in _latest(db, project):
        if a.assignment.task.external_id in done:
            continue
        expected |= {(a.id, label[b], label[w]) for b, w, _ in ordered_pairs(a.ranking)}
    raw = {(r["annotation_id"], r["chosen_candidate"], r["rejected_candidate"])
           for r in records if r["source"] == "annotations"}
    assert raw == expected and expected


def test_battles_and_rankings_count_the_final_ranking_as_many_times_as_annotators(
        db, adjudicated) -> None:
    project, tasks, finals = adjudicated
    done = {t.id: f for t, f in zip(tasks, finals, strict=True)}
    battles = _lines(db, project, "battles")
    ext = {t.id: t.external_id for t in tasks}
    for task_id in done:
        mine = [b for b in battles if b["task_id"] == ext[task_id]]
        n = len(done[task_id].ranking)
        assert len(mine) == n * (n - 1) // 2 and {b["source"] for b in mine} == {"adjudicated"}
    # the wins each model should have: raw rankings of the other tasks, and each final
    # ranking once per annotator of its task
    model = {c.id: (c.model or c.label) for t in db.scalars(select(Task)) for c in t.candidates}
    wins: Counter[str] = Counter()
    comparisons: Counter[str] = Counter()

    def count(ranking, weight):
        placed = [(g, model[c]) for g, group in enumerate(ranking) for c in group]
        for i, (gi, mi) in enumerate(placed):
            for gj, mj in placed[i + 1:]:
                if mi == mj:
                    continue
                comparisons[mi] += weight
                comparisons[mj] += weight
                if gi == gj:
                    wins[mi] += weight / 2
                    wins[mj] += weight / 2
                else:
                    wins[mi if gi < gj else mj] += weight
    per_task: defaultdict[int, int] = defaultdict(int)
    for a in _latest(db, project):
        if a.assignment.task_id in done:
            per_task[a.assignment.task_id] += 1
        else:
            count(a.ranking, 1)
    for task_id, final in done.items():
        assert per_task[task_id] == 2  # k annotators each
        count(final.ranking, per_task[task_id])
    rows = [r for r in _lines(db, project, "rankings") if r["method"] == "bradley-terry"]
    assert {r["model"]: r["wins"] for r in rows} == pytest.approx(dict(wins))
    assert {r["model"]: r["comparisons"] for r in rows} == pytest.approx(dict(comparisons))
    assert all(r["adjudicated_tasks"] == 2 for r in rows)


def test_sarif_has_the_final_findings_of_adjudicated_tasks(db, adjudicated) -> None:
    project, tasks, finals = adjudicated
    doc = json.loads(b"".join(exports.get("sarif").stream(db, project)))
    jsonschema.validate(doc, schema())
    results = [r for run in doc["runs"] for r in run["results"]]
    for task, final in zip(tasks, finals, strict=True):
        mine = [r for r in results if r["properties"]["task_id"] == task.external_id]
        assert [(r["properties"]["source"], r["message"]["text"]) for r in mine] == [
            ("adjudicated", "adjudicated: off by one")]
        props = mine[0]["properties"]
        assert props["annotators"] == 2 and props["adjudicator"]
        merged = final.findings[0]["merged_from"]
        if merged:  # the annotation ids the merged findings came from
            assert props["from_annotations"] and "annotation_id" not in props
    others = [r for r in results if r["properties"]["task_id"] not in
              {t.external_id for t in tasks}]
    assert others and {r["properties"]["source"] for r in others} == {"annotations"}


def test_jsonl_keeps_every_version_and_adds_the_adjudicated_records(db, adjudicated) -> None:
    project, tasks, _ = adjudicated
    records = _lines(db, project, "jsonl")
    raw = [r for r in records if r["source"] == "annotations"]
    final = [r for r in records if r["source"] == "adjudicated"]
    assert len(raw) == db.query(Annotation).count()
    assert [r["task_id"] for r in final] == [t.external_id for t in tasks]
    assert records[-len(final):] == final  # after the raw versions
    first = final[0]
    assert first["ranking"] == [[c.label] for c in reversed(tasks[0].candidates)]
    assert first["findings"][0]["candidate"] == tasks[0].candidates[0].label
    assert set(first["annotation_ids"]) <= {r["id"] for r in raw}
    assert first["notes"] == "final word" and first["simulated"] is True


def test_ratings_and_kto_still_come_from_the_annotations(db, adjudicated) -> None:
    project, tasks, _ = adjudicated
    for fmt in ("ratings", "kto"):
        records = _lines(db, project, fmt)
        assert {r["source"] for r in records} == {"annotations"}
        assert {tasks[0].external_id, tasks[1].external_id} <= {r["task_id"] for r in records}
