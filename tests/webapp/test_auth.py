"""Deny by default: generated from the URL map, so a new route is covered without a new test."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from helpers import csrf_from
from werkzeug.routing import IntegerConverter

from web.extensions import app_engine

PUBLIC = {"auth.login", "static", "api.openapi"}


def sample_url(rule) -> str:  # type: ignore[no-untyped-def]
    """A concrete URL for a rule, with a placeholder for each argument."""
    values = {arg: ("1" if isinstance(conv, IntegerConverter) else "x")
              for arg, conv in rule._converters.items()}
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: values.get(m.group(1), "x"), rule.rule)


def all_rules(app: Flask):  # type: ignore[no-untyped-def]
    return [r for r in app.url_map.iter_rules() if r.endpoint not in PUBLIC]


def test_there_are_routes_to_check(app: Flask) -> None:
    assert len(all_rules(app)) >= 4


def test_every_non_public_route_needs_a_login(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule in all_rules(app):
        url = sample_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.open(url, method=method)
            assert resp.status_code in (302, 401), (method, url, resp.status_code)
            if resp.status_code == 302:
                assert "/login" in resp.headers["Location"], (method, url)
            checked += 1
    assert checked >= 4


def test_login_page_is_public(client) -> None:
    assert client.get("/login").status_code == 200


def test_form_post_without_csrf_token_is_refused(client, make_user) -> None:
    make_user("ann")
    resp = client.post("/login", data={"name": "ann", "password": "correct horse battery"})
    assert resp.status_code == 400
    assert client.get("/").status_code == 302  # still logged out


def test_login_with_csrf_token_works_and_logout_needs_csrf(client, make_user, login) -> None:
    make_user("ann")
    login("ann")
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 400  # no token
    page = client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_from(page)}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(client, make_user) -> None:
    make_user("ann")
    page = client.get("/login").get_data(as_text=True)
    resp = client.post("/login", data={"name": "ann", "password": "nope-nope", "csrf_token": csrf_from(page)})
    assert resp.status_code == 401
    assert "wrong password" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_login_never_redirects_off_site(client, make_user, target: str) -> None:
    make_user("ann")
    page = client.get("/login").get_data(as_text=True)
    resp = client.post(f"/login?next={target}", data={"name": "ann", "password": "correct horse battery",
                                                        "csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"


def test_projects_of_other_people_are_404(client, make_project, make_user, login) -> None:
    make_project("secret")
    make_project("mine")
    make_user("ann", role="lead", projects=["mine"])
    login("ann")
    assert client.get("/p/mine/").status_code == 200
    assert client.get("/p/secret/").status_code == 404
    assert client.get("/p/secret/queue").status_code == 404
    assert b"secret" not in client.get("/").data


def test_csp_is_strict(client) -> None:
    csp = client.get("/login").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_project_list_counts_with_a_fixed_number_of_queries(app, client, db, make_project, make_user, import_file, login, tmp_path) -> None:
    """The project list costs the same few queries for 1 project or 6 (no N+1)."""
    from helpers import task_line, write_jsonl
    from sqlalchemy import event

    user = make_user("boss", role="admin")
    import_file(make_project("first"), write_jsonl(tmp_path / "t.jsonl", [task_line("a"), task_line("b")]))
    login(user.name)

    def queries_for_index() -> int:
        seen: list[str] = []
        engine = app_engine(app)
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            html = client.get("/").get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert "Project first" in html
        return len(seen)

    one = queries_for_index()
    for i in range(5):
        make_project(f"more{i}")
    assert queries_for_index() == one
    html = client.get("/").get_data(as_text=True)
    assert "<td>2</td>\n      <td>4</td>" in html  # first: 2 tasks, 4 candidates
