"""The task page: candidates side by side, highlighted, numbered; hostile text rendered as text."""

from __future__ import annotations

import json
import re

from helpers import csrf_from, task_line, write_jsonl

XSS_CODE = 'html = "</script><script>alert(1)</script>"\n'
XSS_PROMPT = 'Make it safe. <img src=x onerror="alert(1)"> <script>alert(2)</script>\n\n[click](javascript:alert(3))'
XSS_MODEL = "<img src=x onerror=alert(1)>"


def hostile_project(make_project, make_user, import_file, tmp_path, blind: bool = False):  # type: ignore[no-untyped-def]
    project = make_project("x", blind=blind)
    line = task_line("t1", prompt=XSS_PROMPT)
    line["candidates"][0]["files"] = {"solution.py": XSS_CODE + "def add(a, b):\n    return a + b\n"}
    line["candidates"][1]["model"] = XSS_MODEL
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [line]))
    make_user("lead1", role="lead", projects=["x"])
    make_user("ann", projects=["x"])
    return project


def test_hostile_strings_render_as_text(client, make_project, make_user, import_file, login, tmp_path) -> None:
    hostile_project(make_project, make_user, import_file, tmp_path)
    login("lead1")
    html = client.get("/p/x/t/t1").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "<img" not in html
    assert 'href="javascript:' not in html
    assert re.search(r"<[^>]*\sonerror=", html) is None  # no element carries the attribute
    # ...and the text is there, escaped, for the reviewer to read
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_links_in_a_prompt_go_to_absolute_addresses_only(client, make_project, make_user,
                                                          import_file, login, tmp_path) -> None:
    """A task file's markdown may link out (https, mailto) but not to this site's own
    routes or to a protocol-relative address dressed as one of them."""
    project = make_project("links")
    prompt = ("[Save your work](/logout) [docs](//evil.example/x) [ok](https://docs.python.org/)"
              " [mail](mailto:a@example.org) [ref][r]\n\n[r]: /p/links/settings")
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [task_line("t1", prompt=prompt)]))
    make_user("lead1", role="lead", projects=["links"])
    login("lead1")
    html = client.get("/p/links/t/t1").get_data(as_text=True)
    hrefs = set(re.findall(r'<a href="([^"]*)" rel="noopener', html))
    assert hrefs == {"https://docs.python.org/", "mailto:a@example.org"}, hrefs
    assert "Save your work" in html and "docs" in html  # the text stays, unlinked


def test_candidates_side_by_side_with_line_numbers_and_highlighting(client, make_project, make_user, import_file, login, tmp_path) -> None:
    hostile_project(make_project, make_user, import_file, tmp_path)
    login("lead1")
    html = client.get("/p/x/t/t1").get_data(as_text=True)
    assert html.count('class="candidate"') == 2
    assert 'data-count="2"' in html
    numbers = re.findall(r'<td class="ln">(\d+)</td>', html)
    assert numbers == ["1", "2", "3", "1", "2"]
    assert '<span class="k">def</span>' in html  # pygments token classes
    assert '<span class="nf">add</span>' in html


def test_blind_project_hides_models_from_annotators(client, make_project, make_user, import_file, login, tmp_path) -> None:
    """Annotators never reach the task page (leads only), so it cannot leak model names."""
    hostile_project(make_project, make_user, import_file, tmp_path, blind=True)
    login("ann")
    resp = client.get("/p/x/t/t1")
    assert resp.status_code == 403
    assert b"model-x" not in resp.data


def test_multi_file_candidate_shows_a_tab_per_file(client, make_project, make_user, import_file, login, tmp_path) -> None:
    project = make_project("m")
    line = task_line("t1")
    line["candidates"][0]["files"] = {"solution.py": "from helpers import x\n", "helpers.py": "x = 1\n"}
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [line]))
    make_user("lead1", role="lead", projects=["m"])
    login("lead1")
    html = client.get("/p/m/t/t1").get_data(as_text=True)
    assert len(re.findall(r'role="tab"', html)) == 2
    assert 'data-path="helpers.py"' in html and 'data-path="solution.py"' in html


def test_task_ids_with_slashes_work(client, make_project, make_user, import_file, login, tmp_path) -> None:
    project = make_project("he")
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [task_line("HumanEval/3")]))
    make_user("lead1", role="lead", projects=["he"])
    login("lead1")
    assert client.get("/p/he/").status_code == 200
    assert client.get("/p/he/t/HumanEval/3").status_code == 200
    assert client.get("/p/he/t/HumanEval/4").status_code == 404


def test_empty_project_says_how_to_import(client, make_project, make_user, login) -> None:
    make_project("empty")
    make_user("lead1", role="lead", projects=["empty"])
    login("lead1")
    assert "harness import empty" in client.get("/p/empty/").get_data(as_text=True)


def test_lead_task_page_shows_hints_on_their_lines_runs_and_a_syntax_error(client, db, make_project, make_user, import_file, login, tmp_path) -> None:
    from harness.analysis.store import analyze_many
    from harness.models import Candidate, TestRun
    from harness.runs import dedup_key, image_tag, limits_for

    project = make_project("h")
    line = task_line("t1")
    line["candidates"][0]["files"] = {"solution.py": "import pickle\n\n\ndef load(blob):\n    return pickle.loads(blob)\n"}
    line["candidates"][1]["files"] = {"solution.py": "def add(a, b:\n    return a + b\n"}
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [line]))
    cands = {c.label: c for c in db.query(Candidate).all()}
    analyze_many(db, [(c.content_hash, c.files, "python", line["tests"]) for c in cands.values()])
    task = cands["a"].task
    limits = limits_for(project.sandbox_limits)
    db.add(TestRun(dedup_key=dedup_key(cands["a"].content_hash, task.tests_hash, image_tag(), limits.key(),
                                              "split"),
                   candidate_hash=cands["a"].content_hash, tests_hash=task.tests_hash, image=image_tag(),
                   state="done", status="failed",
                   result={"status": "failed", "tests": [{"name": "test_add", "outcome": "failed"}],
                           "wall_s": 0.2, "isolation": "full", "stdout": "<b>out</b>", "tamper": []}))
    db.commit()
    make_user("lead1", role="lead", projects=["h"])
    login("lead1")
    html = client.get("/p/h/t/t1").get_data(as_text=True)
    article_a, article_b = html.split('class="candidate"')[1:3]
    # bandit's B301 (pickle) sits on line 5, the line it concerns
    row5 = re.search(r'<tr data-line="5"[^>]*>(.*?)</tr>', article_a, re.S).group(1)
    assert 'class="hint-marker sev-' in row5 and "B301" in row5
    assert "B403" in re.search(r"<tr data-line=\"1\"[^>]*>(.*?)</tr>", article_a, re.S).group(1)  # import pickle
    assert "<tr data-line=\"2\">" in article_a  # a blank line carries no hint
    # the runs travel as page data for the one renderer both task pages share (web/static/runs.js)
    data = json.loads(re.search(r'<script type="application/json" id="task-data">(.*?)</script>',
                                html, re.S).group(1))
    run_a, run_b = data["runs"][str(cands["a"].id)], data["runs"][str(cands["b"].id)]
    assert run_a["status"] == "failed" and [t["outcome"] for t in run_a["tests"]] == ["failed"]
    assert "<b>out</b>" not in html and run_a["stdout"] == "<b>out</b>"  # escaped in the page
    assert run_b["state"] == "none"
    # the candidate that does not parse: exactly one hint, and the page still renders
    assert article_b.count('class="hint-marker') == 1
    assert "syntax error at line 1" in article_b


# Code that imitates the pages' row placeholders (a NUL, a hex token, an index, a NUL; the
# text around the code refuses NUL at import) and text the page's encoding must keep:
# shown as written, every line in its row.
LOOKALIKE = "\x000123456789abcdef:0\x00"
LOOKALIKE_CODE = (
    f'TOKEN = "{LOOKALIKE}"\n'
    'NOTE = "naïve ≥ 😀 — ünïcödé"\n'
    "def add(a, b):\n"
    "    return a + b\n"
)


def _rows_of(html: str) -> list[str]:
    return re.findall(r'<td class="ln">(\d+)</td>', html)


def test_code_that_imitates_the_row_placeholders_is_shown_as_written(
        client, make_project, make_user, import_file, login, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = make_project("p")
    line = task_line("t1")
    line["candidates"][0]["files"] = {"solution.py": LOOKALIKE_CODE}
    line["candidates"][1]["files"] = {"solution.py": "def add(a, b):\n    return b + a\n"}
    line["candidates"][1]["model"] = "modèle ünï"
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [line]))
    make_user("lead1", role="lead", projects=["p"])
    make_user("ann", projects=["p"])

    pages = []
    login("lead1")
    pages.append(client.get("/p/p/t/t1"))
    login("ann")
    queue = client.get("/p/p/queue").get_data(as_text=True)
    claimed = client.post("/p/p/queue", data={"csrf_token": csrf_from(queue)})
    assert claimed.status_code == 302, claimed.get_data(as_text=True)
    for _ in range(2):  # the second view is served from the cached rows
        pages.append(client.get(claimed.headers["Location"]))
    for resp in pages:
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        html = resp.data.decode("utf-8")  # one valid UTF-8 document
        assert sorted(_rows_of(html)) == sorted(["1", "2", "3", "4", "1", "2"])
        assert "naïve ≥ 😀 — ünïcödé" in html
        # the look-alike is on the page as written, and no other NUL: nothing was taken
        # for a placeholder, no placeholder was left
        assert html.count(LOOKALIKE) == 1 and html.count("\x00") == 2
        assert html.rstrip().endswith("</html>")
    assert "modèle ünï" in pages[0].data.decode()  # the lead's page shows the models
