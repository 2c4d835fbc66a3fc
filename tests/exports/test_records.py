"""The jsonl and preferences exports and the API's annotation pages give, record for
record, what the records' definition says (tests/helpers/exports.py computes it from the
ORM objects): every version with the newest marked, labels for candidate ids, findings and
hint verdicts of their own version, provenance, the current test runs."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
from helpers.exports import jsonl_records, preference_records
from sqlalchemy import select

from harness import exports
from harness.exports import source
from harness.models import Annotation, HintVerdict


def _lines(db, project, fmt: str) -> list[dict]:
    data = b"".join(exports.get(fmt).stream(db, project))
    return [json.loads(line) for line in data.decode().splitlines()]


def test_jsonl_records_are_what_the_definition_says(db, reviewed) -> None:
    project = reviewed
    got = _lines(db, project, "jsonl")
    want = jsonl_records(db, project)
    assert [r for r in got if r["source"] == "annotations"] == want
    assert {r["latest"] for r in want} == {True, False}
    assert any(r["findings"] for r in want) and any(not r["findings"] for r in want)
    assert db.scalar(select(HintVerdict.id).limit(1)) is not None
    assert any(r["hint_verdicts"] for r in want)
    assert any(c["run"] for r in want for c in r["candidates"])


def test_jsonl_records_across_batches(db, simulated, monkeypatch) -> None:
    """Batches of 7 versions split assignments and tasks: the newest-version flag and each
    version's findings do not depend on where a batch ends."""
    project = simulated(annotators=3, versions=2)
    monkeypatch.setattr(source, "BATCH", 7)
    got = [r for r in _lines(db, project, "jsonl") if r["source"] == "annotations"]
    assert got == jsonl_records(db, project)
    assert len(got) == db.query(Annotation).count() > 7


def test_preferences_are_what_the_definition_says(db, simulated) -> None:
    project = simulated(annotators=3, versions=2)
    want = preference_records(db, project)
    assert _lines(db, project, "preferences") == want
    # Parquet reads the format's lines back as records.
    data = b"".join(exports.get("parquet", exports.ExportOptions(table="preferences"))
                    .stream(db, project))
    assert pq.read_table(io.BytesIO(data)).to_pylist() == want
