"""The token API: scope, revocation and expiry, cursors, the OpenAPI document."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from harness import accounts, annotate, assignments, simulate
from harness.models import ApiToken, Project, Task, User, utcnow


def _object_urls(app, slug: str, task_id: str) -> list[str]:
    """Every /api/v1 route that names a project, filled in for `slug` (from the URL map)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or "slug" not in rule.arguments:
            continue
        values = {"slug": slug, "task_id": task_id}
        if "fmt" in rule.arguments:
            from harness import exports

            for fmt in exports.FORMATS:
                urls.append(re.sub(r"<[^>]*fmt>", fmt, rule.rule).replace("<slug>", slug))
            continue
        url = rule.rule
        for name, value in values.items():
            url = re.sub(rf"<(?:[^:>]+:)?{name}>", value, url)
        assert "<" not in url, url
        urls.append(url)
    return urls


def test_a_token_for_a_sees_nothing_of_b(app, client, lab, db) -> None:
    task_b = db.scalars(select(Task.external_id).where(Task.project_id == lab.b.id)).first()
    urls_b = _object_urls(app, "beta", task_b)
    assert len(urls_b) >= 6 and any("/exports/" in u for u in urls_b)
    for url in urls_b:
        resp = client.get(url, headers=lab.auth())
        assert resp.status_code == 404, url
        assert resp.get_json()["error"]["code"] == "not_found"
        assert "beta" not in resp.get_data(as_text=True).replace(url, "")
    listed = client.get("/api/v1/projects", headers=lab.auth()).get_json()
    assert [p["slug"] for p in listed["items"]] == ["alpha"]
    task_a = db.scalars(select(Task.external_id).where(Task.project_id == lab.a.id)).first()
    for url in _object_urls(app, "alpha", task_a):
        assert client.get(url, headers=lab.auth()).status_code == 200, url
    annotations = client.get("/api/v1/projects/alpha/annotations?limit=500",
                             headers=lab.auth()).get_json()["items"]
    b_tasks = set(db.scalars(select(Task.external_id).where(Task.project_id == lab.b.id)))
    assert annotations and all(a["task_id"] in b_tasks for a in annotations)  # same demo ids
    a_count = db.scalar(select(Project).where(Project.slug == "alpha"))
    assert a_count is not None


def test_no_token_revoked_or_expired_is_401(client, lab, db) -> None:
    url = "/api/v1/projects"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Basic x"}).status_code == 401
    assert client.get(url, headers=lab.auth("rh_nonsense")).status_code == 401
    ok = client.get(url, headers=lab.auth())
    assert ok.status_code == 200
    db.expire_all()
    assert db.get(ApiToken, lab.token_id).last_used_at is not None
    accounts.revoke_token(db, lab.token_id)
    db.commit()
    resp = client.get(url, headers=lab.auth())
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
    user = db.scalars(select(User).where(User.name == "lab1")).one()
    token, secret = accounts.create_token(db, user, [lab.a], expires_at=utcnow() +
                                          timedelta(seconds=30))
    db.commit()
    assert client.get(url, headers=lab.auth(secret)).status_code == 200
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    assert client.get(url, headers=lab.auth(secret)).status_code == 401


def test_a_token_follows_its_users_membership_and_role(client, lab, db) -> None:
    """A lab user taken off a project loses it through every token made before (the
    lead's "remove member" is the only revocation a lead has); a user who is no longer
    a lab user loses every token."""
    from harness import projects

    url = "/api/v1/projects/alpha"
    assert client.get(url, headers=lab.auth()).status_code == 200
    user = db.scalars(select(User).where(User.name == "lab1")).one()
    projects.remove_member(db, lab.a, user.id, by=None)
    db.commit()
    assert client.get(url, headers=lab.auth()).status_code == 404
    assert client.get(url + "/exports/jsonl", headers=lab.auth()).status_code == 404
    assert client.get("/api/v1/projects", headers=lab.auth()).get_json()["items"] == []

    accounts.add_member(db, lab.a, user)
    db.commit()
    assert client.get(url, headers=lab.auth()).status_code == 200
    user.role = "annotator"
    db.commit()
    assert client.get(url, headers=lab.auth()).status_code == 401


def test_api_is_csrf_exempt_and_needs_no_login(client, lab) -> None:
    resp = client.get("/api/v1/projects/alpha", headers=lab.auth())
    assert resp.status_code == 200 and resp.get_json()["counts"]["annotations"] > 0
    assert client.post("/api/v1/projects", headers=lab.auth()).status_code == 405


def test_cursor_neither_skips_nor_repeats_while_annotations_are_added(client, lab, db) -> None:
    seen: list[int] = []
    since = None
    pages = 0
    extra = simulate.simulated_users(db, lab.a, 2, seed=99)
    db.commit()
    while True:
        url = "/api/v1/projects/alpha/annotations?limit=3" + (f"&since={since}" if since else "")
        body = client.get(url, headers=lab.auth()).get_json()
        seen += [a["id"] for a in body["items"]]
        since = body["next_cursor"]
        pages += 1
        if pages <= 4:  # between pages, new annotations arrive
            user = extra[pages % 2]
            claim = assignments.claim_next(db, user.id, lab.a)
            if claim.assignment is not None:
                rubric = annotate_rubric(lab.a)
                shown = annotate.shown_candidates(claim.assignment, claim.assignment.task.candidates)
                payload = simulate.payload_for(rubric, shown, None, seed=99,
                                               task_key=claim.assignment.task.external_id,
                                               annotator=pages)
                payload["hint_verdicts"] = {}
                result = annotate.submit_annotation(db, claim.assignment, lab.a, rubric, payload,
                                                    acknowledge_warnings=True)
                assert result.annotation is not None, result.errors
            db.commit()
        if not body["items"] and pages > 4:
            break
    from harness.models import Annotation, Assignment

    expected = sorted(db.scalars(select(Annotation.id).join(Assignment)
                                 .where(Assignment.project_id == lab.a.id)))
    assert seen == expected  # every one, once, in order
    assert len(seen) == len(set(seen))


def annotate_rubric(project):
    from harness.rubric import body_of

    return body_of(project.rubric.content_hash, project.rubric.body)


def test_pages_are_capped_and_cursors_checked(client, lab) -> None:
    body = client.get("/api/v1/projects/alpha/tasks?limit=100000", headers=lab.auth()).get_json()
    assert len(body["items"]) <= 500
    from harness.labapi import encode_cursor

    huge = encode_cursor("t", 10**30)  # a cursor's form with an id no row can have
    for bad in ("cursor=zzz", "cursor=YTox", "limit=0", "limit=x", f"cursor={huge}"):
        resp = client.get(f"/api/v1/projects/alpha/tasks?{bad}", headers=lab.auth())
        assert resp.status_code == 400, bad
        assert set(resp.get_json()["error"]) >= {"code", "message", "field"}
    first = client.get("/api/v1/projects/alpha/tasks?limit=5", headers=lab.auth()).get_json()
    second = client.get(f"/api/v1/projects/alpha/tasks?limit=5&cursor={first['next_cursor']}",
                        headers=lab.auth()).get_json()
    assert not {t["id"] for t in first["items"]} & {t["id"] for t in second["items"]}


def test_task_has_candidates_with_runs_and_hints(client, lab, db) -> None:
    ext = db.scalars(select(Task.external_id).where(Task.project_id == lab.a.id)).first()
    body = client.get(f"/api/v1/projects/alpha/tasks/{ext}", headers=lab.auth()).get_json()
    assert body["candidates"] and {"files", "run", "hints", "model"} <= set(body["candidates"][0])


def test_export_streams_over_http(client, lab) -> None:
    resp = client.get("/api/v1/projects/alpha/exports/preferences", headers=lab.auth())
    assert resp.status_code == 200 and resp.is_streamed
    lines = resp.get_data(as_text=True).splitlines()
    assert lines and "chosen" in lines[0]
    assert "attachment" in resp.headers["Content-Disposition"]
    bad = client.get("/api/v1/projects/alpha/exports/nope", headers=lab.auth())
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "format"


def test_openapi_document_validates(client) -> None:
    from openapi_spec_validator import validate

    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    assert {"/projects", "/projects/{slug}/annotations",
            "/projects/{slug}/exports/{format}",
            "/projects/{slug}/adjudications"} <= set(doc["paths"])


def test_adjudicated_results_page_by_page_and_only_in_scope(client, lab, db) -> None:
    from helpers.adjudications import adjudicate

    tasks = {p.slug: list(db.scalars(select(Task).where(Task.project_id == p.id)
                                      .order_by(Task.id).limit(3))) for p in (lab.a, lab.b)}
    for task in tasks["alpha"]:
        adjudicate(db, lab.a, task)
    adjudicate(db, lab.b, tasks["beta"][0], ranking=[[c.id for c in tasks["beta"][0].candidates]])
    db.commit()
    seen, cursor = [], None
    while True:
        url = "/api/v1/projects/alpha/adjudications?limit=2" + (f"&cursor={cursor}" if cursor
                                                                 else "")
        body = client.get(url, headers=lab.auth()).get_json()
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [r["task_id"] for r in seen] == [t.external_id for t in tasks["alpha"]]
    first = seen[0]
    assert first["source"] == "adjudicated" and first["notes"] == "final word"
    assert first["ranking"] == [[c.label] for c in reversed(tasks["alpha"][0].candidates)]
    assert {c["label"] for c in first["candidates"]} == {c.label for c in tasks["alpha"][0]
                                                         .candidates}
    assert all(len(g) == 1 for r in seen for g in r["ranking"])  # beta's tie is not here
    assert client.get("/api/v1/projects/beta/adjudications",
                      headers=lab.auth()).status_code == 404
    bad = client.get("/api/v1/projects/alpha/adjudications?cursor=" + first["task_id"],
                     headers=lab.auth())
    assert bad.status_code == 400
    annotations = client.get("/api/v1/projects/alpha/annotations", headers=lab.auth()).get_json()
    assert {a["source"] for a in annotations["items"]} == {"annotations"}
