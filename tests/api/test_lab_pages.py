"""The lab's pages in the browser's terms: home, downloads, tokens; the admin's token page."""

from __future__ import annotations

import re

import pytest
from helpers import csrf_from
from sqlalchemy import select

from harness.models import ApiToken


def test_lab_home_lists_projects_exports_and_tokens(client, login, lab) -> None:
    login("lab1")
    home = client.get("/", follow_redirects=True)
    page = home.get_data(as_text=True)
    assert home.request.path == "/lab/"
    assert "Project alpha" in page and "Project beta" in page
    links = set(re.findall(r'href="(/[^"]*)"', page))
    assert "/p/alpha/export/preferences" in links and "/p/alpha/export/sarif" in links
    for link in links:
        resp = client.get(link)
        status = resp.status_code
        resp.close()
        assert status != 403, link
    assert f'{lab.token_id}</td>' in page and "Revoke" in page


def test_downloads_for_members_only(client, login, lab, make_user, make_project) -> None:
    make_project("gamma")
    login("lab1")
    resp = client.get("/p/alpha/export/battles")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    assert resp.get_data(as_text=True).count("\n") > 0
    assert client.get("/p/gamma/export/battles").status_code == 404
    parquet = client.get("/p/alpha/export/parquet?table=ratings")
    assert parquet.status_code == 200 and parquet.get_data()[:4] == b"PAR1"


def test_lead_gets_the_same_downloads(client, login, lab, make_user) -> None:
    make_user("lead1", role="lead", projects=["alpha"])
    login("lead1")
    page = client.get("/p/alpha/").get_data(as_text=True)
    assert "/p/alpha/export/jsonl" in page
    assert client.get("/p/alpha/export/jsonl").status_code == 200


def test_admin_creates_a_token_shown_once(client, login, lab, make_user, db) -> None:
    make_user("root", role="admin")
    login("root")
    page = client.get("/admin/tokens").get_data(as_text=True)
    resp = client.post("/admin/tokens", data={"csrf_token": csrf_from(page), "user": "lab1",
                                              "project": ["alpha", "beta"],
                                              "expires_days": "30"})
    assert resp.status_code == 200
    secret = re.search(r'id="new-token">(rh_[^<]+)<', resp.get_data(as_text=True)).group(1)
    again = client.get("/admin/tokens").get_data(as_text=True)
    assert secret not in again
    token = db.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    assert token.expires_at is not None and {p.slug for p in token.projects} == {"alpha", "beta"}
    api = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {secret}"})
    assert [p["slug"] for p in api.get_json()["items"]] == ["alpha", "beta"]


def test_lab_user_cannot_reach_admin_page_or_revoke_others(client, login, lab, make_user,
                                                          db) -> None:
    make_user("lab2", role="lab", projects=["alpha"])
    login("lab2")
    assert client.get("/admin/tokens").status_code == 403
    page = client.get("/lab/").get_data(as_text=True)
    resp = client.post(f"/lab/tokens/{lab.token_id}/revoke",
                       data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 404
    db.expire_all()
    assert db.get(ApiToken, lab.token_id).revoked_at is None


@pytest.mark.parametrize("days", ["\u00b3", "9" * 5000, "-5", "0"])
def test_a_forged_expiry_is_a_named_error_and_makes_no_token(client, login, lab, make_user,
                                                             db, days) -> None:
    make_user("root", role="admin")
    login("root")
    before = db.query(ApiToken).count()
    page = client.get("/admin/tokens").get_data(as_text=True)
    resp = client.post("/admin/tokens", data={"csrf_token": csrf_from(page), "user": "lab1",
                                              "project": ["alpha"], "expires_days": days})
    assert resp.status_code == 400
    assert "expiry: 1 to 3650 days" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.query(ApiToken).count() == before
