"""A lab user logs in, lands on their home page and downloads an export."""

from __future__ import annotations

import json

import pytest
from helpers import PASSWORD

from harness import accounts, simulate
from harness.models import Project

pytestmark = pytest.mark.browser


def test_lab_user_downloads_preferences(browser, live) -> None:
    live.add_user("lab1", "lab", ["demo"])
    with live.sessions() as s:
        project = s.query(Project).filter_by(slug="demo").one()
        simulate.simulate(s, project, 2, seed=3)
        user = accounts.project_by_slug(s, "demo")
        from harness.models import User

        lab = s.query(User).filter_by(name="lab1").one()
        token, _ = accounts.create_token(s, lab, [user])
        s.commit()
        token_id = token.id
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live.url}/login")
    page.fill('input[name="name"]', "lab1")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{live.url}/lab/")
    hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.href)")
    for href in hrefs:  # no link on the lab's page answers 403
        resp = page.request.get(href)
        assert resp.status != 403, href
    with page.expect_download() as info:
        page.click("text=preferences >> nth=0")
    download = info.value
    assert download.suggested_filename == "demo-preferences.jsonl"
    lines = download.path().read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert {"prompt", "chosen", "rejected", "margin"} <= set(first)
    page.click("button:has-text('Revoke')")
    page.wait_for_selector("text=revoked")
    with live.sessions() as s:
        from harness.models import ApiToken

        assert s.get(ApiToken, token_id).revoked_at is not None
    context.close()
