"""A lead in Debian's Chromium: creating a project from an uploaded file with an error
on a known line, reading two annotators' reviews side by side, adjudicating."""

from __future__ import annotations

import json

import pytest
from helpers import task_line
from lead.support import annotate_task
from sqlalchemy import func, select

from harness.models import Adjudication, Project, Task, User

pytestmark = pytest.mark.browser


def test_lead_creates_a_project_from_an_uploaded_file(live, open_page) -> None:
    bad = task_line("t2")
    del bad["prompt"]
    broken = live.tmp / "tasks.jsonl"
    broken.write_text("\n".join(json.dumps(t) for t in [task_line("t1"), bad]) + "\n")
    page = open_page("lead1")
    page.click("text=New project")
    page.fill('input[name="name"]', "From the browser")
    page.fill('input[name="slug"]', "browser-made")
    page.select_option('select[name="rubric_id"]', index=1)
    page.fill('input[name="overlap"]', "2")
    page.set_input_files('input[name="tasks"]', str(broken))
    page.click("text=Create the project")
    errors = page.locator("#form-errors")
    errors.wait_for()
    assert "tasks.jsonl:2: prompt: Field required" in errors.inner_text()
    assert page.input_value('input[name="slug"]') == "browser-made"  # the form is kept
    with live.db() as s:
        assert s.scalar(select(Project.id).where(Project.slug == "browser-made")) is None

    fixed = live.tmp / "fixed.jsonl"
    fixed.write_text("\n".join(json.dumps(t) for t in [task_line("t1"), task_line("t2")]) + "\n")
    page.set_input_files('input[name="tasks"]', str(fixed))
    page.click("text=Create the project")
    page.wait_for_url(f"{live.url}/p/browser-made/")
    assert page.locator("table.list tbody tr").count() == 2
    assert "0 / 2" in page.locator("table.list tbody tr").first.inner_text()



def test_a_refused_settings_form_keeps_what_the_lead_typed(live, open_page) -> None:
    """One bad field among several changes: the page names it, nothing is saved, and every
    other field still holds what the lead typed (not the saved settings)."""
    page = open_page("lead1")
    page.goto(f"{live.url}/p/demo/settings")
    page.select_option('select[name="state"]', "paused")
    page.fill('input[name="overlap"]', "3")
    page.uncheck('input[name="blind"]')
    page.fill('input[name="hourly_rate"]', "25")
    page.fill('input[name="wall_s"]', "7")
    page.select_option('select[name="tier_required"]', "coding")
    page.fill('input[name="lease_minutes"]', "half an hour")
    page.click('#settings button[type="submit"]')
    errors = page.locator("#form-errors")
    errors.wait_for()
    assert "lease_minutes" in errors.inner_text()
    assert page.input_value('select[name="state"]') == "paused"
    assert page.input_value('input[name="overlap"]') == "3"
    assert not page.is_checked('input[name="blind"]')
    assert page.input_value('input[name="hourly_rate"]') == "25"
    assert page.input_value('input[name="wall_s"]') == "7"
    assert page.input_value('select[name="tier_required"]') == "coding"
    assert page.input_value('input[name="lease_minutes"]') == "half an hour"
    with live.db() as s:
        project = s.scalars(select(Project).where(Project.slug == "demo")).one()
        assert (project.state, project.overlap) == ("active", 2)
        assert "hourly_rate" not in (project.settings or {})
    page.fill('input[name="lease_minutes"]', "30")
    page.click('#settings button[type="submit"]')
    page.wait_for_selector(".flash-success")
    assert page.locator("#form-errors").count() == 0
    assert page.input_value('input[name="overlap"]') == "3"
    with live.db() as s:
        project = s.scalars(select(Project).where(Project.slug == "demo")).one()
        assert (project.state, project.overlap, project.blind) == ("paused", 3, False)
        assert project.settings["lease_minutes"] == 30


@pytest.fixture
def reviewed(live):
    """alice and bob each reviewed the first demo task, both marking line 1 of the same
    real candidate, which they saw under different letters."""
    with live.db() as s:
        project = s.scalars(select(Project).where(Project.slug == "demo")).one()
        task = s.scalars(select(Task).where(Task.project_id == project.id)
                         .order_by(Task.position)).first()
        target = task.candidates[0]
        made = []
        for name in ("alice", "bob"):
            user = s.scalars(select(User).where(User.name == name)).one()

            def build(assignment, payload, name=name):
                payload["findings"] = [{
                    "candidate_id": target.id, "file_path": sorted(target.files)[0],
                    "line_start": 1, "line_end": 1, "category": "bug", "severity": "medium",
                    "comment": f"{name} saw it"}]
                return payload

            ann = annotate_task(s, project, user, build=build)
            made.append("ABCD"[list(ann.display_order).index(target.id)])
        return task.external_id, target.label, made


def test_lead_reads_both_reviews_under_the_same_candidate(live, open_page, reviewed) -> None:
    external_id, label, letters = reviewed
    assert letters[0] != letters[1]
    page = open_page("lead1")
    page.goto(f"{live.url}/p/demo/")
    row = page.locator("table.list tbody tr").first
    assert "2 / 2" in row.inner_text()
    row.locator("td.progress-cell a").click()
    section = page.locator(f"#findings-{label}")
    section.wait_for()
    rows = section.locator("tr.finding")
    assert rows.count() == 2
    seen = {rows.nth(i).get_attribute("data-annotator"):
            rows.nth(i).locator("td").nth(1).inner_text() for i in range(2)}
    assert seen == {"alice": letters[0], "bob": letters[1]}
    assert "alice saw it" in section.inner_text() and "bob saw it" in section.inner_text()
    assert page.locator("#agreement").inner_text().startswith("Agreement")


def test_lead_adjudicates_a_task(live, open_page, reviewed) -> None:
    external_id, label, _letters = reviewed
    page = open_page("lead1")
    page.goto(f"{live.url}/p/demo/t/{external_id}/annotations")
    page.click("text=Adjudicate")
    merged = page.locator("tr.final-finding").first
    assert merged.locator('input[type="checkbox"]').is_checked()
    assert "alice" in merged.inner_text() and "bob" in merged.inner_text()
    merged.locator("select[aria-label=severity]").select_option("critical")
    inputs = page.locator('input[name^="rank_"]')
    for i in range(inputs.count()):
        inputs.nth(i).fill(str(i + 1))
    page.fill("#notes", "both right")
    page.click("text=Record the adjudication")
    page.locator(".flash-success").wait_for()
    assert "Adjudication recorded" in page.locator(".flash-success").inner_text()
    with live.db() as s:
        [found] = s.scalars(select(Adjudication)).all()
        assert [f["severity"] for f in found.findings] == ["critical"]
        assert len(found.findings[0]["merged_from"]) == 2 and found.notes == "both right"
        assert s.scalar(select(func.count(Adjudication.id))) == 1


def test_a_refused_adjudication_keeps_what_the_lead_typed(live, open_page, reviewed) -> None:
    """One mistyped line number in a new finding row: the page says which, records
    nothing, and the ranks, the edited merged finding, the new row and the notes are
    still as the lead typed them; fixing the one field records it all."""
    external_id, _label, _letters = reviewed
    page = open_page("lead1")
    page.goto(f"{live.url}/p/demo/t/{external_id}/adjudicate")
    inputs = page.locator('input[name^="rank_"]')
    for i in range(inputs.count()):
        inputs.nth(i).fill(str(inputs.count() - i))
    merged = page.locator("tr.final-finding").first
    merged.locator("select[aria-label=severity]").select_option("critical")
    merged.locator("textarea").fill("both saw it; critical")
    blank = page.locator("tr.final-finding").nth(1)
    blank.locator('input[type="checkbox"]').check()
    blank.locator("input[aria-label=file]").fill("solution.py")
    blank.locator("input[aria-label='first line']").fill("2")
    blank.locator("input[aria-label='last line']").fill("3x")
    blank.locator("textarea").fill("found by the lead")
    page.fill("#notes", "a long note the lead wrote")
    page.click("text=Record the adjudication")
    page.locator("#form-errors").wait_for()
    assert "finding 1: end must be a number" in page.inner_text("#form-errors")
    with live.db() as s:
        assert s.scalar(select(func.count(Adjudication.id))) == 0
    ranks = [inputs.nth(i).input_value() for i in range(inputs.count())]
    assert ranks == [str(inputs.count() - i) for i in range(inputs.count())]
    merged = page.locator("tr.final-finding").first
    assert merged.locator("select[aria-label=severity]").input_value() == "critical"
    assert merged.locator("textarea").input_value() == "both saw it; critical"
    assert "alice" in merged.inner_text() and "bob" in merged.inner_text()
    blank = page.locator("tr.final-finding").nth(1)
    assert blank.locator('input[type="checkbox"]').is_checked()
    assert blank.locator("input[aria-label='last line']").input_value() == "3x"
    assert blank.locator("textarea").input_value() == "found by the lead"
    assert not page.locator("tr.final-finding").nth(2).locator('input[type="checkbox"]').is_checked()
    assert page.input_value("#notes") == "a long note the lead wrote"
    blank.locator("input[aria-label='last line']").fill("3")
    page.click("text=Record the adjudication")
    page.locator(".flash-success").wait_for()
    with live.db() as s:
        [found] = s.scalars(select(Adjudication)).all()
        assert [(f["severity"], f["comment"]) for f in found.findings] == [
            ("critical", "both saw it; critical"), (found.findings[1]["severity"], "found by the lead")]
        assert len(found.findings[0]["merged_from"]) == 2
        assert found.notes == "a long note the lead wrote"
