"""The review page in a real browser: the annotator's whole path, and what gets stored."""

from __future__ import annotations

import difflib
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import add_finding, no_js_errors, take_next, wait_saved
from sqlalchemy import select

from harness.models import Annotation, Assignment, Candidate, Project, utcnow

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).parent / "screenshots"
HOSTILE_COMMENT = '<img src=x onerror=alert("comment")> "; alert(1); // </textarea><script>alert(2)</script>'
RATIONALE = "D is the only one with a random salt; A and C tie, both use a fixed salt. <b>bold?</b>"


def submit_past_warnings(page, version: int) -> None:
    """Submit; if the page asks for a second look (the real test results may warn that a
    failing candidate is ranked above a passing one), submit anyway."""
    page.click("#submit")
    done = f"#submitted:has-text('version {version}')"
    page.wait_for_selector(f"{done}, #submit-anyway:visible")
    if page.locator("#submit-anyway").is_visible():
        assert page.locator("#warnings li").count() > 0
        page.click("#submit-anyway")
    page.wait_for_selector(done)


def test_annotator_reviews_a_task_end_to_end(live, open_page) -> None:
    live.seed_runs("demo-01-password-hash")  # real results; hints come from the live setup
    page = open_page("alice")
    errors = no_js_errors(page)
    assignment_id = take_next(page, live)
    with live.db() as s:
        assignment = s.get(Assignment, assignment_id)
        order = list(assignment.display_order)
        hashes = dict(s.execute(select(Candidate.id, Candidate.content_hash)
                                .where(Candidate.id.in_(order))).all())
    a, b, c, d = order  # letters A..D as shown
    letters = dict(zip("ABCD", order, strict=True))

    # a security finding on lines 3-5 of candidate B, with a CWE, by mouse
    add_finding(page, "B", 3, 5, category="security", severity="high",
                cwe="CWE-89: SQL Injection", comment=HOSTILE_COMMENT)
    # a bug on line 12 of candidate C, by keyboard: focus the code, move, extend, Enter
    page.keyboard.press("3")
    for _ in range(12):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Enter")
    form = page.locator("#cand-C .finding-form")
    form.locator('select[name="category"]').select_option("bug")
    form.locator('select[name="severity"]').select_option("medium")
    form.locator('textarea[name="comment"]').fill("fixed salt for every password")
    form.locator('button[type="submit"]').click()
    gutter = page.locator("#cand-B tr.has-finding")
    assert gutter.count() == 3
    assert page.locator("#cand-B li.finding .comment").inner_text() == HOSTILE_COMMENT
    assert page.locator("#cand-C tr.has-finding").count() == 2

    # every criterion scored: D best everywhere, others lower
    scores: dict[str, dict[str, int]] = {}
    criteria = ["correctness", "security", "efficiency", "readability"]
    base = {a: 3, b: 2, c: 3, d: 5}
    for cand in order:
        for i, key in enumerate(criteria):
            value = max(1, base[cand] - (i % 2 if cand != d else 0))
            scores.setdefault(str(cand), {})[key] = value
            page.select_option(f'select[data-candidate="{cand}"][data-criterion="{key}"]', str(value))

    # ranking: drag D to the top, then by keyboard move C up and tie it with A
    page.drag_and_drop(f'#ranking .chip[data-candidate="{d}"]', '#ranking .gap[data-gap="0"]')
    assert page.evaluate("window.reviewPage.store.state.ranking") == [[d], [a], [b], [c]]
    page.locator(f'#ranking .chip[data-candidate="{c}"]').focus()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("=")
    expected_ranking = [[d], [a, c], [b]]
    assert page.evaluate("window.reviewPage.store.state.ranking") == expected_ranking
    assert page.locator("#ranking .tier").nth(1).locator(".chip").all_inner_texts() == ["A", "C"]

    page.fill("#rationale", RATIONALE)
    page.check('input[name="confidence"][value="4"]')
    wait_saved(page)
    page.locator("#cand-A .tests .badge[class*='status-']").first.wait_for()
    assert page.locator(".hint-marker").count() > 0
    page.screenshot(path=str(SCREENSHOTS / "review-page-full.png"), full_page=True)
    page.click(".prompt summary")  # fold the prompt: the code and findings fill the screen
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#cand-B .code-scroll").evaluate("el => { el.scrollTop = 0; }")
    # 1280 px wide: two rows of two candidates. Show the row whose code has hint markers
    # (candidate ids, hence letters, differ between runs); both rows hold a finding.
    page.evaluate("""() => {
      const hinted = [...document.querySelectorAll('.candidate')]
        .find((c) => c.querySelector('.hint-marker'));
      const first = ['cand-A', 'cand-B'].includes(hinted?.id) ? 'cand-A' : 'cand-C';
      const top = document.getElementById(first).getBoundingClientRect().top;
      window.scrollTo(0, top + window.scrollY - 60);
      const marker = hinted?.querySelector('.hint-marker');
      const scroll = marker?.closest('.code-scroll');
      const row = marker?.closest('tr');
      if (scroll && row && row.offsetTop > scroll.clientHeight - 40) {
        scroll.scrollTop = row.offsetTop - scroll.clientHeight / 2;
      }
    }""")
    page.screenshot(path=str(SCREENSHOTS / "review-page.png"))
    if os.environ.get("HARNESS_UPDATE_README_SCREENSHOT") == "1":
        # the README's picture is committed; a normal test run leaves it alone
        page.screenshot(path=str(SCREENSHOTS / "readme-review-page.png"))
    page.click(".prompt summary")

    # reload: the draft is back, exactly
    page.reload()
    page.wait_for_selector("#ranking .chip")
    assert page.locator("#cand-B li.finding").count() == 1
    assert page.locator("#cand-B li.finding .comment").inner_text() == HOSTILE_COMMENT
    assert page.locator("#cand-B tr.has-finding").count() == 3
    assert page.input_value("#rationale") == RATIONALE
    assert page.is_checked('input[name="confidence"][value="4"]')
    assert page.input_value(f'select[data-candidate="{d}"][data-criterion="security"]') == "5"
    assert [t.locator(".chip").all_inner_texts() for t in page.locator("#ranking .tier").all()] == [
        ["D"], ["A", "C"], ["B"]]

    # submit: stored exactly as entered
    submit_past_warnings(page, 1)
    assert errors == []
    assert live.dialogs == []
    with live.db() as s:
        ann = s.scalars(select(Annotation).where(Annotation.assignment_id == assignment_id)).one()
        assignment = s.get(Assignment, assignment_id)
        assert assignment.state == "submitted"
        assert ann.version == 1
        assert ann.scores == scores
        assert ann.ranking == expected_ranking
        assert ann.rationale == RATIONALE
        assert ann.confidence == 4
        assert ann.display_order == order
        assert ann.active_seconds > 0
        got = sorted((f.candidate_id, f.content_hash, f.file_path, f.line_start, f.line_end,
                      f.category, f.severity, f.cwe, f.comment) for f in ann.findings)
        assert got == sorted([
            (letters["B"], hashes[b], "solution.py", 3, 5, "security", "high", 89, HOSTILE_COMMENT),
            (letters["C"], hashes[c], "solution.py", 12, 13, "bug", "medium", None,
             "fixed salt for every password"),
        ])

    # resubmitting makes version 2 and keeps version 1
    page.fill("#rationale", RATIONALE + " Re-checked.")
    submit_past_warnings(page, 2)
    with live.db() as s:
        versions = s.scalars(select(Annotation).where(Annotation.assignment_id == assignment_id)
                             .order_by(Annotation.version)).all()
        assert [(v.version, v.rationale) for v in versions] == [
            (1, RATIONALE), (2, RATIONALE + " Re-checked.")]


def test_submit_shows_what_is_missing_and_warnings(live, open_page) -> None:
    page = open_page("alice")
    assignment_id = take_next(page, live)
    page.click("#submit")
    page.wait_for_selector("#errors li")
    text = page.inner_text("#errors")
    assert "Candidate A: score Correctness" in text
    assert "rank the candidates" in text
    assert page.locator("select.score.invalid").count() > 0
    # a high security finding on the top-ranked candidate warns, but does not block
    with live.db() as s:
        order = s.get(Assignment, assignment_id).display_order
    for select_ in page.locator("select.score").all():
        select_.select_option("3")
    add_finding(page, "A", 1, 2, category="security", severity="critical", cwe="798")
    page.click("#keep-order")
    page.fill("#rationale", "A first, the rest in the shown order.")
    page.check('input[name="confidence"][value="2"]')
    page.click("#submit")
    page.wait_for_selector("#submit-anyway:visible")
    assert "critical security finding" in page.inner_text("#warnings")
    with live.db() as s:
        assert s.scalars(select(Annotation)).first() is None  # nothing stored yet
    page.click("#submit-anyway")
    page.wait_for_selector("#submitted:has-text('version 1')")
    with live.db() as s:
        ann = s.scalars(select(Annotation)).one()
        assert ann.ranking == [[cid] for cid in order]
        assert ann.findings[0].cwe == 798
    # edit the finding down to low: the warning goes; a second finding is added and deleted
    page.locator("#cand-A li.finding button", has_text="Edit").click()
    form = page.locator("#cand-A .finding-form")
    assert form.locator('select[name="severity"]').input_value() == "critical"
    assert form.locator('input[name="cwe"]').input_value().startswith("CWE-798")
    form.locator('select[name="severity"]').select_option("low")
    form.locator('button[type="submit"]').click()
    add_finding(page, "B", 2, 2, category="style", severity="low", comment="to be deleted")
    page.locator("#cand-B li.finding button", has_text="Delete").click()
    assert page.locator("#cand-B li.finding").count() == 0
    assert page.locator("#cand-B tr.has-finding").count() == 0
    page.click("#submit")
    page.wait_for_selector("#submitted:has-text('version 2')")
    assert page.inner_text("#warnings") == ""
    with live.db() as s:
        v2 = s.scalars(select(Annotation).where(Annotation.version == 2)).one()
        assert [(f.severity, f.cwe, f.line_start, f.line_end) for f in v2.findings] == [
            ("low", 798, 1, 2)]


def test_second_annotator_sees_a_different_order(live, open_page) -> None:
    first = take_next(open_page("alice"), live)
    page = open_page("bob")
    second = take_next(page, live)
    with live.db() as s:
        one, two = s.get(Assignment, first), s.get(Assignment, second)
        assert one.task_id == two.task_id
        assert sorted(one.display_order) == sorted(two.display_order)
        assert one.display_order != two.display_order
        letters = [page.get_attribute(f"#cand-{x}", "data-candidate") for x in "ABCD"]
        assert [int(x) for x in letters if x] == two.display_order


def test_diff_view_marks_the_changed_lines(live, open_page) -> None:
    page = open_page("alice")
    assignment_id = take_next(page, live)
    with live.db() as s:
        order = s.get(Assignment, assignment_id).display_order
        left, right = (s.get(Candidate, cid) for cid in order[:2])
        a = left.files["solution.py"].splitlines()
        b = right.files["solution.py"].splitlines()
    expected_left, expected_right = set(), set()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            expected_left.update(range(i1 + 1, i2 + 1))
            expected_right.update(range(j1 + 1, j2 + 1))
    page.select_option("#diff-left", str(order[0]))
    page.select_option("#diff-right", str(order[1]))
    page.click("#diff-show")
    page.wait_for_selector("#diff-view:not([hidden]) #diff-table tr")
    changed = page.locator('#diff-table tr[data-changed="true"]')
    assert changed.count() > 0
    got_left = {int(x) for x in changed.locator("td.ln:nth-child(1)").all_inner_texts() if x}
    got_right = {int(x) for x in changed.locator("td.ln:nth-child(3)").all_inner_texts() if x}
    assert got_left == expected_left and got_right == expected_right
    unchanged = page.locator('#diff-table tr[data-changed="false"]')
    assert unchanged.count() == len(a) - len(expected_left)
    page.screenshot(path=str(SCREENSHOTS / "diff-view.png"))
    page.keyboard.press("Escape")
    assert page.locator("#diff-view").is_hidden()
    # synchronised scrolling: on with "s", one column scrolls the others
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("s")
    assert page.is_checked("#sync-scroll")
    page.locator("#cand-B .code-scroll").evaluate("el => { el.scrollTop = 60; }")
    page.wait_for_function("() => document.querySelector('#cand-A .code-scroll').scrollTop > 0")
    page.keyboard.press("s")
    assert not page.is_checked("#sync-scroll")


def test_lease_expires_and_the_task_returns_to_the_queue(live, open_page) -> None:
    task = {"id": "only", "prompt": "Add.", "language": "python",
            "tests": {"test_solution.py": "def test_x():\n    pass\n"},
            "candidates": [{"id": "a", "model": "m1", "files": {"solution.py": "x = 1\n"}},
                           {"id": "b", "model": "m2", "files": {"solution.py": "x = 2\n"}}]}
    live.add_project({"name": "Lease", "slug": "lease", "overlap": 1, "lease_minutes": 5}, [task])
    live.add_user("erin", project_slugs=["lease"])
    live.add_user("finn", project_slugs=["lease"])
    erin = open_page("erin")
    first = take_next(erin, live)
    finn = open_page("finn")
    finn.goto(f"{live.url}/p/lease/queue")
    finn.click("#take-next")
    assert finn.get_attribute("#queue-empty", "data-reason") == "taken"
    assert "being reviewed by others" in finn.inner_text("#queue-empty")
    with live.db() as s:  # move the clock: erin's lease ran out
        s.get(Assignment, first).lease_expires_at = utcnow() - timedelta(seconds=1)
        s.commit()
    finn.goto(f"{live.url}/p/lease/queue")
    finn.click("#take-next")
    finn.wait_for_url("**/a/*")
    with live.db() as s:
        mine = s.scalars(select(Assignment).where(Assignment.id != first)).one()
        assert mine.task_id == s.get(Assignment, first).task_id
        assert s.get(Assignment, first).state == "expired"
    # erin's page can no longer save: the task is someone else's now
    erin.fill("#rationale", "too late")
    erin.wait_for_selector('#save-status[data-state="error"]')
    assert "lease" in erin.inner_text("#save-status")
    # and with everything done or taken, the queue says why
    finn.goto(f"{live.url}/p/lease/queue")
    assert "In progress" in finn.inner_text("main")


XSS = '<img src=x onerror=alert("xss")><script>alert("xss")</script>'
HOSTILE_RUBRIC = f"""
name: hostile
version: "1"
description: '{XSS}'
instructions: |
  Review <script>alert("instr")</script> and [this](javascript:alert(1)).
  <img src=x onerror=alert(3)>
criteria:
  - key: correctness
    label: '{XSS}'
    description: '<svg onload=alert(4)>'
    scale: {{min: 1, max: 3, labels: {{1: '<b onmouseover=alert(5)>bad</b>'}}}}
categories:
  - {{key: security, label: '<img src=x onerror=alert(6)>', cwe: true}}
severities: [low, high]
ranking: {{enabled: true, ties: true, required: true}}
rationale_required: false
confidence: false
"""


def test_hostile_strings_never_run(live, open_page) -> None:
    task = {"id": "x-1", "language": "python",
            "prompt": f"# Title {XSS}\n\n<script>alert('prompt')</script>\n\n[link](javascript:alert(8))",
            "tests": {"test_solution.py": "def test_x():\n    pass\n"},
            "candidates": [
                {"id": "a", "model": XSS, "files": {"solution.py": f"s = '{XSS}'\n# </script><script>alert(9)</script>\nx = 1\n"}},
                {"id": "b", "model": "<svg/onload=alert(10)>", "files": {"solution.py": "s = '<iframe src=javascript:alert(11)>'\n"}}]}
    live.add_project({"name": f"X {XSS}", "slug": "xss", "overlap": 2, "blind": False},
                     [task], rubric_text=HOSTILE_RUBRIC)
    live.add_user("ann2", project_slugs=["xss"])
    page = open_page("ann2")
    errors = no_js_errors(page)
    page.goto(f"{live.url}/p/xss/queue")
    page.click("#take-next")
    page.wait_for_url("**/a/*")
    page.wait_for_selector("#ranking .chip")
    models = page.locator(".cand-head .model").all_inner_texts()  # not blind: shown, as text
    assert sorted(models) == sorted([XSS, "<svg/onload=alert(10)>"])
    assert XSS in page.inner_text("#cand-A") or XSS in page.inner_text("#cand-B")
    page.click("details.instructions summary")
    add_finding(page, "A", 1, 1, category="security", severity="high", comment=XSS)
    wait_saved(page)
    page.reload()
    page.wait_for_selector("li.finding")
    assert page.locator("li.finding .comment").inner_text() == XSS
    page.hover("li.finding")
    page.hover("table.scores th")
    page.click("#submit")
    page.wait_for_selector("#errors li")
    page.wait_for_timeout(300)
    assert page.locator("script:not([src]):not([type='application/json'])").count() == 0
    assert live.dialogs == []
    assert errors == []


def test_help_overlay_and_keyboard_only_ranking(live, open_page) -> None:
    page = open_page("bob", width=1920, height=1080)
    assignment_id = take_next(page, live)
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("#help").is_hidden()
    page.keyboard.press("r")
    page.keyboard.press("ArrowDown")  # A goes below B
    page.keyboard.press("ArrowDown")  # ...and below C
    with live.db() as s:
        order = s.get(Assignment, assignment_id).display_order
        project = s.scalars(select(Project).where(Project.slug == "demo")).one()
        assert project.overlap == 2
    a, b, c, d = order
    assert page.evaluate("window.reviewPage.store.state.ranking") == [[b], [c], [a], [d]]
    # dropping a candidate onto a row ties it with that row
    page.drag_and_drop(f'#ranking .chip[data-candidate="{d}"]', '#ranking .tier[data-row="0"]')
    assert page.evaluate("window.reviewPage.store.state.ranking") == [[b, d], [c], [a]]
    page.locator(f'#ranking .chip[data-candidate="{d}"]').focus()
    page.keyboard.press("ArrowDown")  # out of the tie, to its own row below
    assert page.evaluate("window.reviewPage.store.state.ranking") == [[b], [d], [c], [a]]
    page.screenshot(path=str(SCREENSHOTS / "review-page-wide.png"))


PROBE = (
    "from solution import hash_password, verify_password\n\n\n"
    "def test_probe_roundtrip():\n"
    "    assert verify_password('x', hash_password('x', iterations=1_000))\n"
)


def test_hints_test_results_probe_and_triage(live, open_page) -> None:
    """Real hints (analyze_many), real test runs (bwrap, stored as the worker stores them)
    and a real probe through POST .../probe and the bwrap sandbox: nothing mocked."""
    from harness.analysis.core import DEFAULT_MAX_BYTES
    from harness.analysis.store import hints_for, task_context
    from harness.models import ProbeTest

    runs = live.seed_runs("demo-01-password-hash")
    page = open_page("alice")
    errors = no_js_errors(page)
    assignment_id = take_next(page, live)
    with live.db() as s:
        assignment = s.get(Assignment, assignment_id)
        order = list(assignment.display_order)
        hashes = dict(s.execute(select(Candidate.id, Candidate.content_hash)
                                .where(Candidate.id.in_(order))).all())
        context = task_context(assignment.task, DEFAULT_MAX_BYTES)  # live's default size cap
        hints = {cid: hints_for(s, hashes[cid], context=context) for cid in order}
    assert set(runs) == set(order)
    # test results: each candidate's panel shows its own stored run
    for letter, cid in zip("ABCD", order, strict=False):
        result = runs[cid]
        panel = page.locator(f'#cand-{letter} .tests[data-tests-for="{cid}"]')
        panel.locator(f".status-{result['status']}").wait_for()
        passed = sum(1 for t in result["tests"] if t["outcome"] == "passed")
        assert f"{passed}/{len(result['tests'])} tests passed" in panel.inner_text()
        assert result["isolation"] in panel.inner_text()
    # hints: a real one, marked in the gutter on its line, with a verdict stored by its key
    letter, cid = next((lt, c) for lt, c in zip("ABCD", order, strict=False) if hints[c])
    hint = hints[cid][0]
    marker = page.locator(f'#cand-{letter} tr[data-line="{hint.line_start}"] '
                          f'.hint-marker[data-hint-key="{hint.key}"]')
    assert hint.title in marker.get_attribute("aria-label")
    assert "bandit:" in page.inner_text(f"#cand-{letter} .hint-summary")
    marker.focus()
    page.keyboard.press("Enter")
    page.locator(f'#cand-{letter} li.hint[data-hint-key="{hint.key}"] '
                 "button[data-verdict='false_positive']").click()
    wait_saved(page)
    with live.db() as s:
        draft = s.get(Assignment, assignment_id).draft
        assert draft["hint_verdicts"] == {str(cid): {hint.key: "false_positive"}}
    # a probe, through the real endpoint and the bwrap sandbox, results under each candidate
    page.click("#probe summary")
    page.fill("#probe-source", PROBE)
    page.click("#probe-run")
    page.wait_for_selector("#probe-status:has-text('done')", timeout=60_000)
    with live.db() as s:
        probe = s.scalars(select(ProbeTest).where(ProbeTest.assignment_id == assignment_id)).one()
        stored = {int(k): v for k, v in probe.results.items()}
    assert set(stored) == set(order)
    for letter, cid in zip("ABCD", order, strict=False):
        status = stored[cid]["status"]
        assert stored[cid]["backend"] == "bwrap"
        box = page.locator(f'#cand-{letter} .probe-result[data-probe-for="{cid}"]')
        assert box.locator(f".status-{status}").count() == 1
        assert f"probe: {status.replace('_', ' ')}" in box.inner_text()
    assert any(v["status"] == "passed" for v in stored.values())
    assert errors == [] and live.dialogs == []


def test_hints_hidden_note(live, open_page) -> None:
    live.add_project({"name": "NoHints", "slug": "nh", "hints": {"visible": False}},
                     [{"id": "t", "prompt": "p", "language": "python", "tests": {"test_solution.py": "def test_x():\n    pass\n"},
                       "candidates": [{"id": "a", "files": {"solution.py": "x = 1\n"}},
                                      {"id": "b", "files": {"solution.py": "x = 2\n"}}]}])
    live.add_user("hana", project_slugs=["nh"])
    page = open_page("hana")
    page.goto(f"{live.url}/p/nh/queue")
    page.click("#take-next")
    page.wait_for_url("**/a/*")
    assert "Hints are hidden for this project" in page.inner_text("#hints-hidden")
    assert page.locator(".hint-marker").count() == 0


def test_a_refused_submit_keeps_the_draft_and_autosave(live, open_page) -> None:
    """A submit sent before the autosave fired: refused, the draft is still saved (the
    submit carries it) and the page goes on saving, heartbeating and renewing the lease."""
    page = open_page("alice")
    errors = no_js_errors(page)
    assignment_id = take_next(page, live)
    page.fill("#rationale", "too short")
    page.click("#submit")  # within the 1 s autosave delay
    page.wait_for_selector("#errors li")
    wait_saved(page)
    assert page.evaluate("window.reviewPage.store.dirty") is False
    with live.db() as s:
        assert s.get(Assignment, assignment_id).draft["rationale"] == "too short"
    # later changes are autosaved as before
    page.fill("#rationale", "too short, still")
    page.wait_for_selector('#save-status[data-state="dirty"]')
    wait_saved(page)
    with live.db() as s:
        assert s.get(Assignment, assignment_id).draft["rationale"] == "too short, still"
    assert errors == []


def test_leaving_the_page_sends_the_last_changes_with_a_beacon(live, open_page) -> None:
    """A save in flight when the page goes must not reschedule (the page is gone by then):
    the last changes leave in a beacon, the CSRF token in its form body."""
    page = open_page("alice")
    assignment_id = take_next(page, live)
    page.evaluate("window.reviewPage.store.saving = true")  # as if a save were in flight
    page.fill("#rationale", "written just before leaving")
    page.goto(f"{live.url}/queue")
    deadline = time.monotonic() + 5
    rationale = None
    while time.monotonic() < deadline:
        with live.db() as s:
            draft = s.get(Assignment, assignment_id).draft or {}
        rationale = draft.get("rationale")
        if rationale:
            break
        time.sleep(0.1)
    assert rationale == "written just before leaving"
