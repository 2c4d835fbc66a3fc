"""A password changed in the browser ends the account's other sessions (Chromium): the
other browser is sent to the login page on its next request, this one carries on."""

from __future__ import annotations

import pytest
from helpers import PASSWORD

pytestmark = pytest.mark.browser


def test_changing_the_password_logs_out_the_other_browser(live, open_page) -> None:
    here, elsewhere = open_page("alice"), open_page("alice")
    here.click("a[title='Change password']")
    here.fill('input[name="current"]', PASSWORD)
    here.fill('input[name="password"]', "a new password for alice")
    here.fill('input[name="repeat"]', "a new password for alice")
    here.click("text=Change password >> nth=-1")
    here.locator(".flash-info").wait_for()
    assert "other sessions are logged out" in here.inner_text(".flash-info")
    here.goto(f"{live.url}/queue")
    assert here.url == f"{live.url}/queue"  # this session goes on
    elsewhere.goto(f"{live.url}/queue")
    assert elsewhere.url.startswith(f"{live.url}/login")  # that one is over
    elsewhere.fill('input[name="name"]', "alice")
    elsewhere.fill('input[name="password"]', PASSWORD)
    elsewhere.click('button[type="submit"]')
    assert elsewhere.locator(".flash-error").inner_text() == "Unknown user name or wrong password."
    assert live.dialogs == []
