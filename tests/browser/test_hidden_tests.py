"""Hidden tests in a real browser, with real bwrap runs: before submitting, the annotator's
page shows the visible tests only (a memorising candidate passes); after the submit the
page shows the hidden outcomes, marked, and "passes visible tests, fails hidden ones".
Both task pages show each run's integrity level."""

from __future__ import annotations

import pytest
from helpers import no_js_errors, take_next

from harness.models import Assignment
from harness.runs.hidden import HIDDEN_FAILS_NOTE

pytestmark = pytest.mark.browser

SECRET = "hidden_marker_31337"
TASK = {
    "id": "h1", "prompt": "Write `square(x)`.", "language": "python",
    "tests": {"test_solution.py": "from solution import square\n\n\n"
                                  "def test_small():\n    assert square(2) == 4\n\n\n"
                                  "def test_three():\n    assert square(3) == 9\n"},
    "hidden_tests": {"test_unseen.py": "from solution import square\n\n\n"
                                       f"def test_{SECRET}():\n"
                                       "    assert square(123457) == 15241630849\n"},
    "candidates": [
        {"id": "a", "model": "m-a", "files": {"solution.py": "def square(x):\n    return x * x\n"}},
        {"id": "b", "model": "m-b", "files": {"solution.py": "ANSWERS = {2: 4, 3: 9}\n\n\n"
                                              "def square(x):\n    return ANSWERS.get(x, 0)\n"}},
    ],
}
CRITERIA = ["correctness", "security", "efficiency", "readability"]


def test_hidden_results_appear_after_the_submit(live, open_page) -> None:
    live.add_project({"name": "Hidden", "slug": "hid", "overlap": 1, "tests": True}, [TASK])
    live.add_user("hid-ann", project_slugs=["hid"])
    live.add_user("hid-lead", "lead", ["hid"])
    runs = live.seed_runs("h1", slug="hid")
    page = open_page("hid-ann")
    errors = no_js_errors(page)
    assignment_id = take_next(page, live)
    with live.db() as s:
        order = list(s.get(Assignment, assignment_id).display_order)
    memoriser = next(cid for cid in order if runs[cid]["status"] == "failed")
    letter = "AB"[order.index(memoriser)]
    panel = page.locator(f'#cand-{letter} .tests[data-tests-for="{memoriser}"]')

    # before: it passes by the visible tests, and nothing on the page names a hidden test
    panel.locator(".status-passed").wait_for()
    assert "2/2 tests passed" in panel.inner_text()
    assert "integrity: split" in panel.inner_text()
    panel.locator("button.run-details").click()
    details = page.locator("#test-details")
    details.locator(".test-list").wait_for()
    assert "test_small" in details.inner_text() and "hidden" not in details.inner_text()
    assert SECRET not in page.content() and "test_unseen" not in page.content()
    details.locator(".test-details-close").click()

    # review and submit
    for cand in order:
        for key in CRITERIA:
            page.select_option(f'select[data-candidate="{cand}"][data-criterion="{key}"]', "3")
    page.click("#keep-order")
    page.fill("#rationale", "Both pass the visible tests; B only knows two answers.")
    page.check('input[name="confidence"][value="3"]')
    page.click("#submit")
    page.wait_for_selector("#submitted:has-text('version 1'), #submit-anyway:visible")
    if page.locator("#submit-anyway").is_visible():
        page.click("#submit-anyway")
    page.wait_for_selector("#submitted:has-text('version 1')")

    # after: the memoriser is shown failing its hidden test, marked hidden
    panel.locator(".status-failed").wait_for()
    assert HIDDEN_FAILS_NOTE in panel.inner_text()
    assert "2/3 tests passed" in panel.inner_text()
    panel.locator("button.run-details").click()
    row = details.locator(f"li:has-text('{SECRET}')")
    row.wait_for()
    assert row.locator(".hidden-test").inner_text() == "hidden"
    assert HIDDEN_FAILS_NOTE in details.inner_text()
    honest = next(cid for cid in order if cid != memoriser)
    other = page.locator(f'.tests[data-tests-for="{honest}"]')
    assert "3/3 tests passed" in other.inner_text()
    assert HIDDEN_FAILS_NOTE not in other.inner_text()

    # the lead's task page: every result, the note and the integrity level
    lead = open_page("hid-lead")
    lead.goto(f"{live.url}/p/hid/t/h1")
    lead_panel = lead.locator(f'.tests[data-tests-for="{memoriser}"]')
    lead_panel.locator(".status-failed").wait_for()
    assert HIDDEN_FAILS_NOTE in lead_panel.inner_text()
    assert "integrity: split" in lead_panel.inner_text()
    assert errors == [] and live.dialogs == []
