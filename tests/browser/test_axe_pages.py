"""axe-core on the pages of leads, labs and admins, filled and empty, in Chromium: no
serious or critical violation (the review, queue, login and error pages are scanned in
test_review_second_pass.py)."""

from __future__ import annotations

from typing import Any

from helpers.axe import axe_violations
from sqlalchemy import select

from harness.models import Project
from harness.simulate import simulate

TASK = "demo-01-password-hash"


def _scan(page: Any, url: str, found: dict[str, Any], name: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state("networkidle")
    for details in page.locator("details").all():  # what is folded is scanned too
        details.evaluate("d => { d.open = true; }")
    violations = axe_violations(page)
    if violations:
        found[name] = violations


def test_axe_finds_no_serious_violation_on_lead_lab_admin_and_account_pages(
        live, open_page) -> None:
    live.seed_runs(TASK)
    live.add_user("lab1", role="lab", project_slugs=["demo"])
    live.add_user("admin1", role="admin")
    # reviews by two simulated annotators (through the review services), so the
    # annotations, agreement, adjudication and dashboard pages have rows to show
    with live.db() as s:
        project = s.scalars(select(Project).where(Project.slug == "demo")).one()
        simulate(s, project, 2, seed=7)
        s.commit()
    found: dict[str, Any] = {}
    lead = open_page("lead1")
    base = f"{live.url}/p/demo"
    for name, path in [
        ("task list", "/"), ("task page", f"/t/{TASK}"),
        ("annotations", f"/t/{TASK}/annotations"), ("adjudicate", f"/t/{TASK}/adjudicate"),
        ("plant gold", f"/t/{TASK}/plant"), ("agreement", "/agreement"),
        ("adjudication queue", "/adjudication"), ("assignments", "/assignments"),
        ("dashboard", "/dashboard"), ("settings", "/settings"), ("import", "/import"),
    ]:
        _scan(lead, base + path, found, name)
    _scan(lead, f"{live.url}/projects/new", found, "new project")
    _scan(lead, f"{live.url}/account/password", found, "password")
    _scan(open_page("lab1"), f"{live.url}/lab/", found, "lab home")
    _scan(open_page("admin1"), f"{live.url}/admin/tokens", found, "admin tokens")
    assert found == {}, found
