"""The records the jsonl and preferences exports and the API's annotation pages write with
orjson (exports.base.fast_dumps) read as what the standard library's encoder wrote before:
the same values of the same types, non-ASCII text written as itself, for awkward text and
floats too. Checked against the records' definition (tests/helpers/exports.py, read from
the ORM objects) and against the standard-library builder (orjson made to refuse)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from helpers.exports import jsonl_records, preference_records
from sqlalchemy import select

from harness import exports, labapi
from harness.exports.base import dumps, fast_dumps
from harness.exports.jsonl import fill_missing_records
from harness.models import Annotation, Candidate, Finding, Task

AWKWARD = 'Ünïcödé ✓ 😀 "quoted" back\\slash\nnew line\ttab \x01 \x7f \u2028 </script>'


def typed(value: Any) -> Any:
    """A parsed JSON value with every number's type kept (1 and 1.0 compare equal)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


@pytest.mark.parametrize("value", [
    AWKWARD, "", "\x00", "\ud7ff\ue000\U0010ffff",
    0, -1, 2**63 - 1, -(2**63), 1.0, -0.0, 0.1 + 0.2, 1e-05, 123456789.123, 1e16, 1.5e300,
    5e-324, True, False, None, [], {}, [[1], [2, 3]],
    {"a": {"b": [1.25, "x", None]}, "é": AWKWARD, "": 0},
])
def test_fast_dumps_reads_as_dumps(value) -> None:
    text = fast_dumps(value)
    assert typed(json.loads(text)) == typed(json.loads(dumps(value)))
    assert "\n" not in text  # one record, one line


def test_fast_dumps_writes_text_as_itself_and_falls_back() -> None:
    assert fast_dumps(AWKWARD) == dumps(AWKWARD)
    assert "😀" in fast_dumps({"x": "😀"}) and "\\u" not in fast_dumps("é✓")
    # What orjson refuses is the standard encoder's text, as before.
    for refused in (2**70, {1: "a"}, [2**64]):
        assert fast_dumps(refused) == dumps(refused)


@pytest.fixture
def awkward(db, simulated):
    """Simulated annotations with awkward text in every text a record carries (rationale,
    finding comment, prompt, candidate model and code) and awkward active seconds.
    Versions are edited here, which the product never does, so their stored record
    bodies (harness/records.py) are cleared: the records are built from the rows, and
    `fill_missing_records` stores them again."""
    project = simulated(annotators=3, versions=2)
    annotations = list(db.scalars(select(Annotation).where(Annotation.project_id == project.id)
                                  .order_by(Annotation.id)))
    for a, seconds in zip(annotations, [1e-05, 0.0, 123456789.1234567, 7.0, 2.5e-4, 1e16],
                          strict=False):
        a.active_seconds = seconds
    for a in annotations:
        a.record = None
    for a in annotations[::3]:
        a.rationale = AWKWARD + str(a.id)
    finding = db.scalars(select(Finding).where(Finding.annotation_id.in_(
        [a.id for a in annotations])).order_by(Finding.id)).first()
    assert finding is not None
    finding.comment = AWKWARD
    task = db.scalars(select(Task).where(Task.project_id == project.id)).first()
    assert task is not None
    task.prompt = AWKWARD
    for cand in db.scalars(select(Candidate).where(Candidate.task_id == task.id)):
        cand.model = f"modèle-✓-{cand.label}"
        cand.files = {path: text + "\n# " + AWKWARD for path, text in cand.files.items()}
    db.commit()
    return project


def _export(db, project, fmt: str) -> bytes:
    return b"".join(exports.get(fmt).stream(db, project))


def _lines(data: bytes) -> list[dict[str, Any]]:
    """The records of JSON lines (split at newlines only: U+2028 is text, written as is)."""
    text = data.decode()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.split("\n")[:-1]]


def _api(db, project) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    since = None
    while True:
        page = json.loads(labapi.annotations_page(db, project, since, 7))
        items += page["items"]
        since = page["next_cursor"]
        if not page["has_more"]:
            return items


def test_awkward_records_are_what_the_definition_says(db, awkward) -> None:
    want = jsonl_records(db, awkward)
    data = _export(db, awkward, "jsonl")
    got = _lines(data)
    assert typed([r for r in got if r["source"] == "annotations"]) == typed(want)
    assert typed(_api(db, awkward)) == typed(want)
    assert any(r["rationale"].startswith(AWKWARD) for r in want)
    assert any(f["comment"] == AWKWARD for r in want for f in r["findings"])
    assert {r["active_seconds"] for r in want} >= {0.0, 123456789.123, 7.0, 1e16}
    # Non-ASCII is written as itself (UTF-8), as the standard encoder wrote it.
    assert "😀".encode() in data and b"\\u00dc" not in data
    prefs = _export(db, awkward, "preferences")
    assert typed(_lines(prefs)) == typed(
        preference_records(db, awkward))
    assert "modèle-✓".encode() in prefs
    # Stored, the bodies give the same bytes.
    assert fill_missing_records(db) == len(want)
    db.commit()
    assert _export(db, awkward, "jsonl") == data
    assert typed(_api(db, awkward)) == typed(want)
    assert fill_missing_records(db) == 0


def test_records_are_the_standard_library_builders(db, awkward, monkeypatch) -> None:
    """The same exports and pages with orjson refusing everything, so that every record is
    built by the standard library as before this encoder came: the same bytes (active
    seconds are rounded to 3 decimals, so no exponent is written differently here)."""
    new = {fmt: _export(db, awkward, fmt) for fmt in ("jsonl", "preferences")}
    new_api = _api(db, awkward)

    def refuse_dumps(*args: Any, **kwargs: Any) -> bytes:
        raise orjson.JSONEncodeError("refused")

    def refuse_loads(*args: Any, **kwargs: Any) -> Any:
        raise orjson.JSONDecodeError("refused", "", 0)

    monkeypatch.setattr(orjson, "dumps", refuse_dumps)
    monkeypatch.setattr(orjson, "loads", refuse_loads)
    for fmt, data in new.items():
        old = _export(db, awkward, fmt)
        assert typed(_lines(data)) == typed(_lines(old))
        assert data == old
    assert typed(_api(db, awkward)) == typed(new_api)
