"""Hidden tests and the per-project execution mode (issue 12), through real sandbox runs.

A task's `hidden_tests` run with its tests in the judge; the run marks their outcomes;
an annotator sees nothing of them (names, contents, outcomes, output) before they submit,
then sees them marked, and a memorising candidate as "passes visible tests, fails hidden
ones". A project's execution mode is in the run's dedup key and recorded as integrity.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from helpers import csrf_from, logged_in, task_line, write_jsonl
from helpers.runs import assign
from helpers.sandbox import require_backend, sandbox_dir
from sqlalchemy import select

from harness import projects
from harness import runs as runqueue
from harness.models import Assignment, Task, TestRun
from harness.runs import Worker
from harness.runs.hidden import HIDDEN_FAILS_NOTE
from harness.settings import Settings
from harness.taskfile import files_hash
from web.extensions import app_settings

VISIBLE = {"test_solution.py": "from solution import square\n\n\n"
                               "def test_small():\n    assert square(2) == 4\n\n\n"
                               "def test_three():\n    assert square(3) == 9\n"}
SECRET = "hidden_marker_31337"
HIDDEN = {"test_unseen.py": "from solution import square\n\n\n"
                            f"def test_{SECRET}():\n    assert square(123457) == 15241630849\n"}
HONEST = "def square(x):\n    return x * x\n"
MEMORISER = "ANSWERS = {2: 4, 3: 9}\n\n\ndef square(x):\n    return ANSWERS.get(x, 0)\n"
# What must never reach an annotator before they submit.
LEAKS = (SECRET, "test_unseen", "123457", "15241630849")


def hidden_task(task_id: str = "h1") -> dict[str, Any]:
    line = task_line(task_id, tests=VISIBLE, hidden_tests=HIDDEN)
    line["candidates"][0]["files"] = {"solution.py": HONEST}
    line["candidates"][1]["files"] = {"solution.py": MEMORISER}
    return line


def sandbox_settings(settings: Settings, backend: str) -> Settings:
    return dataclasses.replace(settings, sandbox_backend=backend, sandbox_dir=sandbox_dir())


def work_off(session_factory, settings: Settings, backend: str = "bwrap") -> int:  # type: ignore[no-untyped-def]
    worker = Worker(session_factory, runqueue.sandbox_executor(sandbox_settings(settings, backend)),
                    concurrency=2, until_idle=True, poll_s=0.05)
    worker.run()
    return worker.completed


def runs_by_label(db, task: Task) -> dict[str, TestRun]:  # type: ignore[no-untyped-def]
    db.expire_all()
    found = runqueue.runs_for_task(db, task)
    return {c.label: found[c.id] for c in task.candidates}  # type: ignore[misc]


@pytest.fixture
def hidden_site(db, queued_project, make_user):  # type: ignore[no-untyped-def]
    project = queued_project("hid", [hidden_task()])
    make_user("ann", projects=["hid"])
    make_user("lead1", role="lead", projects=["hid"])
    task = db.scalars(select(Task).where(Task.project_id == project.id)).one()
    return project, task


# -- the task file ---------------------------------------------------------------------


def test_hidden_tests_are_validated_stored_and_hashed(db, make_project, import_file,
                                                      tmp_path) -> None:
    project = make_project("v")
    bad = [
        hidden_task("a") | {"hidden_tests": {"../escape.py": "x = 1\n"}},
        hidden_task("b") | {"hidden_tests": {"test_solution.py": "def test_x():\n    pass\n"}},
        hidden_task("c") | {"hidden_tests": ["test_x.py"]},
        hidden_task("d") | {"hidden_tests": {"test_big.py": "#" * 300_000}},
    ]
    with pytest.raises(Exception) as caught:
        import_file(project, write_jsonl(tmp_path / "bad.jsonl", bad), max_bytes=100_000)
    errors = "\n".join(getattr(caught.value, "errors", []) or [str(caught.value)])
    assert ":1: hidden_tests.../escape.py" in errors
    assert ":2: hidden_tests: test_solution.py also in tests" in errors
    assert ":3: hidden_tests: " in errors
    assert ":4: hidden_tests.test_big.py: larger than" in errors
    assert db.scalars(select(Task)).all() == []  # a file with any error imports nothing

    import_file(project, write_jsonl(tmp_path / "good.jsonl", [hidden_task("g")]))
    task = db.scalars(select(Task).where(Task.external_id == "g")).one()
    assert task.hidden_tests == HIDDEN and task.tests == VISIBLE
    assert task.tests_hash != files_hash(VISIBLE)  # the hidden tests are in the run's key
    import_file(project, write_jsonl(tmp_path / "plain.jsonl",
                                     [hidden_task("p") | {"hidden_tests": {}}]))
    plain = db.scalars(select(Task).where(Task.external_id == "p")).one()
    assert plain.tests_hash == files_hash(VISIBLE)


# -- a run marks its hidden tests ------------------------------------------------------------


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_a_run_marks_its_hidden_tests(db, hidden_site, settings, session_factory,
                                      backend) -> None:
    require_backend(backend)
    project, task = hidden_site
    assert work_off(session_factory, settings, backend) == 2
    runs = runs_by_label(db, task)
    for label, status in (("a", "passed"), ("b", "failed")):
        run = runs[label]
        assert run.state == "done" and run.status == status, run.result
        assert run.mode == "split" and run.result["integrity"] == "split"
        assert run.hidden_tests == HIDDEN
        marks = {t["name"]: t["hidden"] for t in run.result["tests"]}
        assert marks == {"test_solution.py::test_small": False,
                         "test_solution.py::test_three": False,
                         f"test_unseen.py::test_{SECRET}": True}
    outcomes = {t["name"]: t["outcome"] for t in runs["b"].result["tests"]}
    assert outcomes[f"test_unseen.py::test_{SECRET}"] == "failed"
    assert outcomes["test_solution.py::test_small"] == "passed"


# A memoriser that reads the trusted test files it can find and answers their literals.
READER = (
    "import glob, os, re\n\n"
    "def _answers():\n"
    "    found = {}\n"
    "    for root in ('/in', '/work', os.getcwd(), '/tmp'):\n"
    "        for path in glob.glob(root + '/**/test_*.py', recursive=True):\n"
    "            try:\n"
    "                text = open(path).read()\n"
    "            except OSError:\n"
    "                continue\n"
    "            for x, y in re.findall(r'square\\((\\d+)\\) == (\\d+)', text):\n"
    "                found[int(x)] = int(y)\n"
    "    return found\n\n"
    "def square(x):\n"
    "    return _answers().get(x, 0)\n"
)


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_in_process_mode_runs_hidden_tests_where_the_candidate_cannot_read_them(
        backend: str) -> None:
    """In process, the candidate shares its sandbox with the tests it is given and can
    read them: its hidden tests run in a split run of their own, so a candidate that
    answers from the test files it finds passes the visible tests and fails the hidden."""
    from harness.runs import run_candidate
    from sandboxes.base import Limits

    sb = require_backend(backend)
    result = run_candidate({"solution.py": READER}, {**VISIBLE, **HIDDEN}, Limits(wall_s=20), sb,
                           mode="in_process", hidden=frozenset(HIDDEN))
    outcomes = {t.name: (t.outcome, t.hidden) for t in result.tests}
    assert outcomes == {"test_solution.py::test_small": ("passed", False),
                        "test_solution.py::test_three": ("passed", False),
                        f"test_unseen.py::test_{SECRET}": ("failed", True)}, result.to_dict()
    assert result.status == "failed" and result.integrity == "in_process"
    honest = run_candidate({"solution.py": HONEST}, {**VISIBLE, **HIDDEN}, Limits(wall_s=20), sb,
                           mode="in_process", hidden=frozenset(HIDDEN))
    assert honest.status == "passed", honest.to_dict()
    assert [t.hidden for t in honest.tests] == [False, False, True]


# -- what the annotator sees, before and after submitting --------------------------------------


def _review(assignment: Assignment) -> dict[str, Any]:
    first, second = assignment.display_order
    return {"findings": [], "ranking": [[first], [second]], "confidence": 4,
            "scores": {str(c): {"correctness": 4, "security": 4, "efficiency": 4,
                                "readability": 4} for c in (first, second)},
            "rationale": "The first one computes squares; the second only knows two."}


def test_hidden_results_reach_the_annotator_only_after_submit(app, db, hidden_site, settings,
                                                              session_factory) -> None:
    require_backend("bwrap")
    project, task = hidden_site
    work_off(session_factory, app_settings(app))
    a = assign(db, project, task, "ann")
    client, headers = logged_in(app, "ann")
    ids = {c.label: str(c.id) for c in task.candidates}
    url = f"/p/hid/t/{task.external_id}/runs.json"

    # before: the review page and runs.json say nothing of the hidden tests
    page = client.get(f"/p/hid/a/{a.id}").get_data(as_text=True)
    raw = client.get(url).get_data(as_text=True)
    for text in (page, raw):
        assert not [leak for leak in LEAKS if leak in text]
    before = json.loads(raw)["runs"]
    assert before[ids["b"]]["status"] == "passed"  # by the visible tests it passes
    assert before[ids["b"]]["hidden_note"] is None
    assert {t["name"] for t in before[ids["b"]]["tests"]} == {
        "test_solution.py::test_small", "test_solution.py::test_three"}
    assert before[ids["a"]]["integrity"] == "split"
    # the draft warnings, computed from the runs, give nothing away either
    draft = client.post(f"/p/hid/a/{a.id}/draft", headers=headers,
                        json={"draft": _review(a)}).get_data(as_text=True)
    assert not [leak for leak in LEAKS if leak in draft]

    # submit
    resp = client.post(f"/p/hid/a/{a.id}/submit", headers=headers,
                       json={"draft": _review(a), "acknowledge_warnings": True})
    assert resp.status_code == 200 and resp.get_json()["ok"], resp.get_json()

    after = client.get(url).get_json()["runs"]
    b = after[ids["b"]]
    assert b["status"] == "failed" and b["hidden_note"] == HIDDEN_FAILS_NOTE
    assert {(t["name"], t["hidden"], t["outcome"]) for t in b["tests"]} >= {
        (f"test_unseen.py::test_{SECRET}", True, "failed")}
    assert after[ids["a"]]["hidden_note"] is None and after[ids["a"]]["status"] == "passed"

    # a lead sees everything, and the integrity level, on the task page
    lead, _ = logged_in(app, "lead1")
    assert SECRET in lead.get(url).get_data(as_text=True)
    lead_page = lead.get(f"/p/hid/t/{task.external_id}").get_data(as_text=True)
    assert "integrity" in lead_page and HIDDEN_FAILS_NOTE in lead_page


def test_a_second_annotator_before_submitting_sees_nothing_hidden(app, db, hidden_site,
                                                                 make_user,
                                                                 session_factory) -> None:
    require_backend("bwrap")
    project, task = hidden_site
    make_user("ann2", projects=["hid"])
    work_off(session_factory, app_settings(app))
    first = assign(db, project, task, "ann")
    assign(db, project, task, "ann2")
    c1, h1 = logged_in(app, "ann")
    assert c1.post(f"/p/hid/a/{first.id}/submit", headers=h1,
                   json={"draft": _review(first), "acknowledge_warnings": True}
                   ).get_json()["ok"]
    c2, _ = logged_in(app, "ann2")
    raw = c2.get(f"/p/hid/t/{task.external_id}/runs.json").get_data(as_text=True)
    assert not [leak for leak in LEAKS if leak in raw]


# -- the execution mode of a project -------------------------------------------------------------


def test_a_project_that_switches_mode_reruns(db, app, queued_project, session_factory) -> None:
    require_backend("bwrap")
    project = queued_project("mode", [hidden_task("m1")])
    assert project.execution_mode == "split"
    task = db.scalars(select(Task).where(Task.project_id == project.id)).one()
    work_off(session_factory, app_settings(app))
    split = runs_by_label(db, task)
    assert {r.result["integrity"] for r in split.values()} == {"split"}

    changes = projects.ProjectSettingsIn(overlap=1, blind=True, hints_visible=True,
                                         tests_enabled=True, execution="in_process")
    assert "execution" in projects.update_settings(db, project, changes, user_id=None)
    db.commit()
    counts = runqueue.project_counts(db, project)
    assert counts["none"] == 2 and counts["done"] == 0  # the old results are not reused
    assert runqueue.enqueue_project(db, project) == 2
    db.commit()
    work_off(session_factory, app_settings(app))
    in_process = runs_by_label(db, task)
    assert {r.id for r in in_process.values()}.isdisjoint({r.id for r in split.values()})
    for label in ("a", "b"):
        run = in_process[label]
        assert run.mode == "in_process" and run.result["integrity"] == "in_process"
        assert run.status == split[label].status
        assert [t["hidden"] for t in run.result["tests"]] == [
            t["hidden"] for t in split[label].result["tests"]]
    # back to split: the split results are current again, nothing to run
    changes = projects.ProjectSettingsIn(overlap=1, blind=True, hints_visible=True,
                                         tests_enabled=True, execution="split")
    projects.update_settings(db, project, changes, user_id=None)
    db.commit()
    assert runqueue.enqueue_project(db, project) == 0
    assert {r.id for r in runs_by_label(db, task).values()} == {r.id for r in split.values()}


def test_the_project_file_chooses_the_mode_and_a_task_may_still_opt_out(
        db, make_project, import_file, tmp_path) -> None:
    project = make_project("ip", execution="in_process")
    assert project.execution_mode == "in_process"
    with pytest.raises(projects.ProjectError):
        make_project("bad", execution="threads")
    split = make_project("sp")
    opt_out = {"test_solution.py": 'harness_execution = "in_process"\n' + VISIBLE["test_solution.py"]}
    import_file(split, write_jsonl(tmp_path / "o.jsonl", [hidden_task("o") | {"tests": opt_out},
                                                           hidden_task("s")]))
    runqueue.enqueue_project(db, split)
    db.commit()
    modes = dict(db.execute(select(Task.external_id, TestRun.mode).join(
        Task, Task.tests_hash == TestRun.tests_hash)).all())
    assert modes == {"o": "in_process", "s": "split"}


# -- the visible view, case by case ----------------------------------------------------------


def _result(status: str, tests: list[tuple[str, str, bool, str]], **extra: Any) -> dict[str, Any]:
    return {"status": status, "tests": [{"name": n, "outcome": o, "hidden": h, "message": m}
                                        for n, o, h, m in tests],
            "stdout": "test_unseen.py F", "stderr": "", "tamper": [], "error": None} | extra


def test_the_visible_view_case_by_case() -> None:
    from harness.runs.hidden import WITHHELD, hidden_note, visible_view

    hidden = ["sub/test_unseen.py"]
    mixed = _result("failed", [("test_a.py::test_x", "passed", False, ""),
                               ("test_a.py::test_y", "passed", False, "see test_secret_case"),
                               ("sub/test_unseen.py::test_secret_case", "failed", True, "1 != 2")])
    seen = visible_view(mixed, hidden)
    assert seen is not None and seen["status"] == "passed"
    assert [t["name"] for t in seen["tests"]] == ["test_a.py::test_x", "test_a.py::test_y"]
    assert seen["tests"][1]["message"] == WITHHELD  # it named the hidden test
    assert seen["stdout"] == WITHHELD  # pytest's report names every file
    assert hidden_note(mixed) is not None and hidden_note(seen) is None
    # unmarked outcomes (a result stored before the mark) are withheld by file name
    unmarked = _result("failed", [("test_a.py::test_x", "passed", False, ""),
                                  ("sub/test_unseen.py::test_secret_case", "failed", False, "")])
    assert [t["name"] for t in visible_view(unmarked, hidden)["tests"]] == ["test_a.py::test_x"]  # type: ignore[index]
    # run-level statuses are about the whole run and stay; hidden-only tasks show no verdict
    assert visible_view(_result("timeout", []), hidden)["status"] == "timeout"  # type: ignore[index]
    only = _result("failed", [("sub/test_unseen.py::test_secret_case", "failed", True, "")])
    assert visible_view(only, hidden)["status"] is None  # type: ignore[index]
    # a reason naming a hidden test is withheld, others stay; no hidden tests: unchanged
    flagged = _result("tamper_suspected", [], tamper=["flag in test_unseen", "other flag"])
    assert visible_view(flagged, hidden)["tamper"] == [WITHHELD, "other flag"]  # type: ignore[index]
    assert visible_view(mixed, []) == mixed


def test_the_lead_switches_the_mode_on_the_settings_page(db, queued_project, make_user,
                                                         login) -> None:
    from harness.models import Project

    project = queued_project("page", [hidden_task("p1")])
    make_user("boss", role="lead", projects=["page"])
    client = login("boss")
    page = client.get("/p/page/settings").get_data(as_text=True)
    assert 'name="execution"' in page and 'value="split" selected' in page
    form = {"csrf_token": csrf_from(page), "state": "active", "overlap": "1",
            "tests_enabled": "1", "blind": "1", "hints_visible": "1"}
    assert client.post("/p/page/settings", data=form | {"execution": "in_process"}
                       ).status_code == 302
    db.expire_all()
    project = db.get(Project, project.id)
    assert project.execution_mode == "in_process"
    modes = sorted(m for m in db.scalars(select(TestRun.mode)))
    assert modes == ["in_process", "in_process", "split", "split"]  # queued at once
    # a form without the field leaves the mode as it is
    client.post("/p/page/settings", data=form)
    db.expire_all()
    assert db.get(Project, project.id).execution_mode == "in_process"
