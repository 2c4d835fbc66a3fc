"""What the tests share, importable as `helpers` (tests/ is on pytest's pythonpath;
conftest.py files hold fixtures only and are never imported).

    helpers            paths, task lines, JSONL files, CSRF tokens (this module)
    helpers.runs       executors for the run queue (also passed to `harness worker
                       --executor helpers.runs:echo_runner` in subprocesses), task sets
    helpers.sandbox    the real sandbox backends and what a run leaves on the host
    helpers.realdata   candidates and tests of the shared real model output and the demo
    helpers.queries    counting the SQL statements a piece of code sends
    helpers.databases  the migrated SQLite template and the throwaway PostgreSQL cluster
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
REALDATA = REPO.parent / "shared" / "realdata" / "humaneval-poe.jsonl"
DEMO_TASKS = REPO / "examples" / "demo" / "tasks.jsonl"
RUBRIC = REPO / "rubrics" / "code-review.yaml"
PASSWORD = "correct horse battery"


def task_line(task_id: str = "t1", **overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "id": task_id,
        "prompt": "Write `add(a, b)`.",
        "language": "python",
        "tests": {"test_solution.py": "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"},
        "candidates": [
            {"id": "a", "model": "model-x", "files": {"solution.py": "def add(a, b):\n    return a + b\n"}},
            {"id": "b", "model": "model-y", "files": {"solution.py": "def add(a, b):\n    return a - b\n"}},
        ],
        "metadata": {},
    }
    task.update(overrides)
    return task


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token in page"
    return match.group(1) or match.group(2)


# --- the review page in a browser (tests/browser) ------------------------------------------


def take_next(page, live) -> int:
    page.goto(f"{live.url}/queue")
    page.click("#take-next")
    page.wait_for_url("**/a/*")
    page.wait_for_selector("#ranking .chip")
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def no_js_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def add_finding(page, letter: str, start: int, end: int, *, category: str, severity: str,
                cwe: str = "", comment: str = "") -> None:
    article = page.locator(f"#cand-{letter}")
    article.locator(f'tr[data-line="{start}"] td.ln').click()
    article.locator(f'tr[data-line="{end}"] td.ln').click(modifiers=["Shift"])
    article.locator(".add-finding").click()
    form = article.locator(".finding-form")
    form.locator('select[name="category"]').select_option(category)
    form.locator('select[name="severity"]').select_option(severity)
    if cwe:
        form.locator('input[name="cwe"]').fill(cwe)
    if comment:
        form.locator('textarea[name="comment"]').fill(comment)
    form.locator('button[type="submit"]').click()
    article.locator(".finding-form").wait_for(state="detached")


def wait_saved(page) -> None:
    page.wait_for_selector('#save-status[data-state="saved"]')


def logged_in(app: Any, name: str) -> tuple[Any, dict[str, str]]:
    """A test client of its own (for another user, or another thread), logged in as
    `name`, and the CSRF header its JSON writes send."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    resp = client.post("/login", data={"name": name, "password": PASSWORD,
                                       "csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    return client, {"X-CSRFToken": csrf_from(client.get("/").get_data(as_text=True))}
