"""Lead pages through the Flask client with CSRF on: annotations side by side, the
progress column's query count, adjudication, projects from an uploaded file, settings."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import RUBRIC, csrf_from, task_line, write_jsonl
from lead.support import annotate_task
from sqlalchemy import event, func, select

from harness import assignments
from harness.adjudication import final_results
from harness.models import Adjudication, Candidate, Project, Task
from web.extensions import app_engine


def finding_on(candidate: Candidate, comment: str, lines: tuple[int, int] = (2, 2),
               category: str = "bug") -> dict[str, Any]:
    return {"candidate_id": candidate.id, "file_path": "solution.py", "line_start": lines[0],
            "line_end": lines[1], "category": category, "severity": "high", "comment": comment}


@pytest.fixture
def two_reviews(db, make_project, make_user, import_file, tmp_path: Path):
    """Task t1 reviewed by ann1 and ann2, who saw the candidates in different orders and
    each marked a bug on the real candidate b (the one returning a - b)."""
    project = make_project("lp", overlap=2)
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [task_line("t1")]))
    make_user("boss", role="lead", projects=["lp"])
    users = [make_user("ann1", projects=["lp"]), make_user("ann2", projects=["lp"])]
    task = db.scalars(select(Task).where(Task.external_id == "t1")).one()
    bad = next(c for c in task.candidates if c.label == "b")
    made = []
    for user in users:
        def build(assignment, payload, user=user):
            payload["findings"] = [finding_on(bad, f"{user.name}: <script>x</script> subtracts")]
            return payload
        made.append(annotate_task(db, project, user, build=build))
    orders = [a.display_order for a in made]
    assert orders[0] != orders[1]  # the two saw different letters for the same candidate
    return project, task, bad, made


def test_lead_sees_both_annotators_findings_under_the_same_real_candidate(
        two_reviews, login) -> None:
    project, task, bad, made = two_reviews
    client = login("boss")
    page = client.get("/p/lp/t/t1/annotations").get_data(as_text=True)
    section = page.split('id="findings-b"')[1].split("</section>")[0]
    assert "ann1" in section and "ann2" in section
    letters = {}
    for ann in made:
        letters[ann.id] = "AB"[ann.display_order.index(bad.id)]
    assert sorted(letters.values()) == ["A", "B"]
    rows = [r for r in section.split('<tr class="finding"')[1:]]
    shown = {r.split('data-annotator="')[1].split('"')[0]: r.split("<td>")[2].split("</td>")[0]
             for r in rows}
    assert set(shown.values()) == {"A", "B"}
    other = page.split('id="findings-a"')[1].split("</section>")[0]
    assert "No findings on this candidate" in other
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "code-review 1 · " in page  # the rubric version of each annotation


def test_annotations_page_is_for_leads_of_the_project(two_reviews, login, make_user,
                                                      make_project) -> None:
    make_project("other")
    make_user("stranger", role="lead", projects=["other"])
    assert login("ann1").get("/p/lp/t/t1/annotations").status_code == 403
    client = login("stranger")
    assert client.get("/p/lp/t/t1/annotations").status_code == 404
    assert client.get("/p/lp/t/t1/adjudicate").status_code == 404


def test_task_list_progress_in_a_fixed_number_of_queries(app, db, make_project, make_user,
                                                        import_file, login, tmp_path) -> None:
    project = make_project("q", overlap=2)
    import_file(project, write_jsonl(tmp_path / "q.jsonl", [task_line(f"t{i}") for i in range(12)]))
    make_user("boss", role="lead", projects=["q"])
    ann = make_user("ann", projects=["q"])
    annotate_task(db, project, ann)
    claim = assignments.claim_next(db, ann.id, project)
    assignments.skip(db, claim.assignment, "not my language")
    db.commit()
    assignments.claim_next(db, ann.id, project)
    db.commit()
    client = login("boss")
    engine = app_engine(app)

    def count(url: str) -> tuple[int, str]:
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            html = client.get(url).get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements), html

    few, _ = count("/p/q/?page=1")
    import_file(project, write_jsonl(tmp_path / "q2.jsonl", [task_line(f"u{i}") for i in range(30)]))
    many, html = count("/p/q/?page=1")
    assert many == few, (few, many)
    rows = html.split("<tbody>")[1].split("</tr>")
    assert "1 / 2" in rows[0]  # t0 submitted
    assert "<td>1</td>" in rows[1].split("progress-cell")[1]  # t1 skipped
    assert rows[2].count("<td>1</td>") >= 1  # t2 in progress


def test_adjudication_is_stored_apart_and_read_by_final_results(two_reviews, login, db) -> None:
    project, task, bad, made = two_reviews
    client = login("boss")
    page = client.get("/p/lp/t/t1/adjudicate").get_data(as_text=True)
    assert page.count('class="final-finding"') == 1 + 2  # the two merged into one, 2 blank
    good = next(c for c in task.candidates if c.label == "a")
    form = {"csrf_token": csrf_from(page), f"rank_{good.id}": "1", f"rank_{bad.id}": "2",
            "f0_keep": "1", "f0_candidate": str(bad.id), "f0_file": "solution.py",
            "f0_start": "1", "f0_end": "2", "f0_category": "bug", "f0_severity": "critical",
            "f0_cwe": "", "f0_comment": "subtracts", "f0_merged": ",".join(
                str(f.id) for a in made for f in a.findings),
            "f1_candidate": str(good.id), "f1_file": "", "notes": "clear case"}
    resp = client.post("/p/lp/t/t1/adjudicate", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.expire_all()
    final = final_results(db, [task.id])[task.id]
    assert final.ranking == [[good.id], [bad.id]]
    assert [(f["candidate_id"], f["line_start"], f["severity"]) for f in final.findings] == [
        (bad.id, 1, "critical")]
    assert sorted(final.findings[0]["merged_from"]) == sorted(
        f.id for a in made for f in a.findings)
    assert sorted(final.annotation_ids) == sorted(a.id for a in made)
    for ann in made:  # the raw annotations are untouched
        db.refresh(ann)
        assert [f.line_start for f in ann.findings] == [2]


@pytest.mark.parametrize("field", ["rank", "f0_start", "f0_candidate"])
def test_adjudication_with_a_forged_number_is_a_named_error(two_reviews, login, db,
                                                             field) -> None:
    """"³" passes str.isdigit() but not int(); 5000 digits pass neither: the form again
    with the field's error (422), not a 500."""
    project, task, bad, made = two_reviews
    client = login("boss")
    page = client.get("/p/lp/t/t1/adjudicate").get_data(as_text=True)
    good = next(c for c in task.candidates if c.label == "a")
    form = {"csrf_token": csrf_from(page), f"rank_{good.id}": "1", f"rank_{bad.id}": "2",
            "f0_keep": "1", "f0_candidate": str(bad.id), "f0_file": "solution.py",
            "f0_start": "1", "f0_end": "2", "f0_category": "bug", "f0_severity": "high",
            "f0_cwe": "", "f0_comment": "subtracts"}
    name = f"rank_{good.id}" if field == "rank" else field
    for forged in ("\u00b3", "9" * 5000):
        # the form shown again reads every row as typed, forged numbers too (a 500 once)
        resp = client.post("/p/lp/t/t1/adjudicate",
                           data={**form, name: forged, "f0_merged": forged, f"f{forged}_keep": "1"})
        assert resp.status_code == 422, (forged[:5], resp.status_code)
        shown = resp.get_data(as_text=True)
        assert 'id="form-errors"' in shown and f"<code>{name}: " in shown, shown[:300]
    assert db.scalar(select(func.count(Adjudication.id))) == 0


def test_adjudication_with_errors_records_nothing(two_reviews, login, db) -> None:
    project, task, bad, made = two_reviews
    client = login("boss")
    page = client.get("/p/lp/t/t1/adjudicate").get_data(as_text=True)
    good = next(c for c in task.candidates if c.label == "a")
    form = {"csrf_token": csrf_from(page), f"rank_{good.id}": "1", f"rank_{bad.id}": "1",
            "f0_keep": "1", "f0_candidate": str(bad.id), "f0_file": "solution.py",
            "f0_start": "1", "f0_end": "99", "f0_category": "bug", "f0_severity": "high",
            "f0_merged": "999999"}
    resp = client.post("/p/lp/t/t1/adjudicate", data=form,
                       headers={"Referer": "http://localhost/p/lp/t/t1/adjudicate"})
    assert resp.status_code == 422  # the form again, as typed, with every error
    shown = resp.get_data(as_text=True)
    assert "lines must be a range within 1..2" in shown and "merged_from" in shown
    assert 'name="f0_end" value="99"' in shown
    assert db.scalar(select(func.count(Adjudication.id))) == 0


def test_adjudication_queue_lists_tasks_below_the_threshold(two_reviews, login, db) -> None:
    project, task, bad, made = two_reviews
    # both put the same finding and the same scores; rankings follow display order, which
    # differ, so W = 0 and the task is below any positive threshold
    page = login("boss").get("/p/lp/adjudication").get_data(as_text=True)
    assert "/p/lp/t/t1/adjudicate" in page
    agreement = login("boss").get("/p/lp/agreement").get_data(as_text=True)
    assert 'href="/p/lp/t/t1/annotations">t1</a>' in agreement


def _new_project_form(client, **fields: Any) -> dict[str, Any]:
    page = client.get("/projects/new").get_data(as_text=True)
    return {"csrf_token": csrf_from(page), "name": "Web", "slug": "web", "overlap": "2",
            "blind": "1", "tests": "", "hints_visible": "1"} | fields


def test_project_from_an_uploaded_file_with_an_error_on_line_2_imports_nothing(
        db, make_user, login, make_project) -> None:
    make_project("seed")  # a stored rubric to choose
    make_user("boss", role="lead")
    client = login("boss")
    bad = task_line("t2")
    bad["candidates"] = bad["candidates"][:1]
    tasks = "\n".join(json.dumps(t) for t in [task_line("t1"), bad, task_line("t3")]) + "\n"
    form = _new_project_form(client, rubric_file=(io.BytesIO(RUBRIC.read_bytes()), "r.yaml"),
                             tasks=(io.BytesIO(tasks.encode()), "my tasks.jsonl"))
    resp = client.post("/projects/new", data=form, content_type="multipart/form-data")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "my_tasks.jsonl:2: candidates:" in html
    assert "upload-" not in html  # the temp dir is not shown
    assert db.scalar(select(Project.id).where(Project.slug == "web")) is None
    assert db.scalar(select(func.count(Task.id)).where(Task.external_id == "t1")) == 0

    fixed = tasks.replace(json.dumps(bad), json.dumps(task_line("t2")))
    form = _new_project_form(client, rubric_file=(io.BytesIO(RUBRIC.read_bytes()), "r.yaml"),
                             tasks=(io.BytesIO(fixed.encode()), "tasks.jsonl"))
    resp = client.post("/projects/new", data=form, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    project = db.scalars(select(Project).where(Project.slug == "web")).one()
    assert (project.overlap, project.blind, project.tests_enabled) == (2, True, False)
    assert db.scalar(select(func.count(Task.id)).where(Task.project_id == project.id)) == 3
    assert client.get("/p/web/").status_code == 200  # the creator is a member


def test_project_form_errors_from_the_schema_and_the_rubric(db, make_user, login) -> None:
    make_user("boss", role="lead")
    client = login("boss")
    broken = b"name: r\nversion: '1'\ncriteria:\n  - key: Bad Key\n    label: B\n"
    form = _new_project_form(client, slug="Not A Slug", overlap="0",
                             rubric_file=(io.BytesIO(broken), "r.yaml"))
    resp = client.post("/projects/new", data=form, content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "form: slug:" in html and "form: overlap:" in html
    form = _new_project_form(client, rubric_file=(io.BytesIO(broken), "r.yaml"))
    html = client.post("/projects/new", data=form, content_type="multipart/form-data").get_data(
        as_text=True)
    assert "r.yaml:4: criteria.0.key:" in html
    assert login("boss") and db.scalar(select(func.count(Project.id))) == 0


def test_annotators_cannot_create_projects(make_user, login) -> None:
    make_user("ann")
    assert login("ann").get("/projects/new").status_code == 403


def test_settings_pause_resume_k_and_members(db, make_project, make_user, import_file, login,
                                            tmp_path) -> None:
    project = make_project("s")
    import_file(project, write_jsonl(tmp_path / "s.jsonl", [task_line("t1")]))
    make_user("boss", role="lead", projects=["s"])
    ann = make_user("ann", projects=["s"])
    make_user("newbie")
    client = login("boss")
    page = client.get("/p/s/settings").get_data(as_text=True)
    token = csrf_from(page)
    resp = client.post("/p/s/settings", data={"csrf_token": token, "state": "paused",
                                              "overlap": "3", "hints_visible": "1",
                                              "wall_s": "5", "agreement_threshold": "0.6",
                                              "tier_required": "coding"})
    assert resp.status_code == 302
    db.expire_all()
    project = db.get(Project, project.id)
    assert (project.state, project.overlap, project.blind, project.sandbox_limits["wall_s"],
            project.settings["agreement_threshold"], project.settings["tier_required"]) == (
        "paused", 3, False, 5.0, 0.6, "coding")
    assert assignments.claim_next(db, ann.id, project).reason == "paused"
    db.rollback()
    client.post("/p/s/settings", data={"csrf_token": token, "state": "active", "overlap": "3"})
    db.expire_all()
    assert assignments.claim_next(db, ann.id, db.get(Project, project.id)).assignment is not None
    db.commit()
    client.post("/p/s/members", data={"csrf_token": token, "name": "newbie"})
    resp = client.post(f"/p/s/members/{ann.id}/remove", data={"csrf_token": token})
    assert resp.status_code == 302
    html = client.get("/p/s/settings").get_data(as_text=True)
    assert "newbie" in html and ">ann<" not in html
    assert client.post("/p/s/settings", data={"state": "paused", "overlap": "1"}).status_code == 400


def _finished(client, url: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        html = client.get(url).get_data(as_text=True)
        if 'data-state="done"' in html or 'data-state="failed"' in html:
            assert 'http-equiv="refresh"' not in html
            return html
        assert 'http-equiv="refresh"' in html
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


def test_import_page_lists_every_error_and_imports_nothing(db, make_project, make_user, login,
                                                           tmp_path) -> None:
    make_project("imp")
    make_user("boss", role="lead", projects=["imp"])
    client = login("boss")
    token = csrf_from(client.get("/p/imp/import").get_data(as_text=True))
    body = "\n".join([json.dumps(task_line("a1")), "{not json", json.dumps(task_line("a1"))])
    resp = client.post("/p/imp/import", data={"csrf_token": token, "tasks": (
        io.BytesIO(body.encode()), "more.jsonl")}, content_type="multipart/form-data")
    assert resp.status_code == 302
    html = _finished(client, resp.headers["Location"])
    assert "more.jsonl:2: (line): invalid JSON" in html and "more.jsonl:3: id:" in html
    assert "imports/" not in html  # the upload's folder is not shown
    assert db.scalar(select(func.count(Task.id))) == 0


def test_a_large_import_runs_in_the_background_with_progress(db, make_project, make_user, login,
                                                             tmp_path) -> None:
    project = make_project("big", tests=False)
    make_user("boss", role="lead", projects=["big"])
    make_user("other", role="lead")
    client = login("boss")
    token = csrf_from(client.get("/p/big/import").get_data(as_text=True))
    body = "\n".join(json.dumps(task_line(f"t{i}")) for i in range(1200)) + "\n"
    resp = client.post("/p/big/import", data={"csrf_token": token, "tasks": (
        io.BytesIO(body.encode()), "big.jsonl")}, content_type="multipart/form-data")
    job_url = resp.headers["Location"]
    html = _finished(client, job_url)
    assert "Imported 1200 new and 0 updated task(s), 2400 candidate(s)." in html
    assert db.scalar(select(func.count(Task.id)).where(Task.project_id == project.id)) == 1200
    assert login("other").get(job_url).status_code == 404  # not a member of the project


def test_a_task_file_over_4_mb_is_taken_from_a_lead_and_from_no_one_else(
        db, make_project, make_user, login, app) -> None:  # type: ignore[no-untyped-def]
    """HARNESS_MAX_UPLOAD_MB (256 by default) is a lead's limit for a task file; the CSRF
    check read the form under the app's 4 MB first, so every file over 4 MB was a 413.
    An anonymous upload is sent to the login before its body is read."""
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    project = make_project("five", tests=False)
    make_user("boss", role="lead", projects=["five"])
    pad = "x" * 5000
    body = "\n".join(json.dumps(task_line(f"t{i}", metadata={"pad": pad}))
                     for i in range(1100)) + "\n"
    assert len(body) > 5 * 1024 * 1024

    def post(client):  # type: ignore[no-untyped-def]
        token = csrf_from(client.get("/login" if client is anonymous else "/p/five/import")
                          .get_data(as_text=True))
        # encoded here: the test client spools a large form to a temp file of its own,
        # left open when the app does not read the body (the anonymous post)
        boundary, data = encode_multipart({"csrf_token": token, "tasks": FileStorage(
            io.BytesIO(body.encode()), "five.jsonl")})
        return client.post("/p/five/import", data=data,
                           content_type=f"multipart/form-data; boundary={boundary}")

    anonymous = app.test_client()
    resp = post(anonymous)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    # a lead of another project: no such project (answered before the body is read)
    make_user("other", role="lead")
    assert post(login("other")).status_code == 404
    resp = post(login("boss"))
    assert resp.status_code == 302, resp.status_code
    assert "Imported 1100 new" in _finished(login("boss"), resp.headers["Location"])
    assert db.scalar(select(func.count(Task.id)).where(Task.project_id == project.id)) == 1100
