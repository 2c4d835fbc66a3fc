"""The review page's second pass in a real browser: no lost work (two tabs, repeated
submits, edits after a submit), honest warnings, hints turned into findings, readable
code columns, probe history, the lead's live run, and axe-core accessibility scans."""

from __future__ import annotations

import json

import pytest
from helpers import add_finding, no_js_errors, take_next, wait_saved
from helpers.axe import axe_violations
from playwright.sync_api import expect
from sqlalchemy import func, select

from harness.models import Annotation, Assignment, Candidate, TestRun

pytestmark = pytest.mark.browser

"""Installed by `make test` (the `axe` target: the axe-core npm package in .cache/axe)."""
CRITERIA = ["correctness", "security", "efficiency", "readability"]
RATIONALE = "All of them work; the ranking follows the findings and the tests."
SQLI = ("def find(db, name):\n"
        "    return db.execute(\"SELECT * FROM users WHERE name = '\" + name + \"'\")\n"
        "\n\ndef add(a, b):\n    return a + b\n")
WIDE = "def add(a, b):\n    return a + b  # " + "a long explanation of nothing at all, " * 6 + "\n"


def complete_review(page, ids: list[int], ranking: list[list[int]] | None = None) -> None:
    """Every score, a ranking (the shown order unless given), a rationale and a confidence."""
    for cand in ids:
        for key in CRITERIA:
            page.select_option(f'select[data-candidate="{cand}"][data-criterion="{key}"]', "3")
    if ranking is None:
        page.click("#keep-order")
    else:
        page.evaluate("(r) => { const p = window.reviewPage; p.store.state.ranking = r;"
                      " p.ranking.render(); p.store.changed(); }", ranking)
    page.fill("#rationale", RATIONALE)
    page.check('input[name="confidence"][value="3"]')


def shown_ids(live, assignment_id: int) -> list[int]:
    with live.db() as s:
        return list(s.get(Assignment, assignment_id).display_order)


def versions(live, assignment_id: int) -> int:
    with live.db() as s:
        return s.scalar(select(func.count(Annotation.id))
                        .where(Annotation.assignment_id == assignment_id)) or 0


def add_task_project(live, slug: str, candidates: dict[str, str]) -> None:
    tests = {"test_solution.py": "from solution import add\n\n\ndef test_add():\n"
                                 "    assert add(1, 2) == 3\n"}
    task = {"id": "t1", "prompt": "Write `add(a, b)`.", "language": "python", "tests": tests,
            "candidates": [{"id": k, "model": f"m-{k}", "files": {"solution.py": v}}
                           for k, v in candidates.items()]}
    live.add_project({"name": slug.title(), "slug": slug, "overlap": 1, "tests": True}, [task])
    live.add_user(f"{slug}-ann", project_slugs=[slug])


# --- 1. no lost work ------------------------------------------------------------------------


def test_two_tabs_the_stale_one_is_refused_and_says_so(live, open_page) -> None:
    first = open_page("alice")
    errors = no_js_errors(first)
    assignment_id = take_next(first, live)
    second = first.context.new_page()  # the same annotator, the same task, another tab
    second.goto(first.url)
    second.wait_for_selector("#ranking .chip")
    # the newer tab records a finding and saves it
    add_finding(second, "B", 2, 3, category="bug", severity="high", comment="from the second tab")
    wait_saved(second)
    # the older tab (still on revision 0) changes something: refused, and it says so
    first.fill("#rationale", "typed in the first tab")
    first.wait_for_selector("#stale-banner:visible")
    assert "open in another tab" in first.inner_text("#stale-banner")
    status = first.locator("#save-status")
    assert status.get_attribute("data-state") == "error"
    assert "Draft saved" not in status.inner_text() and "another tab" in status.inner_text()
    assert first.is_disabled("#submit")
    with live.db() as s:  # nothing of the newer tab was overwritten
        draft = s.get(Assignment, assignment_id).draft
    assert [f["comment"] for f in draft["findings"]] == ["from the second tab"]
    assert draft.get("rationale", "") == ""
    # the reload the banner offers: the newest draft, and the older tab's changes offered back
    first.click("#stale-reload")
    first.wait_for_selector("#restore:visible")
    assert first.input_value("#rationale") == ""
    assert first.locator("#cand-B li.finding").count() == 1
    with first.expect_navigation():
        first.click("#restore-add")  # merged, saved, and the page reloads to show it
    first.wait_for_selector("#ranking .chip")
    assert first.input_value("#rationale") == "typed in the first tab"
    assert first.locator("#restore").is_hidden()
    with live.db() as s:  # nothing lost on either side
        draft = s.get(Assignment, assignment_id).draft
    assert [f["comment"] for f in draft["findings"]] == ["from the second tab"]
    assert draft["rationale"] == "typed in the first tab"
    # now the second tab is the stale one, and its unload sends no draft over the newer one
    second.fill("#rationale", "typed in the second tab")
    second.wait_for_selector("#stale-banner:visible")
    second.close(run_before_unload=True)
    first.wait_for_timeout(500)
    with live.db() as s:
        assert s.get(Assignment, assignment_id).draft["rationale"] == "typed in the first tab"
    assert errors == []


def test_triple_ctrl_enter_makes_one_version_and_edits_after_show_the_banner(live, open_page) -> None:
    live.seed_runs("demo-01-password-hash")
    page = open_page("alice")
    assignment_id = take_next(page, live)
    complete_review(page, shown_ids(live, assignment_id))
    wait_saved(page)
    page.locator("#rationale").focus()
    for _ in range(3):
        page.keyboard.press("Control+Enter")
    page.wait_for_selector("#submitted:has-text('version 1'), #submit-anyway:visible")
    if page.locator("#submit-anyway").is_visible():  # the real runs may ask for a second look
        for _ in range(3):
            page.keyboard.press("Control+Enter")
        page.wait_for_selector("#submitted:has-text('version 1')")
    page.wait_for_timeout(1500)  # any request a key press could still have sent
    assert versions(live, assignment_id) == 1
    assert page.locator("#warnings li").count() == 0  # cleared by the successful submit
    assert page.locator("#unsubmitted").is_hidden()
    # an edit after submitting: the banner says it is not part of version 1
    page.fill("#rationale", RATIONALE + " One more thought.")
    banner = page.locator("#unsubmitted")
    banner.wait_for(state="visible")
    assert "Changes since version 1, not submitted" in banner.inner_text()
    wait_saved(page)
    page.reload()
    page.wait_for_selector("#ranking .chip")
    assert "Changes since version 1, not submitted" in page.inner_text("#unsubmitted")
    assert "Submitted (version 1)" in page.inner_text(".prompt")
    assert versions(live, assignment_id) == 1


# --- 4. warnings that think ---------------------------------------------------------------------


def test_a_passing_candidate_with_a_critical_finding_ranked_last_is_not_flagged(live, open_page) -> None:
    add_task_project(live, "warn", {"a": SQLI, "b": "def add(a, b):\n    return a - b\n"})
    results = live.seed_runs("t1", slug="warn")
    page = open_page("warn-ann")
    page.goto(f"{live.url}/p/warn/queue")
    page.click("#take-next")
    page.wait_for_selector("#ranking .chip")
    assignment_id = int(page.url.rsplit("/", 1)[1])
    with live.db() as s:
        labels = dict(s.execute(select(Candidate.label, Candidate.id)).all())
    passing, failing = labels["a"], labels["b"]
    assert results[passing]["status"] == "passed" and results[failing]["status"] == "failed"
    letter = page.get_attribute(f'.candidate[data-candidate="{passing}"]', "data-letter")
    page.locator(f'.candidate[data-candidate="{failing}"] .tests .badge.status-failed').wait_for()
    complete_review(page, [passing, failing], ranking=[[failing], [passing]])
    wait_saved(page)
    # without a finding the page asks, and names what it compared
    page.click("#submit")
    page.wait_for_selector("#submit-anyway:visible")
    warning = page.inner_text("#warnings")
    assert f"ranked above candidate {letter}, whose tests pass and which has no high or critical finding" in warning
    # the critical SQL injection on the passing candidate explains the ranking: no warning
    add_finding(page, letter, 2, 2, category="security", severity="critical",
                cwe="CWE-89: SQL Injection", comment="name concatenated into the SQL")
    page.click("#submit")
    page.wait_for_selector("#submitted:has-text('version 1')")
    assert page.locator("#warnings li").count() == 0
    assert versions(live, assignment_id) == 1


# --- 5. hints become findings -------------------------------------------------------------------


def test_add_as_finding_from_a_bandit_hint(live, open_page) -> None:
    page = open_page("alice")
    assignment_id = take_next(page, live)
    hint = page.locator("li.hint:has(.add-hint-finding[data-analyzer='bandit'])").first
    article = hint.locator("xpath=ancestor::article")
    article.locator("details.hints summary").click()
    button = hint.locator(".add-hint-finding")
    start, end = int(button.get_attribute("data-line-start")), int(button.get_attribute("data-line-end"))
    cwe, severity = button.get_attribute("data-cwe"), button.get_attribute("data-severity")
    cand = int(article.get_attribute("data-candidate"))
    button.click()
    form = article.locator(".finding-form")
    assert form.locator('select[name="category"]').input_value() == "security"
    assert form.locator('select[name="severity"]').input_value() == severity
    if cwe:
        assert form.locator('input[name="cwe"]').input_value().startswith(f"CWE-{cwe}")
    range_text = f"line {start}" if start == end else f"lines {start}–{end}"
    assert range_text in form.locator(".ff-title").inner_text()
    form.locator('button[type="submit"]').click()
    form.wait_for(state="detached")
    assert hint.locator('button[data-verdict="confirmed"]').get_attribute("aria-pressed") == "true"
    wait_saved(page)
    with live.db() as s:
        draft = s.get(Assignment, assignment_id).draft
    (finding,) = draft["findings"]
    assert (finding["candidate_id"], finding["line_start"], finding["line_end"]) == (cand, start, end)
    assert finding["category"] == "security" and finding["severity"] == severity
    assert finding["cwe"] == (int(cwe) if cwe else None)
    key = hint.get_attribute("data-hint-key")
    assert draft["hint_verdicts"][str(cand)][key] == "confirmed"


def test_length_limits_are_counters_never_silent_cuts(live, open_page) -> None:
    page = open_page("alice")
    take_next(page, live)
    page.locator('#cand-A tr[data-line="1"] td.ln').click()
    page.locator("#cand-A .add-finding").click()
    form = page.locator("#cand-A .finding-form")
    form.locator('select[name="category"]').select_option("bug")
    form.locator('select[name="severity"]').select_option("low")
    long = "y" * 5012
    form.locator('textarea[name="comment"]').fill(long)
    assert form.locator('textarea[name="comment"]').input_value() == long  # nothing cut
    counter = form.locator(".ff-counter")
    assert counter.get_attribute("data-state") == "over" and "12 over the limit" in counter.inner_text()
    form.locator('button[type="submit"]').click()
    assert "12 characters over the limit" in form.locator(".ff-error").inner_text()
    assert page.evaluate("window.reviewPage.store.state.findings.length") == 0
    form.locator('textarea[name="comment"]').fill("y" * 5000)
    assert counter.inner_text() == "5,000 / 5,000"
    form.locator('button[type="submit"]').click()
    form.wait_for(state="detached")
    wait_saved(page)
    # the rationale: a counter too, and an over-long one is refused by the server, said so
    limit = int(page.get_attribute("#rationale", "data-max"))
    page.fill("#rationale", "z" * (limit + 3))
    assert "3 over the limit" in page.inner_text("#rationale-count")
    status = page.locator('#save-status[data-state="error"]')
    status.wait_for()
    assert "rationale" in status.inner_text() and "3 over" in status.inner_text()
    assert len(page.input_value("#rationale")) == limit + 3


# --- 3. readable code columns ---------------------------------------------------------------------


def test_horizontal_scroll_keeps_line_numbers_visible_and_compare_two(live, open_page) -> None:
    add_task_project(live, "wide", {"a": WIDE, "b": WIDE.replace("a + b", "b + a"),
                                    "c": "def add(a, b):\n    return sum((a, b))\n"})
    page = open_page("wide-ann", width=1024, height=768)
    page.goto(f"{live.url}/p/wide/queue")
    page.click("#take-next")
    page.wait_for_selector("#ranking .chip")
    scroll = page.locator(".candidate:has-text('a long explanation') .code-scroll").first
    assert scroll.evaluate("el => el.scrollWidth > el.clientWidth + 200")
    scroll.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    page.wait_for_timeout(100)
    visible = scroll.evaluate("""el => {
      const box = el.getBoundingClientRect();
      const ln = el.querySelector('tr[data-line="2"] td.ln');
      const r = ln.getBoundingClientRect();
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return { left: r.left - box.left, inside: r.left >= box.left && r.right <= box.right,
               top: hit === ln || ln.contains(hit), scrolled: el.scrollLeft };
    }""")
    assert visible["scrolled"] > 200 and visible["inside"] and visible["top"], visible
    # wrap: no sideways scrolling at all
    page.locator("body").press("l")
    assert scroll.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    page.locator("body").press("l")
    # compare two (keyboard): only the two chosen candidates, each wider
    before = page.locator(".candidate").first.bounding_box()["width"]
    page.select_option("#diff-left", index=0)
    page.select_option("#diff-right", index=2)
    page.locator("body").press("c")
    shown = [a for a in page.locator(".candidate").all() if a.is_visible()]
    assert [a.get_attribute("data-letter") for a in shown] == ["A", "C"]
    assert shown[0].bounding_box()["width"] >= before
    page.locator("body").press("c")
    assert sum(1 for a in page.locator(".candidate").all() if a.is_visible()) == 3
    # the diff fits 1024 px and is highlighted
    page.locator("body").press("d")
    page.wait_for_selector("#diff-view:not([hidden]) tbody tr")
    box = page.locator("#diff-view").bounding_box()
    assert box["x"] + box["width"] <= 1024
    assert page.locator("#diff-view tbody span[class]").count() > 0  # pygments tokens
    # each side's line numbers sit beside its code, never over it
    overlaps = page.evaluate("""() => [...document.querySelectorAll('#diff-table tr')].flatMap(tr => {
        const cells = [...tr.children];
        return cells.slice(0, -1).filter((td, i) =>
            td.getBoundingClientRect().right > cells[i + 1].getBoundingClientRect().left + 0.5
        ).map(td => td.className);
    })""")
    assert overlaps == [], overlaps


# --- 7. probe history --------------------------------------------------------------------------

PROBE = "from solution import add\n\n\ndef test_negative():\n    assert add(-1, -2) == -3\n"


def test_probe_history_after_reload_with_its_source_and_stale_marks(live, open_page) -> None:
    add_task_project(live, "probe", {"a": "def add(a, b):\n    return a + b\n",
                                     "b": "def add(a, b):\n    return abs(a) + abs(b)\n"})
    page = open_page("probe-ann")
    page.goto(f"{live.url}/p/probe/queue")
    page.click("#take-next")
    page.wait_for_selector("#ranking .chip")
    page.click("#probe summary")
    page.fill("#probe-source", PROBE)
    page.click("#probe-run")
    page.wait_for_selector("#probe-status:has-text('done')", timeout=120_000)
    page.reload()
    page.wait_for_selector("#ranking .chip")
    page.click("#probe summary")
    item = page.locator("#probe-history li.probe-item")
    item.first.wait_for()
    assert item.count() == 1
    assert "passes on" in item.inner_text() and "fails on" in item.inner_text()
    assert item.locator("pre.probe-source").text_content() == PROBE
    badges = page.locator(".probe-result:not([hidden]) .badge:first-child")
    assert sorted(badges.all_inner_texts()) == ["probe: failed", "probe: passed"]
    # the source changes: the results shown are marked stale
    page.fill("#probe-source", PROBE + "\n# changed\n")
    page.locator(".probe-result .badge.stale").first.wait_for()
    # a probe that fails to run leaves the old results marked stale, with why
    page.fill("#probe-source", "")
    page.click("#probe-run")
    page.wait_for_selector("#probe-status[data-state='error']")
    title = page.locator(".probe-result .badge.stale").first.get_attribute("title")
    assert "the last probe failed" in title


def test_no_probe_form_where_probes_cannot_run(live, open_page) -> None:
    live.seed_runs("demo-01-password-hash")
    page = open_page("alice")
    assignment_id = take_next(page, live)
    assert page.locator("#probe-form").count() == 1
    with live.db() as s:
        s.get(Assignment, assignment_id).state = "submitted"
        s.commit()
    page.reload()
    page.wait_for_selector("#ranking .chip")
    assert page.locator("#probe-form").count() == 0
    assert page.locator("#probe-closed").count() == 1


# --- 8. progress, lease, navigation, the lead's live run ---------------------------------------


def test_progress_lease_countdown_and_navigation(live, open_page) -> None:
    page = open_page("alice")
    page.goto(f"{live.url}/queue")
    assert "0 of 14 done" in page.inner_text("#progress-list")
    assert page.locator("nav.who a", has_text="Projects").count() == 0
    take_next(page, live)
    assert "0 of 14 done" in page.inner_text("#progress")
    lease = page.locator("#lease")
    assert lease.is_visible() and "lease" in lease.inner_text()
    # a lease close to its end and an idle annotator: the page warns; activity renews it
    page.evaluate("() => { const lease = window.reviewPage.store.lease;"
                  " lease.lastInput = 0; lease.set(120); }")
    assert lease.get_attribute("data-state") == "warn"
    assert "Lease ends in 1:5" in lease.inner_text() or "Lease ends in 2:00" in lease.inner_text()
    page.locator("#rationale").fill("activity")
    expect(lease).to_have_attribute("data-state", "ok")
    assert "lease 29:" in lease.inner_text()
    assert page.locator('link[rel="icon"]').count() == 1
    assert page.request.get(live.url + page.get_attribute('link[rel="icon"]', "href")).ok
    lead = open_page("lead1")
    assert lead.locator("nav.who a", has_text="Queue").count() == 0
    assert lead.locator("nav.who a", has_text="Projects").count() == 1


def test_the_lead_task_page_shows_a_queued_run_finish_without_a_reload(live, open_page) -> None:
    results = live.seed_runs("demo-01-password-hash")
    with live.db() as s:  # back to the queue, as after a lead's re-run
        runs = s.scalars(select(TestRun).where(TestRun.candidate_hash.in_(
            select(Candidate.content_hash).where(Candidate.id.in_(list(results)))))).all()
        kept = {r.id: (r.status, r.result) for r in runs}
        for r in runs:
            r.state, r.status, r.result = "queued", None, {}
        s.commit()
    page = open_page("lead1")
    errors = no_js_errors(page)
    page.goto(f"{live.url}/p/demo/t/demo-01-password-hash")
    page.locator(".tests .badge.status-queued").first.wait_for()
    url = page.url
    with live.db() as s:  # the worker finishes them
        for run_id, (status, result) in kept.items():
            run = s.get(TestRun, run_id)
            run.state, run.status, run.result = "done", status, result
        s.commit()
    expect(page.locator(".tests .badge.status-queued")).to_have_count(0, timeout=15_000)
    assert page.url == url
    statuses = {r["status"] for r in results.values()}
    shown = {t.replace(" ", "_") for t in page.locator(".tests .badge").all_inner_texts()}
    assert shown == statuses
    page.locator(".tests .run-details").first.click()
    page.wait_for_selector("#test-details:not([hidden]) .test-list li")
    assert errors == []


# --- 6. accessibility: axe-core -----------------------------------------------------------------


def test_axe_finds_no_serious_violation_on_the_review_queue_login_and_error_pages(
        live, open_page, browser) -> None:
    live.seed_runs("demo-01-password-hash")
    page = open_page("alice")
    page.goto(f"{live.url}/queue")
    found = {"queue": axe_violations(page)}
    take_next(page, live)
    page.locator(".tests .badge[class*='status-']").first.wait_for()
    add_finding(page, "A", 1, 2, category="security", severity="critical", comment="x " * 200)
    page.locator("details.hints").first.evaluate("d => { d.open = true; }")
    page.locator("#probe").evaluate("d => { d.open = true; }")
    # a long finding is clamped with "more", and does not stretch its column
    finding = page.locator("#cand-A li.finding")
    assert finding.locator("button.more").is_visible() and finding.bounding_box()["height"] < 160
    page.locator(".tests .run-details").first.click()
    page.wait_for_selector("#test-details:not([hidden]) .test-list li")
    found["review"] = axe_violations(page)
    page.set_viewport_size({"width": 1024, "height": 768})
    page.locator("body").press("d")
    page.wait_for_selector("#diff-view:not([hidden]) tbody tr")
    found["review at 1024 with the diff"] = axe_violations(page)
    page.goto(f"{live.url}/p/no-such-project/queue")
    found["error"] = axe_violations(page)
    context = browser.new_context()
    try:
        anon = context.new_page()
        anon.goto(f"{live.url}/login")
        found["login"] = axe_violations(anon)
    finally:
        context.close()
    assert {k: v for k, v in found.items() if v} == {}, json.dumps(found, indent=1)


def test_the_lead_reruns_a_candidate_and_sees_it_finish_without_a_reload(live, open_page) -> None:
    results = live.seed_runs("demo-02-user-lookup")
    page = open_page("lead1")
    errors = no_js_errors(page)
    page.goto(f"{live.url}/p/demo/t/demo-02-user-lookup")
    page.locator(".tests .badge").first.wait_for()
    url = page.url
    first = page.locator("button.rerun").first
    first.click()
    expect(page.locator(".rerun-status").first).to_have_text("queued")
    expect(page.locator(".tests .badge.status-queued")).to_have_count(1, timeout=10_000)
    with live.db() as s:  # a worker finishes the new generation of that run
        queued = s.scalars(select(TestRun).where(TestRun.state == "queued")).one()
        done = s.scalars(select(TestRun).where(
            TestRun.dedup_key == queued.dedup_key, TestRun.state == "done")).first()
        queued.state, queued.status, queued.result = "done", done.status, done.result
        s.commit()
    expect(page.locator(".tests .badge.status-queued")).to_have_count(0, timeout=15_000)
    assert page.url == url and len(results) >= 2
    assert errors == []
