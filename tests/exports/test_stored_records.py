"""Each annotation version's record body is stored when it is submitted
(harness/records.py), and it is the body a read builds from the version's rows: the same
bytes in the jsonl export and the API's pages, awkward text included, on SQLite and
PostgreSQL. Versions without one (from before migration 0012) are read the same and
filled by `fill_missing_records`, which `harness.setup.migrate` runs after an upgrade."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from helpers.exports import jsonl_records
from sqlalchemy import func, select, update

from harness import annotate, exports, labapi, simulate
from harness.exports.jsonl import fill_missing_records
from harness.models import Annotation, Assignment, HintVerdict, utcnow
from harness.rubric import project_rubric

AWKWARD = 'Ünïcödé ✓ 😀 "quoted" back\\slash\nnew line\ttab \x01 \x1f \x7f \u2028 </script>'


def _jsonl(db, project) -> bytes:
    return b"".join(exports.get("jsonl").stream(db, project))


def _pages(db, project) -> list[str]:
    pages, since = [], None
    while True:
        page = labapi.annotations_page(db, project, since, 5).decode()
        pages.append(page)
        found = json.loads(page)
        since = found["next_cursor"]
        if not found["has_more"]:
            return pages


def _resubmit_awkwardly(db, project) -> Annotation:
    """A new version of a submitted assignment through the review services, with awkward
    text in its rationale and in every finding's comment."""
    assignment = db.scalars(select(Assignment).where(Assignment.project_id == project.id,
                                                     Assignment.state == "submitted")
                            .order_by(Assignment.id)).first()
    assert assignment is not None
    rubric = project_rubric(db, project)
    shown = annotate.shown_candidates(assignment, assignment.task.candidates)
    payload: dict[str, Any] = simulate.payload_for(
        rubric, shown, None, seed=7, task_key=assignment.task.external_id, annotator=0,
        version=9)
    payload["rationale"] = (AWKWARD + " " + payload["rationale"])[:rubric.rationale_max_chars]
    first = shown[0].candidate
    payload["findings"] = [*payload["findings"], {
        "candidate_id": first.id, "file_path": next(iter(sorted(first.files))),
        "line_start": 1, "line_end": 1, "category": rubric.categories[0].key,
        "severity": rubric.severities[0], "cwe": None, "comment": AWKWARD}]
    for finding in payload["findings"]:
        finding["comment"] = AWKWARD
    now = utcnow() + timedelta(seconds=1)
    annotate.save_draft(db, assignment, project, payload, active_seconds=12.3456, now=now)
    result = annotate.submit_annotation(db, assignment, project, rubric, payload,
                                        acknowledge_warnings=True, now=now)
    assert result.annotation is not None, result.errors
    db.commit()
    return result.annotation


def test_a_submitted_version_stores_the_body_its_rows_give(db, reviewed) -> None:
    """Reviews with findings, hint verdicts and test runs, and one with awkward text."""
    project = reviewed
    awkward = _resubmit_awkwardly(db, project)
    versions = list(db.scalars(select(Annotation).where(Annotation.project_id == project.id)))
    assert len(versions) > 20 and all(a.record for a in versions)
    assert db.scalar(select(HintVerdict.id).limit(1)) is not None
    assert AWKWARD in json.loads("{" + (awkward.record or "") + "}")["rationale"]
    stored, stored_pages = _jsonl(db, project), _pages(db, project)
    want = jsonl_records(db, project)
    assert [json.loads(line) for line in stored.decode().split("\n")[:-1]] == want

    # The same versions without their stored bodies: built from the rows, the same bytes.
    db.execute(update(Annotation).values(record=None))
    db.commit()
    assert _jsonl(db, project) == stored
    assert _pages(db, project) == stored_pages

    # Filled again (as after an upgrade), the same bytes; nothing left to fill.
    assert fill_missing_records(db) == len(versions)
    db.commit()
    assert db.scalar(select(func.count()).where(Annotation.record.is_(None))) == 0
    assert _jsonl(db, project) == stored
    assert fill_missing_records(db) == 0


def test_a_batch_mixing_stored_and_missing_bodies_reads_in_order(db, simulated) -> None:
    """Versions from before 0012 among newer ones (an upgraded project that went on):
    every record in id order, each the same as when all were stored."""
    project = simulated(annotators=3, versions=2)
    stored = _jsonl(db, project)
    ids = list(db.scalars(select(Annotation.id).where(Annotation.project_id == project.id)
                          .order_by(Annotation.id)))
    db.execute(update(Annotation).where(Annotation.id.in_(ids[1::3])).values(record=None))
    db.commit()
    assert _jsonl(db, project) == stored
    assert _pages(db, project) == _pages_after_fill(db, project)


def _pages_after_fill(db, project) -> list[str]:
    fill_missing_records(db)
    db.commit()
    return _pages(db, project)


def test_a_command_right_after_an_upgrade_brings_the_schema_up(db, simulated, cli_env,
                                                               tmp_path) -> None:
    """`harness export` on a database still at 0011 (the release before stored records):
    the command upgrades it, as `harness serve` would, and exports every version, instead
    of failing on the missing column."""
    from alembic import command
    from click.testing import CliRunner

    from harness.cli import main
    from harness.setup import alembic_config

    project = simulated("up", annotators=2, versions=2)
    want = _jsonl(db, project)
    engine = db.get_bind()
    db.close()
    command.downgrade(alembic_config(engine), "0011")
    out = tmp_path / "up.jsonl"
    result = CliRunner().invoke(main, ["export", "up", "--format", "jsonl", "-o", str(out)])
    assert result.exit_code == 0, result.output

    def records(data: bytes) -> list[dict[str, Any]]:
        # the annotator pseudonym is keyed by the secret key, which the test's settings
        # and the command's environment do not share
        return [{k: v for k, v in json.loads(line).items() if k != "annotator"}
                for line in data.decode().split("\n")[:-1]]

    assert len(records(want)) > 20 and records(out.read_bytes()) == records(want)
