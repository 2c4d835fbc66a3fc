"""Task-file import: every validation rule, all errors at once, nothing written on error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import DEMO_TASKS, REALDATA, task_line, write_jsonl
from helpers.queries import rows_read, statements_on
from sqlalchemy import func, select, text

from harness.importer import TaskFileError
from harness.models import Candidate, Task
from harness.taskfile import files_hash


def import_errors(db, project, path: Path, **kwargs: Any) -> list[str]:  # type: ignore[no-untyped-def]
    from harness.importer import import_tasks

    with pytest.raises(TaskFileError) as info:
        import_tasks(db, project, path, **kwargs)
    db.rollback()
    return info.value.errors


def count_tasks(db, project) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count(Task.id)).where(Task.project_id == project.id))


def one_bad_line(db, make_project, tmp_path: Path, line: Any, **kwargs: Any) -> str:  # type: ignore[no-untyped-def]
    project = make_project()
    path = write_jsonl(tmp_path / "tasks.jsonl", [task_line("ok-1"), line])
    errors = import_errors(db, project, path, **kwargs)
    assert count_tasks(db, project) == 0
    assert len(errors) >= 1
    assert all(e.startswith(f"{path}:2: ") for e in errors), errors
    return "\n".join(errors)


def test_invalid_json(db, make_project, tmp_path) -> None:
    err = one_bad_line(db, make_project, tmp_path, '{"id": "x", "prompt": ')
    assert "invalid JSON" in err


def test_json_nested_too_deep_is_a_line_error(db, make_project, tmp_path) -> None:
    deep = '{"id": "x", "prompt": "p", "metadata": ' + '{"a": ' * 5000 + "1" + "}" * 5001
    assert "nested too deep" in one_bad_line(db, make_project, tmp_path, deep)


@pytest.mark.parametrize("where", ["candidate", "tests", "hidden"])
def test_a_file_that_is_also_a_folder_is_a_line_error(db, make_project, tmp_path,
                                                      where: str) -> None:
    """"a" and "a/b.py" cannot both be written into one work dir (the run would fail in
    the sandbox): refused at import, with the line and the names."""
    line = task_line("t2")
    clash = {"pkg": "x = 1\n", "pkg/mod.py": "y = 2\n"}
    if where == "candidate":
        line["candidates"][0]["files"] = clash
    elif where == "tests":
        line["tests"] = {**line["tests"], "pkg": "", "pkg/test_x.py": ""}
    else:  # visible and hidden tests share the judge's dir
        line["hidden_tests"] = {"test_solution.py/extra.py": "def test_x():\n    pass\n"}
    err = one_bad_line(db, make_project, tmp_path, line)
    assert "a file is also the folder of another" in err, err


def test_not_an_object(db, make_project, tmp_path) -> None:
    assert "expected a JSON object" in one_bad_line(db, make_project, tmp_path, "[1, 2]")


@pytest.mark.parametrize("field", ["id", "prompt", "candidates"])
def test_required_fields(db, make_project, tmp_path, field: str) -> None:
    line = task_line("t2")
    del line[field]
    err = one_bad_line(db, make_project, tmp_path, line)
    assert f": {field}: Field required" in err


def test_candidate_needs_files(db, make_project, tmp_path) -> None:
    line = task_line("t2")
    del line["candidates"][1]["files"]
    err = one_bad_line(db, make_project, tmp_path, line)
    assert "candidates[b].files: Field required" in err


def test_at_least_two_candidates(db, make_project, tmp_path) -> None:
    line = task_line("t2")
    line["candidates"] = line["candidates"][:1]
    assert "at least 2 items" in one_bad_line(db, make_project, tmp_path, line)


def test_unknown_field_is_an_error(db, make_project, tmp_path) -> None:
    assert "Extra inputs" in one_bad_line(db, make_project, tmp_path, task_line("t2", colour="red"))


def test_duplicate_task_id_in_file(db, make_project, tmp_path) -> None:
    err = one_bad_line(db, make_project, tmp_path, task_line("ok-1"))
    assert "already appears on line 1" in err


def test_duplicate_candidate_id_in_task(db, make_project, tmp_path) -> None:
    line = task_line("t2")
    line["candidates"][1]["id"] = "a"
    assert "candidate id 'a' appears twice" in one_bad_line(db, make_project, tmp_path, line)


def test_id_already_in_project(db, make_project, import_file, tmp_path) -> None:
    project = make_project()
    import_file(project, write_jsonl(tmp_path / "first.jsonl", [task_line("t1")]))
    path = write_jsonl(tmp_path / "again.jsonl", [task_line("t2"), task_line("t1")])
    errors = import_errors(db, project, path)
    assert errors == [f"{path}:2: id: 't1' already exists in the project (use --update to replace it)"]
    assert count_tasks(db, project) == 1


@pytest.mark.parametrize("name", ["../etc/passwd", "/etc/passwd", "a/../../b.py", "a\\b.py", "~/x.py", "./x.py", "a//b.py", ""])
def test_file_paths_must_be_relative_and_plain(db, make_project, tmp_path, name: str) -> None:
    line = task_line("t2")
    line["candidates"][0]["files"] = {name: "x = 1\n"}
    assert "file path" in one_bad_line(db, make_project, tmp_path, line)


def test_test_file_paths_checked_too(db, make_project, tmp_path) -> None:
    line = task_line("t2", tests={"../conftest.py": "x = 1\n"})
    assert "tests" in one_bad_line(db, make_project, tmp_path, line)


def test_not_utf8(db, make_project, tmp_path) -> None:
    project = make_project()
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(json.dumps(task_line("ok")).encode() + b"\n" + b'{"id": "\xff\xfe"}\n')
    errors = import_errors(db, project, path)
    assert len(errors) == 1 and errors[0].startswith(f"{path}:2: ") and "not UTF-8" in errors[0]


def test_file_size_cap(db, make_project, tmp_path) -> None:
    line = task_line("t2")
    line["candidates"][0]["files"] = {"solution.py": "x = 1\n" * 100}
    err = one_bad_line(db, make_project, tmp_path, line, max_bytes=500)
    assert "candidates[a].files.solution.py: 600 bytes, larger than the cap of 500 bytes" in err


def test_files_must_be_text(db, make_project, tmp_path) -> None:
    line = task_line("t2")
    line["candidates"][0]["files"] = {"solution.py": 42}
    assert "valid string" in one_bad_line(db, make_project, tmp_path, line)


def test_empty_file(db, make_project, tmp_path) -> None:
    project = make_project()
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    assert import_errors(db, project, path) == [f"{path}:1: (file): no tasks in the file"]


def test_errors_on_lines_2_5_9_are_exactly_reported_and_nothing_imported(db, make_project, tmp_path) -> None:
    project = make_project()
    lines: list[Any] = [task_line(f"t{i}") for i in range(1, 11)]
    lines[1] = "not json"
    lines[4] = task_line("t5", candidates=[])
    bad = task_line("t9")
    bad["candidates"][0]["files"] = {"../x.py": "1"}
    lines[8] = bad
    path = write_jsonl(tmp_path / "tasks.jsonl", lines)
    errors = import_errors(db, project, path)
    assert sorted({int(e.split(":")[1]) for e in errors}) == [2, 5, 9]
    assert len(errors) == 3
    assert count_tasks(db, project) == 0


def test_valid_file_imports_every_task_and_candidate_with_hashes(db, make_project, import_file, tmp_path) -> None:
    project = make_project()
    lines = [task_line(f"t{i}") for i in range(1, 8)]
    report = import_file(project, write_jsonl(tmp_path / "tasks.jsonl", lines))
    assert (report.created, report.candidates) == (7, 14)
    rows = db.execute(
        select(Task.external_id, Candidate.label, Candidate.files, Candidate.content_hash, Task.tests_hash, Task.tests)
        .join(Candidate).where(Task.project_id == project.id)
    ).all()
    assert len(rows) == 14
    for _ext, _label, files, digest, tests_hash, tests in rows:
        assert digest == files_hash(files) and len(digest) == 64
        assert tests_hash == files_hash(tests)
    positions = list(db.scalars(select(Task.position).where(Task.project_id == project.id).order_by(Task.position)))
    assert positions == list(range(1, 8))


AWKWARD = ("quote \" backslash \\ slash / tab\t control \x01\x1f del \x7f "
           "</script><!-- é ñ 日本語 \u2028\u2029 \u202e rtl 🙂 \U0010fffd\n" + "x" * 5000 + "\n")


def test_contents_and_names_are_stored_exactly_and_as_json(db, make_project, import_file,
                                                            tmp_path) -> None:
    """The bulk insert writes files and tests as JSON text of its own (orjson): every
    character comes back the same, through the ORM and as the column's JSON text, and
    names of any printable script are kept."""
    project = make_project()
    line = task_line("t1")
    line["candidates"][0]["files"] = {"répertoire/naïve.py": AWKWARD, "日本語.py": "",
                                      "a\u00a0b.py": "x = '\u00a0'\n"}
    line["tests"] = {"test_ünï.py": AWKWARD}
    line["hidden_tests"] = {"test_hidden.py": "\\" * 3}
    line["metadata"] = {"float": 0.1, "big": 2**70, "nested": [{"a": None}]}
    import_file(project, write_jsonl(tmp_path / "tasks.jsonl", [line]))
    db.expire_all()
    task = db.scalars(select(Task).where(Task.project_id == project.id)).one()
    assert (task.tests, task.hidden_tests, task.meta) == (
        line["tests"], line["hidden_tests"], line["metadata"])
    by_label = {c.label: c for c in task.candidates}
    for sent in line["candidates"]:
        assert by_label[sent["id"]].files == sent["files"]
        assert by_label[sent["id"]].content_hash == files_hash(sent["files"])
    cast = "::text" if db.get_bind().dialect.name == "postgresql" else ""
    stored = db.execute(text(f"SELECT files{cast} FROM candidates WHERE task_id = :t"),
                        {"t": task.id}).scalars().all()
    def canonical(value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    assert sorted(canonical(json.loads(s)) for s in stored) == sorted(
        canonical(c["files"]) for c in line["candidates"])


def test_content_hash_depends_on_names_and_contents_not_order() -> None:
    assert files_hash({"a.py": "1", "b.py": "2"}) == files_hash({"b.py": "2", "a.py": "1"})
    assert files_hash({"a.py": "1"}) != files_hash({"b.py": "1"})
    assert files_hash({"a.py": "12"}) != files_hash({"a.py1": "2"})


def test_update_replaces_task_and_candidates(db, make_project, import_file, tmp_path) -> None:
    project = make_project()
    import_file(project, write_jsonl(tmp_path / "v1.jsonl", [task_line("t1"), task_line("t2")]))
    task_id = db.scalar(select(Task.id).where(Task.external_id == "t1"))
    changed = task_line("t1", prompt="Write `add(a, b)` for integers.")
    changed["candidates"][1]["files"] = {"solution.py": "def add(a, b):\n    return b + a\n"}
    changed["candidates"].append({"id": "c", "model": "m", "files": {"solution.py": "add = lambda a, b: a + b\n"}})
    report = import_file(project, write_jsonl(tmp_path / "v2.jsonl", [changed]), update_existing=True)
    assert (report.created, report.updated) == (0, 1)
    db.expire_all()
    task = db.get(Task, task_id)
    assert task.prompt == "Write `add(a, b)` for integers."
    assert {c.label: c.files["solution.py"] for c in task.candidates}["b"].endswith("return b + a\n")
    assert [c.label for c in task.candidates] == ["a", "b", "c"]
    assert task.candidates[1].content_hash == files_hash(task.candidates[1].files)
    assert count_tasks(db, project) == 2


def test_realdata_imports_as_is(db, make_project, import_file) -> None:
    assert REALDATA.exists(), f"missing {REALDATA}"
    project = make_project("humaneval")
    report = import_file(project, REALDATA)
    assert (report.created, report.candidates) == (54, 118)


def test_demo_imports(db, make_project, import_file) -> None:
    assert DEMO_TASKS.exists(), f"missing {DEMO_TASKS}"
    project = make_project("demo")
    report = import_file(project, DEMO_TASKS)
    assert report.created >= 8
    for task in db.scalars(select(Task).where(Task.project_id == project.id)):
        assert 3 <= len(task.candidates) <= 4
        assert task.tests


def test_lone_surrogate_escape_is_an_error_not_a_crash(db, make_project, tmp_path) -> None:
    err = one_bad_line(db, make_project, tmp_path, '{"id": "t2", "prompt": "x\\ud800", "candidates": []}')
    assert "lone UTF-16 surrogate" in err


def test_update_of_a_task_with_assignments_is_refused(db, make_project, make_user, import_file, tmp_path) -> None:
    from harness.models import Assignment

    project = make_project()
    import_file(project, write_jsonl(tmp_path / "v1.jsonl", [task_line("t1"), task_line("t2")]))
    user = make_user("ann", projects=[project.slug])
    task = db.scalars(select(Task).where(Task.external_id == "t1")).one()
    db.add(Assignment(project_id=project.id, task_id=task.id, user_id=user.id))
    db.commit()
    path = write_jsonl(tmp_path / "v2.jsonl", [task_line("t2", prompt="new"), task_line("t1", prompt="new")])
    errors = import_errors(db, project, path, update_existing=True)
    assert errors == [f"{path}:2: id: task 't1' has 1 assignment(s) and can no longer change; "
                      "import the new version under a new id"]
    assert db.scalars(select(Task.prompt).where(Task.project_id == project.id)).all() == ["Write `add(a, b)`."] * 2


def test_candidate_ids_do_not_follow_file_order(db, make_project, import_file, tmp_path) -> None:
    """On a blind project a database id must not tell where a candidate stood in the file."""
    project = make_project()
    line = task_line("t1")
    line["candidates"] += [{"id": x, "files": {"solution.py": f"# {x}\n"}} for x in "cdef"]
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [dict(line, id=f"t{i}") for i in range(30)]))
    orders = set()
    for task in db.scalars(select(Task).where(Task.project_id == project.id)):
        assert [c.label for c in task.candidates] == list("abcdef")  # position keeps file order
        orders.add(tuple(c.label for c in sorted(task.candidates, key=lambda c: c.id)))
    assert len(orders) > 1  # 30 tasks of 6: the chance of one order everywhere is nil


def test_the_projects_kept_task_count_follows_every_import(
        db, make_project, import_file, tmp_path) -> None:
    """The review page's "N of M done" reads projects.task_count instead of counting."""
    project, other = make_project("kept"), make_project("other")
    import_file(project, write_jsonl(tmp_path / "a.jsonl", [task_line("t1"), task_line("t2")]))
    import_file(other, write_jsonl(tmp_path / "b.jsonl", [task_line("t1")]))
    changed = task_line("t1", prompt="changed")
    import_file(project, write_jsonl(tmp_path / "c.jsonl", [changed, task_line("t3")]),
                update_existing=True)  # one replaced, one new
    with pytest.raises(TaskFileError):  # refused as a whole: nothing counted
        import_file(project, write_jsonl(tmp_path / "d.jsonl", [task_line("t4"), "{"]))
    db.rollback()
    db.expire_all()
    assert (project.task_count, other.task_count) == (3, 1)
    assert project.task_count == count_tasks(db, project)


def test_a_claim_right_after_a_large_import_reads_only_the_tasks_it_needs(
        database, db, engine, make_project, make_user, import_file, tmp_path) -> None:
    """PostgreSQL plans from figures its autovacuum refreshes a minute or more after a
    table grew; until then a project's 2,000 fresh tasks looked like a few rows, and the
    first claims read and sorted all of them (16 ms a claim at 3,000 tasks, in bench/
    load.py) instead of walking the position index to the first open ones. An import that
    grows the table refreshes them (ANALYZE) in its own transaction."""
    if database == "sqlite":
        pytest.skip("SQLite's planner keeps no row counts unless asked (ANALYZE)")
    from harness import assignments

    project = make_project("big", overlap=1)
    import_file(project, write_jsonl(tmp_path / "t.jsonl",
                                     [task_line(f"t{i}") for i in range(2000)]))
    user = make_user("ann", projects=["big"])
    with statements_on(engine, "FROM tasks", "LIMIT") as searches:
        assert assignments.claim_next(db, user.id, project).assignment is not None
    db.rollback()
    # not the project's 2,000
    assert rows_read(db.connection(), *searches[0], "tasks") <= 2 * assignments.SCAN


def _imported(db, project) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    return [tuple(row) for row in db.execute(
        select(Task.external_id, Task.position, Task.prompt, Task.tests, Task.meta,
               Candidate.label, Candidate.position, Candidate.files, Candidate.content_hash)
        .join(Candidate).where(Task.project_id == project.id)
        .order_by(Task.position, Candidate.position))]


def test_a_large_file_is_read_again_and_must_not_change_meanwhile(
        db, make_project, import_file, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Up to KEEP_PARSED_BYTES a file's tasks are kept from the validation for the insert;
    above it the file is read again in batches, and a file changed between the two reads
    imports nothing. Both ways store the same rows."""
    from harness import importer, taskfile

    lines = [task_line(f"t{i}") for i in range(5)]
    lines[2]["metadata"] = {"note": "é \u2028 ok"}
    kept = make_project("kept")
    import_file(kept, write_jsonl(tmp_path / "kept.jsonl", lines))
    monkeypatch.setattr(taskfile, "KEEP_PARSED_BYTES", 10)
    again = make_project("again")
    import_file(again, write_jsonl(tmp_path / "again.jsonl", lines))
    strip = [row[1:] for row in _imported(db, kept)]
    assert strip == [row[1:] for row in _imported(db, again)] and len(strip) == 10

    path = write_jsonl(tmp_path / "changing.jsonl", [task_line(f"u{i}") for i in range(3)])
    validate = importer.validate_file

    def validate_then_change(*args: Any, **kwargs: Any) -> Any:
        checked = validate(*args, **kwargs)
        with path.open("a") as fh:
            fh.write(json.dumps(task_line("sneaked-in")) + "\n")
        return checked

    monkeypatch.setattr(importer, "validate_file", validate_then_change)
    changing = make_project("changing")
    with pytest.raises(taskfile.FileChangedError, match="changed while it was being imported"):
        importer.import_tasks(db, changing, path)
    db.rollback()
    assert count_tasks(db, changing) == 0
