"""Planted-bug gold tasks: each kind changes behaviour on known lines, and the lines
become a gold finding an annotator is scored against."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers import csrf_from, task_line, write_jsonl
from sqlalchemy import select

from harness.assignments import claim_next
from harness.errors import Conflict, InvalidInput
from harness.gold import plant, plant_gold_task
from harness.models import Assignment, Task
from harness.qualification import gold_of, score_against_gold

TOTAL = "def total(xs):\n    s = 0\n    for i in range(len(xs)):\n        s += xs[i]\n    return s\n"
GUARD = ("def get(xs, i):\n    if i < 0 or i >= len(xs):\n        raise IndexError(i)\n"
         "    return xs[i]\n")
SQL = ("def find(db, name):\n    cur = db.cursor()\n"
       "    cur.execute(\"SELECT id FROM users WHERE name = ?\", (name,))\n"
       "    return cur.fetchall()\n")


def run(source: str, name: str) -> Any:
    scope: dict[str, Any] = {}
    exec(compile(source, "candidate", "exec"), scope)  # our own test fixtures only
    return scope[name]


def test_off_by_one_drops_the_last_element_on_the_planted_line() -> None:
    planted = plant({"solution.py": TOTAL}, "off_by_one")
    text = planted.files["solution.py"]
    assert (planted.line_start, planted.line_end, planted.category) == (3, 3, "bug")
    assert text.splitlines()[2] == "    for i in range(len(xs) - 1):"
    assert run(TOTAL, "total")([1, 2, 3]) == 6 and run(text, "total")([1, 2, 3]) == 3


def test_off_by_one_on_a_comparison() -> None:
    source = "def positive(x):\n    return x > 0\n"
    planted = plant({"s.py": source}, "off_by_one")
    assert planted.files["s.py"].splitlines()[1] == "    return x >= 0"
    assert run(planted.files["s.py"], "positive")(0) is True


def test_removed_bounds_check_points_where_the_check_was() -> None:
    planted = plant({"solution.py": GUARD}, "removed_bounds_check")
    text = planted.files["solution.py"]
    assert "IndexError" not in text
    assert text.splitlines()[planted.line_start - 1] == "    return xs[i]"
    with pytest.raises(IndexError):
        run(GUARD, "get")([1], -5)
    assert run(text, "get")([1, 2], -1) == 2  # a negative index slips through


def test_string_sql_is_injectable() -> None:
    planted = plant({"solution.py": SQL}, "string_sql")
    text = planted.files["solution.py"]
    assert (planted.category, planted.cwe, planted.line_start) == ("security", 89, 3)
    assert "f\"SELECT id FROM users WHERE name = '{name}'\"" in text
    db = sqlite3.connect(":memory:")
    db.executescript("CREATE TABLE users (id INTEGER, name TEXT);"
                     "INSERT INTO users VALUES (1, 'a'), (2, 'b');")
    attack = "x' OR '1'='1"
    assert run(SQL, "find")(db, attack) == []
    assert len(run(text, "find")(db, attack)) == 2


def test_no_site_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        plant({"s.py": "X = 1\n"}, "string_sql")
    assert info.value.code == "no_site"
    with pytest.raises(InvalidInput):
        plant({"s.py": TOTAL}, "nonsense")


def test_a_planted_gold_task_scores_the_planted_lines(db, make_project, import_file,
                                                      tmp_path: Path) -> None:
    project = make_project("pg")
    source = task_line("t1", candidates=[
        {"id": "a", "model": "m", "files": {"solution.py": TOTAL}},
        {"id": "b", "model": "m", "files": {"solution.py": TOTAL.replace("s = 0", "s = 1")}}])
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [source]))
    task = db.scalars(select(Task).where(Task.external_id == "t1")).one()
    with pytest.raises(Conflict):  # no passing run recorded for it
        plant_gold_task(db, project, task, "a", "off_by_one")
    db.rollback()
    report = plant_gold_task(db, project, task, "a", "off_by_one", require_passing=False)
    db.commit()
    assert report.created == 1
    gold = db.scalars(select(Task).where(Task.is_gold.is_(True))).one()
    assert gold.is_gold and {c.label for c in gold.candidates} == {"a", "a-planted"}
    findings, ranking = gold_of(gold)
    planted_id = next(c.id for c in gold.candidates if c.label == "a-planted")
    original_id = next(c.id for c in gold.candidates if c.label == "a")
    assert [(f.candidate_id, f.line_start) for f in findings] == [(planted_id, 3)]
    assert ranking == [[original_id], [planted_id]]

    class F:
        candidate_id, file_path, line_start, line_end, category, cwe = (
            planted_id, "solution.py", 3, 4, "bug", None)

    scored = score_against_gold(gold, [F()], ranking)
    assert (scored.recall, scored.precision, scored.tau) == (1.0, 1.0, 1.0)


def test_an_annotator_given_a_planted_task_sees_nothing_of_gold_or_the_bug(
        db, client, login, make_project, make_user, import_file, tmp_path: Path) -> None:
    """The review page and the queue show the task's id: the default one named the kind
    of bug planted ("t1.off_by_one"), telling the annotator it was gold and what to find."""
    project = make_project("pg", overlap=1)
    source = task_line("t1", candidates=[
        {"id": "a", "model": "m", "files": {"solution.py": TOTAL}},
        {"id": "b", "model": "m", "files": {"solution.py": SQL}}])
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [source]))
    task = db.scalars(select(Task).where(Task.external_id == "t1")).one()
    for kind in ("off_by_one", "string_sql"):
        plant_gold_task(db, project, task, "a" if kind == "off_by_one" else "b", kind,
                        require_passing=False)
    other = make_user("ben", projects=["pg"])
    make_user("ann", projects=["pg"])
    assert claim_next(db, other.id, project).assignment.task_id == task.id  # t1 is full
    db.commit()
    login("ann")
    seen = ""
    for _ in range(2):
        page = client.post("/queue", data={"csrf_token": csrf_from(client.get("/queue")
                                                                    .get_data(as_text=True))})
        review = client.get(page.headers["Location"]).get_data(as_text=True)
        assert "Skip" in review or "skip" in review
        seen += review + client.get("/queue").get_data(as_text=True)
        client.post(page.headers["Location"] + "/skip",
                    data={"csrf_token": csrf_from(review.replace(
                        'name="csrf-token" content=', 'name="csrf_token" value=')),
                          "reason": "next one"})
    db.expire_all()
    given = db.scalars(select(Task.is_gold).join(Assignment, Assignment.task_id == Task.id)
                       .where(Assignment.user_id != other.id)).all()
    assert given == [True, True]
    for word in ("off_by_one", "string_sql", "planted", "gold"):
        assert word not in seen.lower(), word


def test_cli_plants_a_gold_task(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from helpers import RUBRIC

    harness = str(Path(sys.executable).parent / "harness")
    env = {**os.environ, "HARNESS_DATA_DIR": str(tmp_path / "data")}
    tasks = write_jsonl(tmp_path / "t.jsonl", [task_line("t1", candidates=[
        {"id": "a", "files": {"solution.py": SQL}}, {"id": "b", "files": {"solution.py": SQL}}])])
    (tmp_path / "p.yaml").write_text(
        f"name: P\nslug: p\nrubric: {RUBRIC}\ntasks: {tasks}\ntests: false\n")
    run = lambda *a: subprocess.run([harness, *a], env=env, capture_output=True, text=True,  # noqa: E731
                                    timeout=120)
    assert run("project", "create", str(tmp_path / "p.yaml")).returncode == 0
    refused = run("gold", "plant", "p", "t1", "a", "--kind", "string_sql")
    assert refused.returncode == 1 and "no passing test run" in refused.stderr
    done = run("gold", "plant", "p", "t1", "a", "--kind", "string_sql", "--no-run-check")
    assert done.returncode == 0, done.stderr
    status = run("status", "p", "--json")
    assert '"tasks": 2' in status.stdout
