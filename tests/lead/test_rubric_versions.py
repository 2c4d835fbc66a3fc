"""Rubric versions: `harness rubric check`, projects pin a version, annotations keep theirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import RUBRIC, task_line, write_jsonl
from lead.support import annotate_task
from sqlalchemy import select

from harness.errors import Conflict, InvalidInput
from harness.models import Annotation, AuditEvent, Rubric
from harness.rubric import RubricError, replace_rubric, store_rubric, version_label

HARNESS = str(Path(sys.executable).parent / "harness")

BROKEN = (
    "name: r\n"               # 1
    "version: '1'\n"          # 2
    "criteria:\n"             # 3
    "  - key: ok\n"           # 4
    "    label: Fine\n"       # 5
    "  - key: Not A Key\n"    # 6  bad key
    "    label: Broken\n"     # 7
    "    scale: {min: 4, max: 2}\n"  # 8  max below min
    "severities: [low, low]\n"       # 9  duplicate
    "colour: blue\n"                 # 10 unknown field
)


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([HARNESS, *args], env=env, capture_output=True, text=True, timeout=60)


def test_rubric_check_lists_every_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(BROKEN)
    result = run("rubric", "check", str(path), tmp_path=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"{path}:6: criteria.1.key:") for line in lines), lines
    assert any(line.startswith(f"{path}:8: criteria.1.scale:") for line in lines), lines
    assert any(line.startswith(f"{path}:9: severities:") and "duplicate" in line
               for line in lines), lines
    assert any(line.startswith(f"{path}:10: colour:") for line in lines), lines
    assert "4 error(s)" in lines[-1]


def test_rubric_check_reports_yaml_syntax_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("name: r\nversion: '1'\ncriteria:\n  - key: a\n    label: [unclosed\n")
    result = run("rubric", "check", str(path), tmp_path=tmp_path)
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{path}:") and "YAML syntax" in first
    line = int(first.split(":")[1])
    assert line >= 5


def test_rubric_check_passes_a_shipped_rubric(tmp_path: Path) -> None:
    result = run("rubric", "check", str(RUBRIC), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok: rubric 'code-review' version 1" in result.stdout


def test_a_changed_file_is_a_new_version_and_the_same_file_is_not(db, tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RUBRIC.read_text())
    first = store_rubric(db, path)
    assert store_rubric(db, path).id == first.id
    path.write_text(RUBRIC.read_text().replace("rationale_min_chars: 20", "rationale_min_chars: 5"))
    second = store_rubric(db, path)
    assert second.id != first.id and second.version == first.version == "1"
    assert version_label(second) != version_label(first)
    assert first.body["rationale_min_chars"] == 20  # the old row never changes


def test_replacing_pins_a_new_version_and_old_annotations_keep_theirs(
        db, make_project, make_user, import_file, tmp_path: Path) -> None:
    project = make_project("rv", overlap=2)
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [task_line("t1"), task_line("t2")]))
    ann = make_user("ann", projects=["rv"])
    before = annotate_task(db, project, ann)
    old_id = project.rubric_id

    text = RUBRIC.read_text().replace("rationale_min_chars: 20", "rationale_min_chars: 30")
    new = replace_rubric(db, project, text, name="new.yaml", user_id=None)
    db.commit()
    assert project.rubric_id == new.id != old_id
    after = annotate_task(db, project, ann, rationale="x" * 40)
    assert db.get(Annotation, before.id).rubric_id == old_id
    assert after.rubric_id == new.id
    assert db.scalar(select(AuditEvent.id).where(AuditEvent.action == "project.rubric"))


def test_replacing_refuses_another_rubric_the_same_content_and_errors(db, make_project) -> None:
    project = make_project("rv2")
    with pytest.raises(InvalidInput) as info:
        replace_rubric(db, project, RUBRIC.read_text().replace("name: code-review", "name: other"),
                       name="o.yaml", user_id=None)
    assert info.value.field == "rubric"
    with pytest.raises(Conflict):
        replace_rubric(db, project, RUBRIC.read_text(), name="same.yaml", user_id=None)
    with pytest.raises(RubricError) as bad:
        replace_rubric(db, project, BROKEN, name="b.yaml", user_id=None)
    assert any(e.startswith("b.yaml:6:") for e in bad.value.errors)
    assert db.scalar(select(Rubric.id).where(Rubric.name == "r")) is None


def test_a_leads_edited_rubric_is_not_offered_to_other_leads(
        db, make_project, make_user, login, tmp_path: Path) -> None:
    """Rubrics are stored by name and content: lead A's edit of the shipped code-review
    (same name, same version line) must not stand in for it on lead B's new-project form,
    nor be taken by id from B's form."""
    import re

    from helpers import csrf_from

    a, b = make_project("ra"), make_project("rb")
    make_user("lead_a", role="lead", projects=["ra"])
    make_user("lead_b", role="lead", projects=["rb"])
    shipped = db.get(Rubric, b.rubric_id)
    edited = replace_rubric(db, a, RUBRIC.read_text().replace(
        "rationale_min_chars: 20", "rationale_min_chars: 0"), name="mine.yaml", user_id=None)
    db.commit()
    assert edited.name == shipped.name and edited.id > shipped.id

    def offered(name: str) -> set[int]:
        html = login(name).get("/projects/new").get_data(as_text=True)
        return {int(v) for v in re.findall(r'<option value="(\d+)"', html)}

    assert edited.id in offered("lead_a") and shipped.id not in offered("lead_a")
    assert offered("lead_b") == {shipped.id}
    client = login("lead_b")
    token = csrf_from(client.get("/projects/new").get_data(as_text=True))
    resp = client.post("/projects/new", data={"csrf_token": token, "name": "N", "slug": "n",
                                              "rubric_id": str(edited.id)})
    assert resp.status_code == 422
    assert "choose a rubric" in resp.get_data(as_text=True)
