"""Drafts, submissions, validation against the rubric, warnings, versions and active time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import csrf_from, task_line, write_jsonl
from sqlalchemy import select

from harness import annotate, assignments, leases
from harness.analysis import Hint
from harness.analysis.core import DEFAULT_MAX_BYTES
from harness.analysis.store import hints_for, task_context
from harness.errors import Conflict, HarnessError
from harness.models import Analysis, Annotation, HintVerdict, TestRun, utcnow
from harness.rubric import body_of
from harness.runs import dedup_key, image_tag, limits_for

HOSTILE = "<script>alert(1)</script>\u202e'; DROP TABLE findings; --\x01 ✓"


@pytest.fixture
def work(db, make_project, make_user, import_file, tmp_path):  # type: ignore[no-untyped-def]
    """A project with one 3-candidate task and an annotator holding it."""
    project = make_project("w", overlap=2)
    line = task_line("t1")
    line["candidates"].append({"id": "c", "model": "z", "files": {
        "solution.py": "def add(a, b):\n    # sum\n    total = a + b\n    return total\n",
        "util.py": "X = 1\n"}})
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [line]))
    user = make_user("ann", projects=["w"])
    make_user("ben", projects=["w"])
    assignment = assignments.claim_next(db, user.id, project).assignment
    db.commit()
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    return project, assignment, rubric


def full_payload(assignment, **overrides):  # type: ignore[no-untyped-def]
    ids = assignment.display_order
    payload = {
        "findings": [{"candidate_id": ids[0], "file_path": "solution.py", "line_start": 1,
                      "line_end": 2, "category": "security", "severity": "medium", "cwe": 89,
                      "comment": "concatenated SQL"}],
        "scores": {str(c): {"correctness": 4, "security": 3, "efficiency": 4, "readability": 4}
                   for c in ids},
        "ranking": [[ids[0]], [ids[1], ids[2]]],
        "rationale": "The first one is clearly better than the other two.",
        "confidence": 4,
    }
    payload.update(overrides)
    return payload


def submit(db, work, payload, **kw):  # type: ignore[no-untyped-def]
    project, assignment, rubric = work
    result = annotate.submit_annotation(db, assignment, project, rubric, payload, **kw)
    db.commit()
    return result


def fields(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {p.field for p in result.errors}


def test_a_complete_submission_is_stored_exactly(db, work) -> None:
    project, assignment, _ = work
    payload = full_payload(assignment)
    result = submit(db, work, payload)
    assert result.errors == [] and result.annotation is not None
    ann = db.scalars(select(Annotation)).one()
    assert ann.version == 1 and ann.rubric_id == project.rubric_id
    assert ann.scores == payload["scores"]
    assert ann.ranking == payload["ranking"]
    assert ann.display_order == assignment.display_order
    assert ann.hints_visible is True and ann.confidence == 4
    [f] = ann.findings
    cand = next(c for c in assignment.task.candidates if c.id == assignment.display_order[0])
    assert (f.candidate_id, f.content_hash, f.file_path, f.line_start, f.line_end, f.cwe) == (
        cand.id, cand.content_hash, "solution.py", 1, 2, 89)
    assert assignment.state == "submitted" and assignment.submitted_at is not None
    from harness.models import AuditEvent
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "annotation.submit")).one()
    assert event.object_id == ann.id and event.details["version"] == 1


def test_resubmitting_makes_a_new_version_and_keeps_history(db, work) -> None:
    _, assignment, _ = work
    submit(db, work, full_payload(assignment))
    second = submit(db, work, full_payload(assignment, rationale="Changed my mind after a rerun."))
    assert second.annotation.version == 2
    rows = db.scalars(select(Annotation).order_by(Annotation.version)).all()
    assert [r.rationale for r in rows] == [
        "The first one is clearly better than the other two.", "Changed my mind after a rerun."]
    assert len(rows[0].findings) == 1 and len(rows[1].findings) == 1


def test_missing_fields_are_named_and_nothing_is_stored(db, work) -> None:
    _, assignment, _ = work
    ids = assignment.display_order
    result = submit(db, work, {"scores": {str(ids[0]): {"correctness": 9}}})
    got = fields(result)
    assert f"scores.{ids[0]}.correctness" in got  # out of range
    assert f"scores.{ids[1]}.security" in got  # missing
    assert {"ranking", "rationale", "confidence"} <= got
    messages = " ".join(p.message for p in result.errors)
    assert "Candidate A: Correctness must be 1..5" in messages
    assert "Candidate B: score Security" in messages
    assert db.scalars(select(Annotation)).first() is None
    assert assignment.state == "active"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"line_start": 0}, "findings.0.line_start"),
        ({"line_end": 5}, "findings.0.line_start"),  # solution.py of A has 2 lines
        ({"line_start": 2, "line_end": 1}, "findings.0.line_start"),
        ({"file_path": "../etc/passwd"}, "findings.0.file_path"),
        ({"candidate_id": 99999}, "findings.0.candidate_id"),
        ({"category": "vibes"}, "findings.0.category"),
        ({"severity": "apocalyptic"}, "findings.0.severity"),
        ({"severity": ["high"]}, "findings.0.severity"),  # unhashable: a problem, not a 500
        ({"severity": {"high": 1}}, "findings.0.severity"),
        ({"line_start": True}, "findings.0.line_start"),
        ({"comment": 5}, "findings.0.comment"),
        ({"cwe": "sql"}, "findings.0.cwe"),
        ({"comment": "x" * 5001}, "findings.0.comment"),
    ],
)
def test_finding_validation(db, work, change, field) -> None:
    _, assignment, _ = work
    payload = full_payload(assignment)
    payload["findings"][0].update(change)
    result = submit(db, work, payload)
    assert field in fields(result), result.errors


def test_finding_range_is_checked_against_the_right_file(db, work) -> None:
    _, assignment, _ = work
    c = next(c for c in assignment.task.candidates if c.label == "c")
    payload = full_payload(assignment)
    payload["findings"] = [
        {"candidate_id": c.id, "file_path": "solution.py", "line_start": 3, "line_end": 4,
         "category": "bug", "severity": "low", "comment": ""},
        {"candidate_id": c.id, "file_path": "util.py", "line_start": 1, "line_end": 2,
         "category": "bug", "severity": "low", "comment": ""},
    ]
    result = submit(db, work, payload)
    assert fields(result) == {"findings.1.line_start"}
    assert "1..1 of util.py" in result.errors[0].message


def test_ranking_rules(db, work, make_project) -> None:
    _, assignment, rubric = work
    ids = assignment.display_order
    shown = annotate.shown_candidates(assignment, assignment.task.candidates)
    for ranking in ([[ids[0]], [ids[1]]], [[ids[0]], [ids[0]], [ids[1], ids[2]]], [[]], "abc"):
        _, problems = annotate.validate(rubric, shown, full_payload(assignment, ranking=ranking))
        assert "ranking" in {p.field for p in problems}, ranking
    no_ties = rubric.model_copy(update={"ranking": rubric.ranking.model_copy(update={"ties": False})})
    _, problems = annotate.validate(no_ties, shown, full_payload(assignment))
    assert any("does not allow ties" in p.message for p in problems)


def test_hostile_strings_are_stored_verbatim(db, work) -> None:
    _, assignment, _ = work
    payload = full_payload(assignment, rationale=HOSTILE * 3)
    payload["findings"][0]["comment"] = HOSTILE
    assert submit(db, work, payload).errors == []
    ann = db.scalars(select(Annotation)).one()
    assert ann.rationale == HOSTILE * 3
    assert ann.findings[0].comment == HOSTILE


def test_nul_characters_are_refused_with_the_field(db, work) -> None:
    """PostgreSQL cannot store NUL in text; both databases refuse it the same way."""
    _, assignment, _ = work
    payload = full_payload(assignment, rationale="why\x00" * 10)
    payload["findings"][0]["comment"] = "a\x00b"
    fields = {p.field for p in submit(db, work, payload).errors}
    assert {"rationale", "findings.0.comment"} <= fields, fields
    assert db.scalars(select(Annotation)).all() == []


def test_draft_round_trip_and_shape_checks(db, work) -> None:
    project, assignment, _ = work
    draft = full_payload(assignment, rationale=HOSTILE, extra="dropped")
    draft["hint_verdicts"] = {str(assignment.display_order[0]): {"bandit:B608:solution.py:1": "confirmed"}}
    annotate.save_draft(db, assignment, project, draft)
    db.commit()
    db.expire_all()
    assert assignment.draft == {k: v for k, v in draft.items() if k != "extra"}
    assert assignment.draft_saved_at is not None
    for bad, field in (([], "draft"), ({"findings": {}}, "findings"), ({"confidence": True}, "confidence"),
                       ({"rationale": "x" * (annotate.MAX_DRAFT_BYTES + 1)}, "draft")):
        with pytest.raises(HarnessError) as info:
            annotate.save_draft(db, assignment, project, bad)
        assert info.value.field == field


def test_active_time_after_an_outage_counts_in_full(db, work) -> None:
    """Five minutes offline: the page counted 300 active seconds and sends them in one go."""
    project, assignment, _ = work
    t0 = utcnow()
    annotate.save_draft(db, assignment, project, None, active_seconds=1, now=t0)
    before = assignment.active_seconds
    added = annotate.save_draft(db, assignment, project, None, active_seconds=300,
                                now=t0 + timedelta(minutes=5, seconds=2))
    assert added == pytest.approx(300)
    assert assignment.active_seconds - before == pytest.approx(300)


def test_active_time_is_capped_by_the_time_since_last_contact(db, work) -> None:
    project, assignment, _ = work
    t0 = utcnow()
    annotate.save_draft(db, assignment, project, None, active_seconds=10, now=t0)
    start = assignment.active_seconds
    # 3 s later the client claims 500 s: only 3 s + slack count
    annotate.save_draft(db, assignment, project, None, active_seconds=500, now=t0 + timedelta(seconds=3))
    assert assignment.active_seconds - start == pytest.approx(3 + annotate.CLOCK_SLACK)
    # a forged client an hour later: never more than the lease length (30 min) in one request
    before = assignment.active_seconds
    annotate.save_draft(db, assignment, project, None, active_seconds=3600, now=t0 + timedelta(hours=1))
    assert assignment.active_seconds - before == pytest.approx(30 * 60)
    for junk in (-5, "nan", None, "x"):
        assert annotate.add_active_time(assignment, junk, t0 + timedelta(hours=2)) == 0.0


def test_saving_renews_the_lease_and_a_lost_lease_is_refused(db, work) -> None:
    project, assignment, _ = work
    later = utcnow() + timedelta(minutes=20)
    annotate.save_draft(db, assignment, project, {"rationale": "x"}, now=later)
    assert assignment.lease_expires_at > later + timedelta(minutes=29)
    # the lease runs out and two others take the task (k = 2)
    much_later = later + timedelta(hours=2)
    leases.expire_leases(db, much_later)
    from harness.models import User
    for name in ("x1", "x2"):
        from harness import accounts
        u = accounts.add_user(db, name, "annotator", password="correct horse", projects=["w"])
        assignments.claim_next(db, u.id, project, now=much_later)
    db.commit()
    db.refresh(assignment)
    with pytest.raises(HarnessError) as info:
        annotate.save_draft(db, assignment, project, {"rationale": "y"}, now=much_later)
    assert info.value.field == "lease"
    assert db.scalars(select(User).where(User.name == "x1")).one()


def test_skipped_assignment_cannot_be_submitted(db, work) -> None:
    project, assignment, rubric = work
    assignments.skip(db, assignment, "not my area")
    with pytest.raises(Conflict, match="skipped"):
        annotate.submit_annotation(db, assignment, project, rubric, full_payload(assignment),
                                   acknowledge_warnings=True)


def store_hints(db, candidate, *hints: Hint) -> None:  # type: ignore[no-untyped-def]
    """An analysis row for the candidate's content in its task's context, as `harness analyze`
    stores it (with the default size cap, which submit_annotation uses by default)."""
    db.add(Analysis(content_hash=candidate.content_hash, versions_key="test",
                    context_hash=task_context(candidate.task, DEFAULT_MAX_BYTES),
                    hints=[h.to_dict() for h in hints], summary={}, metrics={}, versions={}))
    db.commit()


def hint(rule: str, path: str = "solution.py", start: int = 1, end: int | None = None,
         analyzer: str = "bandit") -> Hint:
    end = start if end is None else end
    return Hint(analyzer=analyzer, rule_id=rule, title=rule, severity="low", confidence=None,
                cwe=None, file_path=path, line_start=start, line_end=end, message="m",
                doc_url=None)


def test_hint_verdicts_are_stored(db, work) -> None:
    _, assignment, _ = work
    cid = assignment.display_order[1]
    cand = next(c for c in assignment.task.candidates if c.id == cid)
    b608, c901 = hint("B608", start=2), hint("C901", analyzer="radon", end=2)
    store_hints(db, cand, b608, c901)
    context = task_context(cand.task, DEFAULT_MAX_BYTES)
    assert {h.key for h in hints_for(db, cand.content_hash, context=context)} == {b608.key, c901.key}
    payload = full_payload(assignment, hint_verdicts={str(cid): {
        b608.key: "false_positive", c901.key: "confirmed", "bandit:B101:solution.py:9-9": None}})
    assert submit(db, work, payload).errors == []
    verdicts = db.scalars(select(Annotation)).one().hint_verdicts
    assert sorted((v.candidate_id, v.hint_key, v.rule_id, v.verdict) for v in verdicts) == [
        (cid, b608.key, "B608", "false_positive"), (cid, c901.key, "C901", "confirmed")]
    bad = full_payload(assignment, hint_verdicts={str(cid): {b608.key: "maybe"}})
    assert f"hint_verdicts.{cid}.{b608.key}" in fields(submit(db, work, bad))


def test_hint_verdicts_on_unknown_keys_are_refused(db, work) -> None:
    _, assignment, _ = work
    first, second, _ = assignment.display_order
    by_id = {c.id: c for c in assignment.task.candidates}
    real = hint("B608", start=2)
    store_hints(db, by_id[first], real)
    fabricated = {
        str(first): {"bandit:B608:solution.py:3": "confirmed",  # the old, wrong key format
                     "bandit:B999:solution.py:2-2": "confirmed"},
        str(second): {real.key: "false_positive"},  # a real key, but of another candidate
    }
    result = submit(db, work, full_payload(assignment, hint_verdicts=fabricated))
    assert result.annotation is None
    assert fields(result) == {f"hint_verdicts.{first}.bandit:B608:solution.py:3",
                              f"hint_verdicts.{first}.bandit:B999:solution.py:2-2",
                              f"hint_verdicts.{second}.{real.key}"}
    assert all("no such hint" in p.message for p in result.errors)
    assert db.scalars(select(HintVerdict)).all() == []


def test_hint_verdicts_are_refused_when_the_project_hides_hints(db, work) -> None:
    project, assignment, _ = work
    cid = assignment.display_order[0]
    real = hint("B608", start=2)
    store_hints(db, next(c for c in assignment.task.candidates if c.id == cid), real)
    project.hints_visible = False
    db.commit()
    result = submit(db, work, full_payload(assignment, hint_verdicts={str(cid): {real.key: "confirmed"}}))
    assert fields(result) == {f"hint_verdicts.{cid}.{real.key}"}
    assert "does not show hints" in result.errors[0].message
    # no verdicts at all is fine
    assert submit(db, work, full_payload(assignment, hint_verdicts={})).annotation is not None


# --- consistency warnings -----------------------------------------------------------------


def test_warning_top_ranked_scores_below_another_everywhere(db, work) -> None:
    _, assignment, _ = work
    a, b, c = assignment.display_order
    payload = full_payload(assignment, findings=[])
    payload["scores"][str(a)] = {"correctness": 2, "security": 2, "efficiency": 2, "readability": 2}
    result = submit(db, work, payload)
    assert result.annotation is None
    assert any("scores below candidate B on every criterion" in w.message for w in result.warnings)
    assert submit(db, work, payload, acknowledge_warnings=True).annotation is not None


def test_warning_high_security_finding_on_top_ranked(db, work) -> None:
    _, assignment, _ = work
    payload = full_payload(assignment)
    payload["findings"][0]["severity"] = "critical"
    result = submit(db, work, payload)
    assert [w.message for w in result.warnings] == [
        "Candidate A is ranked first but has a critical security finding (lines 1-2)."]


def test_warning_high_security_finding_follows_the_rubric_severities(
    db, make_project, make_user, import_file, tmp_path
) -> None:
    """The two last severities a rubric lists are the high ones, whatever they are called."""
    import yaml
    from helpers import REPO

    body = yaml.safe_load((REPO / "rubrics" / "code-review.yaml").read_text(encoding="utf-8"))
    body["severities"] = ["minor", "major", "blocker"]
    body["name"] = "severity-test"
    path = tmp_path / "severity-rubric.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    project = make_project("sev", rubric=str(path))
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [task_line("t1")]))
    user = make_user("ann", projects=["sev"])
    assignment = assignments.claim_next(db, user.id, project).assignment
    db.commit()
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    assert rubric.high_severities == {"major", "blocker"}
    a, b = assignment.display_order
    shown = annotate.shown_candidates(assignment, assignment.task.candidates)

    def warnings(severity: str) -> list[str]:
        payload = {"findings": [{"candidate_id": a, "file_path": "solution.py", "line_start": 1,
                                 "line_end": 1, "category": "security", "severity": severity}],
                   "ranking": [[a], [b]]}
        return [w.message for w in annotate.consistency_warnings(rubric, shown, payload, {})]

    assert warnings("minor") == []
    assert warnings("major") == [
        "Candidate A is ranked first but has a major security finding (lines 1-1)."]
    assert len(warnings("blocker")) == 1


def test_lines_are_counted_on_newlines_only(client, login, db, make_project, make_user,
                                            import_file, tmp_path) -> None:
    """Form feeds, U+2028 and \r\n do not make extra lines: the page, pygments and the
    server agree, so a finding on line 5 is line 5 everywhere."""
    from harness.text import line_count, split_lines
    from web.render import highlighted_lines

    text = "x = 1\n\x0c\ny = \"a\u2028b\"\nz = 3\r\nw=4\n"
    assert line_count(text) == 5
    assert split_lines(text) == ["x = 1", "\x0c", 'y = "a\u2028b"', "z = 3", "w=4"]
    assert len(highlighted_lines("solution.py", "python", text)) == 5
    line = task_line("t1")
    line["candidates"][0]["files"]["solution.py"] = text
    project = make_project("lines")
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [line]))
    user = make_user("ann", projects=["lines"])
    assignment = assignments.claim_next(db, user.id, project).assignment
    db.commit()
    shown = annotate.shown_candidates(assignment, assignment.task.candidates)
    odd = next(s for s in shown if s.candidate.files["solution.py"] == text)
    other = next(s for s in shown if s is not odd)
    assert odd.line_counts == {"solution.py": 5}
    login("ann")
    html = client.get(f"/p/lines/a/{assignment.id}").get_data(as_text=True)
    rows = html.split(f'id="cand-{odd.letter}"', 1)[1].split("</article>", 1)[0]
    assert rows.count('<td class="ln">') == 5
    diff = client.get(f"/p/lines/a/{assignment.id}/diff?left={odd.candidate.id}"
                      f"&right={other.candidate.id}").get_json()
    assert max(r["a"] or 0 for r in diff["rows"]) == 5
    # a finding on line 5 is in range; line 6 is not
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    finding = {"candidate_id": odd.candidate.id, "file_path": "solution.py", "line_start": 5,
               "line_end": 5, "category": "bug", "severity": "low"}
    _, problems = annotate.validate(rubric, shown, {"findings": [finding]})
    assert not [p for p in problems if p.field.startswith("findings")]
    _, problems = annotate.validate(rubric, shown, {"findings": [{**finding, "line_end": 6}]})
    assert [p.field for p in problems if p.field.startswith("findings")] == ["findings.0.line_start"]


def test_warning_failing_tests_ranked_above_passing(db, work) -> None:
    _, assignment, _ = work
    task = assignment.task
    by_id = {c.id: c for c in task.candidates}
    a, b, c = assignment.display_order
    image, limits = image_tag(), limits_for(task.project.sandbox_limits)
    for cid, status, gen in ((a, "passed", 1), (a, "failed", 2), (b, "passed", 1)):
        digest = by_id[cid].content_hash
        db.add(TestRun(dedup_key=dedup_key(digest, task.tests_hash, image, limits.key(), "split"),
                       generation=gen, candidate_hash=digest, tests_hash=task.tests_hash,
                       image=image, state="done", status=status))
    db.commit()
    assert annotate.run_outcomes(db, task, list(by_id.values())) == {a: "failed", b: "passed"}
    result = submit(db, work, full_payload(assignment, findings=[]))
    assert [w.message for w in result.warnings] == [
        "Candidate A fails its tests but is ranked above candidate B, whose tests pass and "
        "which has no high or critical finding."]


# --- through the web ---------------------------------------------------------------------


def test_a_refused_submit_keeps_the_draft_and_the_lease(client, login, db, work) -> None:
    """A submit is also the page's save: refused (422 or warnings), the draft is kept."""
    _, assignment, _ = work
    login("ann")
    url = f"/p/w/a/{assignment.id}"
    html = client.get(url).get_data(as_text=True)
    token = csrf_from(html.replace('name="csrf-token" content=', 'name="csrf_token" value='))
    draft = {"rationale": "short", "scores": {str(assignment.display_order[0]): {"correctness": 2}}}
    resp = client.post(f"{url}/submit", json={"draft": draft, "active_seconds": 1},
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 422
    db.refresh(assignment)
    assert assignment.state == "active" and assignment.draft == draft
    assert assignment.draft_saved_at is not None
    warned = full_payload(assignment)
    warned["findings"][0]["severity"] = "critical"
    resp = client.post(f"{url}/submit", json={"draft": warned}, headers={"X-CSRFToken": token})
    assert resp.status_code == 200 and resp.get_json()["ok"] is False
    db.refresh(assignment)
    assert assignment.state == "active" and assignment.draft["findings"][0]["severity"] == "critical"


def test_unload_beacon_saves_a_form_encoded_draft(client, login, db, work) -> None:
    """navigator.sendBeacon cannot set headers: the token comes in the form, the JSON in payload."""
    import json

    _, assignment, _ = work
    login("ann")
    url = f"/p/w/a/{assignment.id}"
    html = client.get(url).get_data(as_text=True)
    token = csrf_from(html.replace('name="csrf-token" content=', 'name="csrf_token" value='))
    payload = json.dumps({"draft": {"rationale": "left the page"}, "active_seconds": 2})
    assert client.post(f"{url}/draft", data={"payload": payload}).status_code == 400  # no token
    resp = client.post(f"{url}/draft", data={"csrf_token": token, "payload": payload})
    assert resp.status_code == 200
    db.refresh(assignment)
    assert assignment.draft == {"rationale": "left the page"}


def test_submit_endpoint_returns_named_errors(client, login, work) -> None:
    _, assignment, _ = work
    login("ann")
    url = f"/p/w/a/{assignment.id}"
    html = client.get(url).get_data(as_text=True)
    token = csrf_from(html.replace('name="csrf-token" content=', 'name="csrf_token" value='))
    resp = client.post(f"{url}/submit", json={"draft": {"rationale": "short"}},
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["ok"] is False
    assert {"field": "rationale", "message": "at least 20 characters, please"} in body["errors"]
    ok = client.post(f"{url}/submit", json={"draft": full_payload(assignment)},
                     headers={"X-CSRFToken": token})
    assert ok.status_code == 200 and ok.get_json()["version"] == 1
    no_token = client.post(f"{url}/draft", json={"draft": {}})
    assert no_token.status_code == 400
    assert no_token.get_json()["error"]["code"] == "csrf"
    assert client.post(f"{url}/draft", data="nope", headers={"X-CSRFToken": token,
                       "Content-Type": "application/json"}).status_code == 400


@pytest.mark.parametrize("rubric", ["security-review.yaml", "quick-preference.yaml"])
def test_review_page_and_submit_under_each_shipped_rubric(
    client, login, db, make_project, make_user, import_file, tmp_path, rubric
) -> None:
    from helpers import REPO

    project = make_project("r", rubric=str(REPO / "rubrics" / rubric))
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [task_line("t1")]))
    user = make_user("ann", projects=["r"])
    assignment = assignments.claim_next(db, user.id, project).assignment
    db.commit()
    login("ann")
    html = client.get(f"/p/r/a/{assignment.id}").get_data(as_text=True)
    body = body_of(project.rubric.content_hash, project.rubric.body)
    assert ('class="scores' in html) == bool(body.criteria)
    a, b = assignment.display_order
    payload = {"ranking": [[b], [a]], "rationale": "B is correct and A subtracts; " * 2,
               "confidence": 3,
               "scores": {str(c): {k.key: 3 for k in body.criteria} for c in (a, b)}}
    result = annotate.submit_annotation(db, assignment, project, body, payload)
    assert result.errors == [] and result.annotation is not None
