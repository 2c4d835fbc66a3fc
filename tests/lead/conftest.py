"""The browser fixtures (a live server, Debian's Chromium) for the lead's browser tests."""

from browser.conftest import browser, demo_analyses, live, open_page  # noqa: F401
