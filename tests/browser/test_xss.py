"""XSS: hostile strings through every field the site renders, on every page that renders
them, in Debian's Chromium.

Each field carries payloads tagged with its own name: script tags, event-handler
attributes, attribute and closing-tag breakouts (</textarea></title></script>),
javascript: URLs (raw and as markdown links), and unicode tricks (fullwidth angle
brackets, a right-to-left override, U+2028/U+2029, which end a JavaScript string
literal if data is ever pasted into a script). On each page the test checks, beside
"no dialog opened":

- no element carries an injected marker (`data-xss`) or any `on*` attribute, no
  link, frame or form points at javascript:, no inline script runs;
- the browser reported no CSP violation (the CSP would block an injected handler
  silently; a violation means something got into the DOM);
- the payload is on the page as text, where the page shows that field.

User names cannot carry markup at all (letters, digits and . _ @ - only): checked
at the service that creates them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import PASSWORD
from lead.support import annotate_task
from sqlalchemy import select

from harness import accounts
from harness.errors import InvalidInput
from harness.models import Project, User

pytestmark = pytest.mark.browser


def payload(tag: str) -> str:
    """The long payload (prompts, code, comments, rationales, project names)."""
    return (f"'\"><img src=x data-xss onerror=alert('{tag}')> "
            f"</textarea></title></script><script data-xss>alert('{tag}')</script> "
            f"<a data-xss href=\"javascript:alert('{tag}')\">j</a> [m](javascript:alert('{tag}')) "
            f"\uff1cscript\uff1e{tag}\uff1c/script\uff1e \u202e{tag}\u202c \u2028\u2029 end-{tag}")


def short(tag: str) -> str:
    """For fields capped at 80 characters (rubric labels)."""
    return f"\"><img src=x data-xss onerror=alert('{tag}')>"


def seen(tag: str) -> str:
    """The part of either payload every page must show as plain text."""
    return f"<img src=x data-xss onerror=alert('{tag}')>"


# Markup in a file name is allowed and must render as text; control and bidi characters
# are refused at import (sandboxes.base.check_relative_path), so none is here.
FILE = "x'\"><svg data-xss onload=alert('file')>.py"
CODE = (f"s = '{payload('code')}'\n"
        f"# </script><script data-xss>alert('code2')</script>\n"
        f"t = \"\\u2028 <style>*{{display:none}}</style>\"\n")
RUBRIC = json.dumps({  # JSON is YAML
    "name": "hostile-xss", "version": "1", "description": short("rubric-description"),
    "instructions": payload("instructions"),
    "criteria": [{"key": "correctness", "label": short("criterion"),
                  "description": short("criterion-description"),
                  "scale": {"min": 1, "max": 3, "labels": {"1": short("scale")}}}],
    "categories": [{"key": "security", "label": short("category"), "cwe": True}],
    "severities": ["low", "high"],
    "ranking": {"enabled": True, "ties": True, "required": True},
    "rationale_required": False, "confidence": False,
})

INJECTED = """() => {
  const out = [];
  for (const e of document.querySelectorAll('*')) {
    if (e.hasAttribute('data-xss')) out.push('marker: ' + e.outerHTML.slice(0, 120));
    for (const a of e.attributes) {
      if (a.name.startsWith('on')) out.push('handler: ' + e.outerHTML.slice(0, 120));
      if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(a.name)
          && /^\\s*javascript:/i.test(a.value)) out.push('url: ' + e.outerHTML.slice(0, 120));
    }
  }
  for (const s of document.querySelectorAll('script:not([src])')) {
    if (s.type !== 'application/json') out.push('inline script: ' + s.outerHTML.slice(0, 120));
  }
  return out;
}"""


@pytest.fixture
def hostile(live) -> dict[str, Any]:
    """Project `xss` with hostile strings in every field a task, a rubric, a project and
    two submitted reviews carry; a lead, a lab user and a third annotator with no work."""
    task = {"id": "x-1", "language": "python",
            "prompt": f"# Title {payload('prompt')}\n\n{payload('prompt2')}\n",
            "tests": {"test_solution.py": "def test_x():\n    pass\n"},
            "candidates": [
                {"id": "a", "model": payload("model")[:200], "files": {FILE: CODE, "helper.py": "x = 1\n"}},
                {"id": "b", "model": short("model2"), "files": {"solution.py": CODE}}]}
    live.add_project({"name": payload("project")[:200], "slug": "xss", "overlap": 2,
                      "blind": False}, [task], rubric_text=RUBRIC)
    for name, role in (("ann1", "annotator"), ("ann2", "annotator"), ("ann3", "annotator"),
                       ("xlead", "lead"), ("xlab", "lab")):
        live.add_user(name, role, ["xss"])
    assignments = {}
    with live.db() as s:
        project = s.scalars(select(Project).where(Project.slug == "xss")).one()
        for name in ("ann1", "ann2"):
            user = s.scalars(select(User).where(User.name == name)).one()

            def build(assignment: Any, body: dict[str, Any], name: str = name) -> dict[str, Any]:
                cand = assignment.task.candidates[0]
                body["findings"] = [{
                    "candidate_id": cand.id, "file_path": FILE, "line_start": 1, "line_end": 2,
                    "category": "security", "severity": "high", "cwe": 79,
                    "comment": payload(f"comment-{name}")}]
                body["rationale"] = payload(f"rationale-{name}")
                return body

            assignments[name] = annotate_task(s, project, user, build=build).assignment_id
    return assignments


def check(page: Any, live: Any, path: str, texts: list[str], *, console: list[str]) -> None:
    page.goto(f"{live.url}{path}")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(150)  # let scripts paint what they fetched
    assert page.evaluate(INJECTED) == [], path
    body = page.inner_text("body") + "\n".join(page.evaluate(
        "() => [...document.querySelectorAll('textarea, input')].map((e) => e.value)"))
    missing = [t for t in texts if t not in body]
    assert missing == [], (path, missing)
    assert console == [], (path, console)
    assert live.dialogs == [], (path, live.dialogs)


def watch(page: Any) -> list[str]:
    """CSP violations and script errors the page reports (a refused form's 4xx is not one)."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if (
        "Content Security Policy" in m.text
        or (m.type == "error" and not m.text.startswith("Failed to load resource"))) else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


def test_hostile_fields_render_as_text_on_every_page(live, open_page, hostile) -> None:
    project = seen("project")
    task_fields = [seen("prompt"), seen("prompt2"), seen("model"), seen("code"), "code2"]

    # the annotator who wrote the reviews: their page, with findings, rationale and rubric
    page = open_page("ann1")
    console = watch(page)
    review = f"/p/xss/a/{hostile['ann1']}"
    check(page, live, review, [*task_fields, seen("criterion"), seen("comment-ann1")],
          console=console)
    assert page.input_value("#rationale") == payload("rationale-ann1")
    page.click("details.instructions summary")
    assert seen("instructions") in page.inner_text("details.instructions")
    assert FILE in page.locator(".tab").all_inner_texts()
    assert FILE in page.locator(".filename").all_inner_texts()
    page.click("#diff-show")  # the diff is painted by script from the server's HTML
    page.locator("#diff-view").wait_for()
    assert page.evaluate(INJECTED) == []
    assert seen("code") in page.inner_text("#diff-view")
    page.hover("li.finding")
    page.hover("table.scores th")
    check(page, live, "/queue", [project], console=console)
    check(page, live, "/", [], console=console)

    # an annotator with nothing left: the queue names the project
    page = open_page("ann3")
    console = watch(page)
    check(page, live, "/queue", [project], console=console)
    check(page, live, "/p/xss/queue", [], console=console)

    # the lead's pages
    page = open_page("xlead")
    console = watch(page)
    for path, texts in [
        ("/", [project]),
        ("/p/xss/", [project]),
        ("/p/xss/t/x-1", [*task_fields, FILE]),
        ("/p/xss/t/x-1/annotations", [seen("comment-ann1"), seen("comment-ann2"),
                                      seen("rationale-ann1"), seen("rationale-ann2")]),
        ("/p/xss/t/x-1/adjudicate", [seen("comment-ann1"), seen("comment-ann2")]),
        ("/p/xss/adjudication", []),
        ("/p/xss/assignments", ["ann1", "ann2"]),
        ("/p/xss/dashboard", [project, "ann1", "ann2"]),
        ("/p/xss/agreement", []),
        ("/p/xss/settings", [project]),
        ("/p/xss/import", [project]),
        ("/projects/new", []),
    ]:
        check(page, live, path, texts, console=console)

    # a task file whose errors repeat hostile values (file names, ids) back to the lead
    bad = {"id": "x-2", "language": "python", "prompt": payload("upload-prompt"),
           "candidates": [{"id": "a", "model": "m", "files": {f"../{short('upload')}": "x"}},
                          {"id": "a", "model": "m", "files": {"s.py": "x"}}]}
    upload = live.tmp / "hostile.jsonl"
    upload.write_text(json.dumps(bad) + "\n" + payload("upload-line") + "\n", encoding="utf-8")
    page.goto(f"{live.url}/p/xss/import")
    page.set_input_files('input[name="tasks"]', str(upload))
    page.click("#import button[type=submit]")
    page.locator("#form-errors, .error-list").first.wait_for()
    check(page, live, page.url.removeprefix(live.url), [seen("upload")], console=console)
    page.goto(f"{live.url}/projects/new")
    page.fill('input[name="name"]', payload("new-project")[:200])
    page.fill('input[name="slug"]', "xss-new")
    page.select_option('select[name="rubric_id"]', index=1)
    page.set_input_files('input[name="tasks"]', str(upload))
    page.click("text=Create the project")
    page.locator("#form-errors").wait_for()
    assert page.evaluate(INJECTED) == []
    assert seen("upload") in page.inner_text("#form-errors")
    assert page.input_value('input[name="name"]') == payload("new-project")[:200]
    assert console == [] and live.dialogs == []

    # the lab's page
    page = open_page("xlab")
    console = watch(page)
    check(page, live, "/lab/", [project], console=console)
    assert live.dialogs == []


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "a\"onmouseover=x", "a b",
                                  "\u202eadmin", "x" * 81])
def test_user_names_cannot_carry_markup(live, name: str) -> None:
    with live.db() as s, pytest.raises(InvalidInput, match="user name"):
        accounts.add_user(s, name, "annotator", password=PASSWORD)
