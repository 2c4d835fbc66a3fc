"""The task page: candidates side by side, highlighted, numbered; hostile text rendered as text."""

from __future__ import annotations

import re

from helpers import task_line, write_jsonl

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
