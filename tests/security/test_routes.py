"""Every route of the URL map, checked for login, role, object access and CSRF.

The table below says who may use each (endpoint, method). The tests walk `app.url_map`,
so a new route fails `test_every_route_is_in_the_table` until it is added here with
the users it is for: no route goes unchecked. The checks are about the security model
(DESIGN.md), not SQL, so they run on SQLite only.

The site: project `s` (tasks t0, t1) with its lead `lead`, annotators `ann` (holding an
assignment on t0) and `ann2` (holding none), a `lab` member; an annotator `out` of
another project `o`; an `admin`.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, csrf_from, write_jsonl
from helpers.runs import add_tasks
from sqlalchemy import select

from harness import assignments
from harness.models import Project, User

pytestmark = pytest.mark.sqlite_only

OK = "ok"  # anything but a refusal: not 401/403/404, not a redirect to the login page
LOGIN = "login"  # anonymous: a redirect to the login page (401 for JSON)
USERS = ("ann", "ann2", "lead", "out", "lab", "admin")

ALL = dict.fromkeys(USERS, OK)
ANNOTATORS_ONLY = {"ann": OK, "ann2": OK, "out": OK, "lead": 403, "lab": 403, "admin": 403}
LEADS = {"lead": OK, "admin": OK, "ann": 403, "ann2": 403, "out": 403, "lab": 403}
# the assignment's own annotator; everyone else is told nothing exists (404), and
# non-annotators are refused the write first (403)
OWNER_READ = {"ann": OK, "ann2": 404, "out": 404, "lead": 404, "lab": 404, "admin": 404}
OWNER_WRITE = {"ann": OK, "ann2": 404, "out": 404, "lead": 403, "lab": 403, "admin": 403}

LAB = {"lab": OK, "admin": OK, "ann": 403, "ann2": 403, "out": 403, "lead": 403}
ADMIN = {"admin": OK, "ann": 403, "ann2": 403, "out": 403, "lead": 403, "lab": 403}
# the token API: a browser session is no credential there (401 without a bearer token);
# token scope is checked in tests/api/
TOKEN_API = dict.fromkeys(USERS, LOGIN)

PUBLIC = {"static", "auth.login", "api.openapi"}
# (endpoint, method) -> user -> expected. Order matters only at the end: skip, then logout.
ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    ("static", "GET"): ALL,
    ("auth.login", "GET"): ALL,
    ("auth.login", "POST"): ALL,
    ("auth.change_password", "GET"): ALL,
    ("auth.change_password", "POST"): ALL,
    ("home.index", "GET"): ALL,
    ("queue.queue_page", "GET"): ALL,
    ("queue.queue_page", "POST"): ANNOTATORS_ONLY,
    ("queue.project_queue", "GET"): ALL | {"out": 404},
    ("queue.project_queue", "POST"): ANNOTATORS_ONLY | {"out": 404},
    ("lead.project_tasks", "GET"): LEADS,
    ("lead.task_page", "GET"): LEADS,
    ("lead.assignments_page", "GET"): LEADS,
    ("runs.rerun", "POST"): LEADS,
    ("runs.task_runs", "GET"): LEADS | {"ann": OK, "ann2": 404, "out": 404, "lab": 404},
    ("review.assignment_page", "GET"): OWNER_READ,
    ("review.diff", "GET"): OWNER_READ,
    ("runs.probe_list", "GET"): OWNER_READ,
    ("review.save_draft", "POST"): OWNER_WRITE,
    ("review.submit", "POST"): OWNER_WRITE,
    ("runs.probe", "POST"): OWNER_WRITE,
    ("review.skip", "POST"): OWNER_WRITE,
    # the lead's pages (web/lead/): user 999999 and import token "none" do not exist
    ("lead.annotations_page", "GET"): LEADS,
    ("lead.agreement_page", "GET"): LEADS,
    ("lead.adjudication_queue", "GET"): LEADS,
    ("lead.adjudicate", "GET"): LEADS,
    ("lead.adjudicate", "POST"): LEADS,
    ("lead.dashboard_page", "GET"): LEADS,
    ("lead.dashboard_csv", "GET"): LEADS,
    ("lead.new_project", "GET"): LEADS,
    ("lead.new_project", "POST"): LEADS,
    ("lead.import_page", "GET"): LEADS,
    ("lead.import_page", "POST"): LEADS,
    ("lead.import_job", "GET"): LEADS | {"lead": 404, "admin": 404},
    ("lead.project_settings", "GET"): LEADS,
    ("lead.project_settings", "POST"): LEADS,
    ("lead.add_member", "POST"): LEADS,
    ("lead.remove_member", "POST"): LEADS | {"lead": 404, "admin": 404},
    ("lead.lift_member_pause", "POST"): LEADS | {"lead": 404, "admin": 404},
    ("lead.new_rubric_version", "POST"): LEADS,
    ("lead.plant_gold", "GET"): LEADS,
    ("lead.plant_gold", "POST"): LEADS,
    ("qualification.assessment_page", "GET"): ALL | {"out": 404},
    # the lab's pages (web/lab.py): token 999999 does not exist
    ("lab.home", "GET"): LAB,
    ("lab.revoke", "POST"): LAB | {"lab": 404, "admin": 404},
    ("lab.export", "GET"): LEADS | {"lab": OK},
    ("lab.admin_tokens", "GET"): ADMIN,
    ("lab.admin_tokens", "POST"): ADMIN,
    ("api.openapi", "GET"): ALL,
    ("api.projects", "GET"): TOKEN_API,
    ("api.project", "GET"): TOKEN_API,
    ("api.tasks", "GET"): TOKEN_API,
    ("api.task", "GET"): TOKEN_API,
    ("api.annotations", "GET"): TOKEN_API,
    ("api.adjudications", "GET"): TOKEN_API,
    ("api.export_list", "GET"): TOKEN_API,
    ("api.export", "GET"): TOKEN_API,
    ("auth.logout", "POST"): dict.fromkeys(USERS, LOGIN),  # where logging out lands
}
QUERIES = {"review.diff": "?left={left}&right={right}"}  # what a route needs beyond its path
NOT_CHECKED_BY_ROLE = {("auth.login", "POST")}  # logging in; its CSRF is checked below


@pytest.fixture
def site(db, make_project, make_user, import_file, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The site above; returns the values for the URL map's arguments."""
    for slug in ("s", "o"):
        project = make_project(slug)
        import_file(project, write_jsonl(tmp_path / f"{slug}.jsonl", add_tasks(2)))
    make_user("lead", role="lead", projects=["s"])
    make_user("ann", projects=["s"])
    make_user("ann2", projects=["s"])
    make_user("lab", role="lab", projects=["s"])
    make_user("out", projects=["o"])
    make_user("admin", role="admin")
    ann = db.scalars(select(User).where(User.name == "ann")).one()
    project = db.scalars(select(Project).where(Project.slug == "s")).one()
    claim = assignments.claim_next(db, ann.id, project)
    assert claim.assignment is not None
    db.commit()
    task = claim.assignment.task
    left, right = (str(c.id) for c in task.candidates[:2])
    return {"slug": "s", "assignment_id": str(claim.assignment.id),
            "external_id": task.external_id, "filename": "app.css", "left": left, "right": right,
            "user_id": "999999", "token": "none", "name": "annotators", "token_id": "999999",
            "fmt": "jsonl", "task_id": task.external_id}


def rules(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every route, in the table's order."""
    found = {(r.endpoint, m): r for r in app.url_map.iter_rules()
             for m in sorted(r.methods - {"HEAD", "OPTIONS"})}
    order = list(ROUTES)
    return [(e, m, found[(e, m)].rule) for e, m in sorted(
        found, key=lambda k: order.index(k) if k in order else -1)]


def url(endpoint: str, rule: str, values: dict[str, str]) -> str:
    out = rule + QUERIES.get(endpoint, "").format(**values)
    for name, value in values.items():
        for conv in ("", "int:", "path:"):
            out = out.replace(f"<{conv}{name}>", value)
    assert "<" not in out, f"{rule}: give the site a value for this argument"
    return out


def logged_in(app: Flask, name: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    resp = client.post("/login", data={"name": name, "password": PASSWORD,
                                       "csrf_token": csrf_from(client.get("/login").get_data(as_text=True))})
    assert resp.status_code == 302, (name, resp.status_code)
    return client, csrf_from(client.get("/", follow_redirects=True).get_data(as_text=True))


def send(client: FlaskClient, method: str, path: str, token: str | None,
         *, json_accept: bool = False) -> Any:
    headers = {"Accept": "application/json"} if json_accept else {}
    if method == "GET":
        return client.get(path, headers=headers)
    if token:
        headers["X-CSRFToken"] = token
    return client.open(path, method=method, json={}, headers=headers)


def outcome(resp: Any) -> Any:
    resp.close()  # a static file's response holds the file open
    location = resp.headers.get("Location", "")
    if resp.status_code == 401 or (resp.status_code in (301, 302, 303) and "/login" in location):
        return LOGIN
    return resp.status_code if resp.status_code in (403, 404) else OK


def test_every_route_is_in_the_table(app: Flask) -> None:
    routes = {(e, m) for e, m, _ in rules(app)}
    assert routes - set(ROUTES) == set(), "new routes: add them to ROUTES with who may use them"
    assert set(ROUTES) - routes == set(), "ROUTES lists routes that no longer exist"


def test_every_route_needs_a_login_unless_public(app: Flask, site: dict[str, str]) -> None:
    client = app.test_client()
    wrong = []
    for endpoint, method, rule in rules(app):
        path = url(endpoint, rule, site)
        for json_accept in (False, True):
            got = outcome(send(client, method, path, None, json_accept=json_accept))
            want = ROUTES[(endpoint, method)]["ann"] if endpoint in PUBLIC else LOGIN
            if got != want:
                wrong.append((endpoint, method, "json" if json_accept else "html", got, want))
    assert wrong == [], "\n".join(map(str, wrong))


def test_every_route_checks_role_and_object_access(app: Flask, site: dict[str, str]) -> None:
    wrong = []
    for name in USERS:
        client, token = logged_in(app, name)
        for endpoint, method, rule in rules(app):
            if (endpoint, method) in NOT_CHECKED_BY_ROLE:
                continue
            got = outcome(send(client, method, url(endpoint, rule, site), token))
            want = ROUTES[(endpoint, method)][name]
            if got != want:
                wrong.append((name, endpoint, method, got, want))
    assert wrong == [], "\n".join(map(str, wrong))


def test_every_browser_write_needs_its_csrf_token(app: Flask, site: dict[str, str]) -> None:
    """Each POST, by a user allowed to make it, without the token (form or JSON): 400."""
    wrong = []
    anonymous = app.test_client()
    clients = {name: logged_in(app, name)[0] for name in ("ann", "lead")}
    for endpoint, method, rule in rules(app):
        if method == "GET":
            continue
        allowed = ROUTES.get((endpoint, method), {})
        client = (anonymous if endpoint in PUBLIC
                  else clients["ann"] if allowed.get("ann") == OK else clients["lead"])
        path = url(endpoint, rule, site)
        for kind, resp in (("form", client.open(path, method=method, data={"x": "1"})),
                           ("json", client.open(path, method=method, json={}))):
            resp.close()
            if resp.status_code != 400:
                wrong.append((endpoint, kind, resp.status_code))
    assert wrong == [], "\n".join(map(str, wrong))


SCRIPT_UNSAFE = ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:")
STRICT_REFERRERS = {"no-referrer", "same-origin", "strict-origin",
                    "strict-origin-when-cross-origin"}


def header_problems(resp: Any) -> list[str]:
    """What is missing or loose in one answer's security headers."""
    problems = []
    csp = {d.split()[0]: d.split()[1:] for d in
           (part.strip() for part in resp.headers.get("Content-Security-Policy", "").split(";"))
           if d}
    scripts = csp.get("script-src", csp.get("default-src"))
    if scripts is None:
        problems.append("no script-src or default-src")
    elif any(v in SCRIPT_UNSAFE for v in scripts):
        problems.append(f"loose script-src {scripts}")
    if csp.get("object-src") != ["'none'"]:
        problems.append(f"object-src {csp.get('object-src')}")
    if csp.get("base-uri") not in (["'none'"], ["'self'"]):
        problems.append(f"base-uri {csp.get('base-uri')}")
    if csp.get("frame-ancestors") != ["'none'"] and resp.headers.get("X-Frame-Options") != "DENY":
        problems.append("framing allowed")
    if resp.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no nosniff")
    if resp.headers.get("Referrer-Policy") not in STRICT_REFERRERS:
        problems.append(f"Referrer-Policy {resp.headers.get('Referrer-Policy')}")
    return problems


def test_every_answer_has_a_strict_csp_and_the_security_headers(
        app: Flask, site: dict[str, str]) -> None:
    """Every GET route of the URL map, as the anonymous visitor and as each role, plus
    error answers (404, a refused POST): the CSP forbids inline and eval'd script, and
    nosniff, framing and referrer headers are there."""
    wrong = []
    clients = [("anonymous", app.test_client())]
    clients += [(name, logged_in(app, name)[0]) for name in ("ann", "lead", "lab", "admin")]
    for name, client in clients:
        paths = [url(endpoint, rule, site) for endpoint, method, rule in rules(app)
                 if method == "GET"]
        paths += ["/no/such/page", "/p/s/t/nope"]
        for path in paths:
            for json_accept in (False, True):
                resp = send(client, "GET", path, None, json_accept=json_accept)
                resp.close()
                for problem in header_problems(resp):
                    wrong.append((name, path, resp.status_code, problem))
        resp = client.post("/logout", data={})  # refused: no CSRF token
        wrong += [(name, "POST /logout", resp.status_code, p) for p in header_problems(resp)]
    assert len(paths) > 30  # the whole URL map's pages, not a sample
    assert wrong == [], "\n".join(map(str, wrong))
