"""A lead plants gold from the browser (Debian's Chromium): picks a passing candidate and
a kind of bug, sees the diff, and creates the gold task whose known finding is the
planted line; a candidate with no place for the bug, or none at all, is refused with
a message that says what the kind needs and what else fits."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from harness.models import Project, Task
from harness.qualification import gold_of

pytestmark = pytest.mark.browser

TESTS = {"test_solution.py": "from solution import total\n\n\ndef test_total():\n"
                             "    assert total([1, 2, 3]) == 6\n"}
LOOPING = "def total(xs):\n    s = 0\n    for i in range(len(xs)):\n        s += xs[i]\n    return s\n"
BUILTIN = "def total(xs):\n    return sum(xs)\n"
WRONG = "def total(xs):\n    return 0\n"


@pytest.fixture
def plantable(live):
    live.add_project({"name": "Gold", "slug": "gp", "overlap": 2}, tasks=[{
        "id": "sum-1", "prompt": "Write `total(xs)`.", "language": "python", "tests": TESTS,
        "candidates": [{"id": "a", "model": "m1", "files": {"solution.py": LOOPING}},
                       {"id": "b", "model": "m2", "files": {"solution.py": BUILTIN}},
                       {"id": "c", "model": "m3", "files": {"solution.py": WRONG}}]}])
    live.add_user("goldlead", "lead", ["gp"])
    results = live.seed_runs("sum-1", slug="gp")  # real bwrap runs: a and b pass, c fails
    assert sorted(r["status"] for r in results.values()) == ["failed", "passed", "passed"]


def test_lead_plants_an_off_by_one_and_creates_the_gold_task(live, open_page, plantable) -> None:
    page = open_page("goldlead")
    page.goto(f"{live.url}/p/gp/t/sum-1")
    page.click("#plant-link")
    sources = page.locator("#sources")
    sources.wait_for()
    assert "failed" in sources.locator('tr[data-candidate="c"]').inner_text()
    options = page.locator('select[name="candidate"] option').all_inner_texts()
    assert options == ["choose…", "a"]  # b passes but has no place for a bug; c fails

    # a kind the candidate has no place for: refused, and told what fits
    page.select_option('select[name="candidate"]', "a")
    page.select_option('select[name="kind"]', "removed_bounds_check")
    page.click("text=Show the change")
    errors = page.locator("#form-errors")
    errors.wait_for()
    text = errors.inner_text()
    assert "candidate a has no place for a removed bounds check" in text
    assert "It has a place for an off-by-one." in text
    assert page.locator("#create-gold").count() == 0

    # a candidate with nothing plantable at all, asked for by URL
    page.goto(f"{live.url}/p/gp/t/sum-1/plant?candidate=b&kind=off_by_one")
    assert "It has a place for no kind of bug" in page.locator("#form-errors").inner_text()
    page.goto(f"{live.url}/p/gp/t/sum-1/plant?candidate=c&kind=off_by_one")
    assert "no passing test run" in page.locator("#form-errors").inner_text()

    # the preview: the changed line, then the gold task
    page.goto(f"{live.url}/p/gp/t/sum-1/plant")
    page.select_option('select[name="candidate"]', "a")
    page.select_option('select[name="kind"]', "off_by_one")
    page.click("text=Show the change")
    preview = page.locator("#plant-preview")
    preview.wait_for()
    assert page.locator("td.del").all_inner_texts() == ["    for i in range(len(xs)):"]
    assert page.locator("td.add").all_inner_texts() == ["    for i in range(len(xs) - 1):"]
    assert "line 3" in page.locator("#gold-finding").inner_text()
    new_id = page.input_value('input[name="new_id"]')  # annotators see it: no kind in it
    assert re.fullmatch(r"sum-1\.[0-9a-f]{6}", new_id), new_id
    page.click("text=Create the gold task")
    page.wait_for_url(f"{live.url}/p/gp/t/{new_id}")
    assert f"Gold task {new_id} created" in page.locator(".flash-success").inner_text()

    with live.db() as s:
        gold = s.scalars(select(Task).join(Project).where(
            Project.slug == "gp", Task.external_id == new_id)).one()
        assert gold.is_gold
        findings, ranking = gold_of(gold)
        planted = next(c for c in gold.candidates if c.label == "a-planted")
        assert [(f.candidate_id, f.file_path, f.line_start, f.line_end, f.category)
                for f in findings] == [(planted.id, "solution.py", 3, 3, "bug")]
        assert "range(len(xs) - 1)" in planted.files["solution.py"]

    # the same id again is refused on the form, and nothing more is imported
    page.goto(f"{live.url}/p/gp/t/sum-1/plant?candidate=a&kind=off_by_one")
    page.fill('input[name="new_id"]', new_id)
    page.click("text=Create the gold task")
    assert new_id in page.locator("#form-errors").inner_text()
    with live.db() as s:
        assert len(s.scalars(select(Task).join(Project).where(Project.slug == "gp")).all()) == 2
