"""The review page when things go wrong in a long shift: a session ended elsewhere while
typing, a submit refused for missing answers. No typed work is lost, and the page says
what is wrong where the annotator is working."""

from __future__ import annotations

import pytest
from helpers import PASSWORD, no_js_errors, take_next, wait_saved

from harness.models import Assignment

pytestmark = pytest.mark.browser


def test_changes_refused_after_a_logout_elsewhere_come_back_after_the_reload(live, open_page) -> None:
    """Logged out in another tab, the page's saves are refused (401, then a CSRF 400 once
    logged in again) and the page asks for a reload: the reloaded page holds the typed
    changes, exactly as typed, and saves them, instead of showing the last saved draft."""
    page = open_page("alice")
    errors = no_js_errors(page)
    assignment_id = take_next(page, live)
    page.fill("#rationale", "saved before the logout")
    wait_saved(page)
    other = page.context.new_page()
    other.goto(f"{live.url}/queue")
    other.click('form[action$="/logout"] button')
    other.wait_for_url("**/login**")
    typed = "typed after the logout: twenty minutes of reasoning about candidate B"
    page.fill("#rationale", typed)
    page.wait_for_selector('#save-status[data-state="error"]')
    assert "Draft saved" not in page.inner_text("#save-status")
    other.fill('input[name="name"]', "alice")
    other.fill('input[name="password"]', PASSWORD)
    other.click('button[type="submit"]')
    other.wait_for_url(lambda url: "/login" not in url)
    page.fill("#rationale", typed + ".")  # the page's next save: refused, its token is old
    page.wait_for_selector('#save-status:has-text("reload the page")')
    page.reload()
    page.wait_for_selector("#ranking .chip")
    assert page.input_value("#rationale") == typed + "."
    assert page.locator("#restore").is_hidden()
    wait_saved(page)
    with live.db() as s:
        assert s.get(Assignment, assignment_id).draft["rationale"] == typed + "."
    # once stored, nothing is offered again
    page.reload()
    page.wait_for_selector("#ranking .chip")
    assert page.locator("#restore").is_hidden()
    assert errors == []


def test_a_refused_submit_takes_the_keyboard_to_the_problem_and_fixed_errors_go(
        live, open_page) -> None:
    """Submitted from the keyboard with answers missing: the focus lands on the first field
    to fix (not on the page's body), and each error leaves the list and its field loses
    its mark as soon as that field is changed."""
    page = open_page("alice")
    errors = no_js_errors(page)
    take_next(page, live)
    page.fill("#rationale", "too short")
    page.focus("#submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#errors li")
    focused = page.evaluate("document.activeElement.dataset.field || document.activeElement.id")
    first_invalid = page.evaluate("document.querySelector('#annotation .invalid').dataset.field")
    assert focused == first_invalid and focused.startswith("scores.")
    assert "at least 20 characters" in page.inner_text("#errors")
    # keyboard: the focused score is answered, then the next one
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.value") != ""
    assert page.locator(f'#errors li[data-field="{focused}"]').count() == 0
    assert page.locator(f'select[data-field="{focused}"].invalid').count() == 0
    page.fill("#rationale", "A long enough rationale for the ranking below.")
    assert "at least 20 characters" not in page.inner_text("#errors")
    assert page.locator("#rationale.invalid").count() == 0
    page.check('input[name="confidence"][value="3"]')
    page.click("#keep-order")
    assert "rank the candidates" not in page.inner_text("#errors")
    assert "say how confident" not in page.inner_text("#errors")
    for select_ in page.locator("select.score").all():
        select_.select_option("3")
    assert page.locator("#errors li").count() == 0
    assert page.locator("#annotation .invalid").count() == 0
    wait_saved(page)
    assert errors == []


def test_back_to_the_review_page_shows_the_newest_draft_and_saves(live, open_page) -> None:
    """Leaving the review page by a link and coming back with the browser's Back button:
    the page is the server's, not an earlier copy from the browser's cache (whose saves
    were refused as if another tab had saved), and the browser does not put back what
    the fields held before over what another tab saved meanwhile."""
    page = open_page("alice")
    errors = no_js_errors(page)
    assignment_id = take_next(page, live)
    page.fill("#rationale", "written just before leaving")
    page.click("nav.crumbs a")  # within the autosave delay: the unload's beacon saves it
    page.wait_for_url("**/queue")
    page.go_back()
    page.wait_for_selector("#ranking .chip")
    assert page.input_value("#rationale") == "written just before leaving"
    page.fill("#rationale", "written after coming back")
    page.select_option("select.score >> nth=0", "3")
    wait_saved(page)
    assert page.locator("#stale-banner").is_hidden()
    with live.db() as s:
        assert s.get(Assignment, assignment_id).draft["rationale"] == "written after coming back"
    # away again; another tab changes the rationale and the score; Back shows theirs
    page.click("nav.crumbs a")
    page.wait_for_url("**/queue")
    other = page.context.new_page()
    other.goto(f"{live.url}/p/demo/a/{assignment_id}")
    other.wait_for_selector("#ranking .chip")
    other.fill("#rationale", "newer, from the other tab")
    other.select_option("select.score >> nth=0", "1")
    wait_saved(other)
    other.close()
    page.go_back()
    page.wait_for_selector("#ranking .chip")
    page.wait_for_load_state("load")
    assert page.input_value("#rationale") == "newer, from the other tab"
    assert page.input_value("select.score >> nth=0") == "1"
    assert errors == []


def focused(page) -> str:
    """What has the keyboard: a finding's button as 'Edit <finding id>', else the tag."""
    return page.evaluate("""() => {
        const a = document.activeElement;
        const li = a.closest('li.finding');
        return li ? `${a.textContent} ${li.dataset.finding}` : a.tagName.toLowerCase(); }""")


def test_keyboard_keeps_its_place_when_a_finding_is_edited_cancelled_or_deleted(
        live, open_page) -> None:
    """Findings added, edited and deleted with the keyboard only: after a save, an Escape
    or a Delete the focus is on the finding (or the next one, or the code), never dropped
    on the page's body."""
    page = open_page("alice")
    errors = no_js_errors(page)
    assignment_id = take_next(page, live)
    page.keyboard.press("1")  # the code of candidate A
    for comment, down in (("first", 1), ("second", 3)):
        for _ in range(down):
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")  # the form, on the category
        page.keyboard.press("Tab")
        page.keyboard.press("ArrowDown")  # severity: the first one
        page.keyboard.press("Tab")
        page.keyboard.type(comment)
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")  # Save finding
        assert page.evaluate("document.activeElement.classList.contains('code-scroll')")
    wait_saved(page)
    with live.db() as s:
        ids = [f["id"] for f in s.get(Assignment, assignment_id).draft["findings"]]
    assert len(ids) == 2
    first, second = ids
    page.locator(f'li.finding[data-finding="{first}"] button', has_text="Edit").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")  # cancelled: back on the finding
    assert focused(page) == f"Edit {first}"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("End")
    page.keyboard.type(", edited")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # saved: back on the finding, drawn anew
    assert focused(page) == f"Edit {first}"
    assert "first, edited" in page.inner_text(f'li.finding[data-finding="{first}"]')
    page.keyboard.press("Tab")  # its Delete button
    page.keyboard.press("Enter")  # deleted: on the next finding
    assert focused(page) == f"Edit {second}"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the last one deleted: back in the code
    assert page.evaluate("document.activeElement.classList.contains('code-scroll')")
    assert page.locator("#cand-A li.finding").count() == 0
    wait_saved(page)
    with live.db() as s:
        assert s.get(Assignment, assignment_id).draft["findings"] == []
    assert errors == []


def test_offline_for_a_while_nothing_is_claimed_saved_and_nothing_throws(live, open_page) -> None:
    """The browser offline (a dropped connection): the autosave says it is not saved and
    retries, the diff says it could not load (no uncaught rejection), and once back
    online the retry stores the changes."""
    page = open_page("alice")
    errors = no_js_errors(page)
    assignment_id = take_next(page, live)
    page.context.set_offline(True)
    page.fill("#rationale", "typed while offline")
    page.wait_for_selector('#save-status[data-state="error"]')
    assert "did not answer" in page.inner_text("#save-status")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("d")
    page.wait_for_selector("#diff-view:not([hidden])")
    assert page.inner_text("#diff-summary") == "could not load the diff"
    page.context.set_offline(False)
    page.wait_for_selector('#save-status[data-state="saved"]', timeout=15_000)
    with live.db() as s:
        assert s.get(Assignment, assignment_id).draft["rationale"] == "typed while offline"
    assert errors == []


def test_back_to_a_skipped_task_says_so_and_offers_nothing_after_a_reload(
        live, open_page) -> None:
    """Skipped, then Back: the page says the task was skipped (not a review to go on
    with), and what is typed there, refused, is not offered back after a reload."""
    page = open_page("alice")
    errors = no_js_errors(page)
    take_next(page, live)
    page.fill("#rationale", "some work")
    wait_saved(page)
    page.click("details.skip summary")
    page.fill('input[name="reason"]', "not my area")
    page.click("details.skip button[type=submit]")
    page.wait_for_url("**/queue")
    page.go_back()
    page.wait_for_selector("#ranking .chip")
    assert "You skipped this task" in page.inner_text("#skipped-note")
    page.fill("#rationale", "some work, more")
    page.wait_for_selector('#save-status[data-state="error"]')
    assert "skipped" in page.inner_text("#save-status")
    page.reload()
    page.wait_for_selector("#ranking .chip")
    assert page.locator("#restore").is_hidden()
    assert errors == []


def test_a_reload_right_after_typing_shows_the_typing_and_saves_it(live, open_page) -> None:
    """Reloaded within the autosave delay (here: refused while offline, reloaded as soon
    as the connection is back): the leaving page's beacon may reach the server after the
    reloaded page was rendered. The reloaded page still shows what was typed, offers
    nothing to restore, and its own saves are not refused as another tab's."""
    page = open_page("alice")
    errors = no_js_errors(page)
    assignment_id = take_next(page, live)
    page.context.set_offline(True)
    page.fill("#rationale", "typed while offline")
    page.wait_for_selector('#save-status[data-state="error"]')
    page.context.set_offline(False)
    page.reload()  # before the retry
    page.wait_for_selector("#ranking .chip")
    assert page.input_value("#rationale") == "typed while offline"
    assert page.locator("#restore").is_hidden()
    # stored either by the leaving page's beacon (then this page has nothing left to
    # save) or by this page's first save: whichever came first, the draft holds it
    stored = ""
    for _ in range(75):
        with live.db() as s:
            stored = (s.get(Assignment, assignment_id).draft or {}).get("rationale", "")
        if stored == "typed while offline":
            break
        page.wait_for_timeout(200)
    assert stored == "typed while offline"
    # settled: this page's own save answered ("saved"), or nothing was handed over to it
    # ("idle"; a page that takes unsaved state over says "dirty" from the start)
    page.wait_for_selector('#save-status[data-state="saved"], #save-status[data-state="idle"]')
    # and without the outage: typed, reloaded at once, typed again
    page.fill("#rationale", "typed, then reloaded at once")
    page.reload()
    page.wait_for_selector("#ranking .chip")
    assert page.input_value("#rationale") == "typed, then reloaded at once"
    page.fill("#rationale", "typed after the reload")
    wait_saved(page)
    assert page.locator("#stale-banner").is_hidden()
    with live.db() as s:
        assert s.get(Assignment, assignment_id).draft["rationale"] == "typed after the reload"
    assert errors == []
