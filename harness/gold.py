"""Gold tasks made by planting a known bug into a passing candidate.

Three kinds, each found by walking the candidate's Python AST and edited on its
own line(s), so the planted lines are known exactly and become the gold finding:

- off_by_one: `range(n)` becomes `range(n - 1)`, or a comparison's `<` / `<=`
  (`>` / `>=`) is swapped for its neighbour;
- removed_bounds_check: an `if` guard whose body only raises or returns is
  deleted; the gold finding is the line that now stands where the check was;
- string_sql: `cursor.execute("... ? ...", (a,))` (or `%s`) becomes a query built
  with an f-string from the same values (CWE-89).

The gold task holds the original candidate and the planted copy, the planted
lines as its finding and the original ranked above the copy; it is imported
through the task-file validator like any other task.
"""

from __future__ import annotations

import ast
import json
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from harness.errors import Conflict, InvalidInput, NotFound
from harness.importer import ImportReport, import_tasks
from harness.models import Candidate, Project, Task
from harness.runs import runs_for_task

KINDS = ("off_by_one", "removed_bounds_check", "string_sql")
_SWAP = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">")}
_PLACEHOLDER = re.compile(r"\?|%s")


@dataclass(frozen=True)
class Planted:
    files: dict[str, str]
    file_path: str
    line_start: int
    line_end: int
    category: str
    cwe: int | None
    description: str


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _off_by_one(path: str, text: str, tree: ast.AST) -> Planted | None:
    lines = _lines(text)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "range" and len(node.args) == 1
                and node.lineno == node.end_lineno):
            arg = node.args[0]
            row = lines[arg.lineno - 1]
            if arg.end_col_offset is None:
                continue
            lines[arg.lineno - 1] = (row[:arg.end_col_offset] + " - 1"
                                     + row[arg.end_col_offset:])
            return Planted({path: "".join(lines)}, path, arg.lineno, arg.lineno, "bug", None,
                           "range() stops one short")
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _SWAP:
            old, new = _SWAP[type(node.ops[0])]
            left, right = node.left, node.comparators[0]
            if left.end_lineno != right.lineno or left.end_col_offset is None:
                continue
            row = lines[right.lineno - 1]
            between = row[left.end_col_offset:right.col_offset]
            if between.strip() != old:
                continue
            lines[right.lineno - 1] = (row[:left.end_col_offset] + between.replace(old, new, 1)
                                       + row[right.col_offset:])
            return Planted({path: "".join(lines)}, path, right.lineno, right.lineno, "bug", None,
                           f"comparison {old} became {new}")
    return None


def _removed_check(path: str, text: str, tree: ast.AST) -> Planted | None:
    lines = _lines(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for i, stmt in enumerate(body[:-1]):
            guard = (isinstance(stmt, ast.If) and not stmt.orelse
                     and all(isinstance(s, ast.Raise | ast.Return) for s in stmt.body))
            if not guard or stmt.end_lineno is None:
                continue
            kept = lines[:stmt.lineno - 1] + lines[stmt.end_lineno:]
            following = body[i + 1].lineno - (stmt.end_lineno - stmt.lineno + 1)
            return Planted({path: "".join(kept)}, path, following, following, "bug", None,
                           f"the check on line {stmt.lineno} was removed")
    return None


def _string_sql(path: str, text: str, tree: ast.AST) -> Planted | None:
    lines = _lines(text)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("execute", "executemany") and len(node.args) == 2
                and node.lineno == node.end_lineno):
            continue
        query, params = node.args
        if not (isinstance(query, ast.Constant) and isinstance(query.value, str)
                and isinstance(params, ast.Tuple | ast.List)):
            continue
        holes = _PLACEHOLDER.findall(query.value)
        if not holes or len(holes) != len(params.elts):
            continue
        values = [ast.unparse(e) for e in params.elts]
        parts = _PLACEHOLDER.split(query.value.replace("{", "{{").replace("}", "}}"))
        built = parts[0] + "".join("'{" + v + "}'" + rest
                                   for v, rest in zip(values, parts[1:], strict=True))
        row = lines[node.lineno - 1]
        assert query.end_col_offset is not None and params.end_col_offset is not None
        lines[node.lineno - 1] = (row[:query.col_offset] + "f" + json.dumps(built)
                                  + row[params.end_col_offset:])
        return Planted({path: "".join(lines)}, path, node.lineno, node.lineno, "security", 89,
                       "query built from values (SQL injection)")
    return None


_PLANTERS = {"off_by_one": _off_by_one, "removed_bounds_check": _removed_check,
             "string_sql": _string_sql}


def plant(files: dict[str, str], kind: str) -> Planted:
    """The files with one bug of `kind` planted in the first Python file that has a site."""
    if kind not in _PLANTERS:
        raise InvalidInput("invalid", f"kind is one of {', '.join(KINDS)}", field="kind")
    for path in sorted(files):
        if not path.endswith(".py"):
            continue
        try:
            tree = ast.parse(files[path])
        except SyntaxError:
            continue
        planted = _PLANTERS[kind](path, files[path], tree)
        if planted is not None:
            return Planted(dict(files) | planted.files, planted.file_path, planted.line_start,
                           planted.line_end, planted.category, planted.cwe, planted.description)
    raise InvalidInput("no_site", f"no place for a {kind} bug in this candidate", field="kind")


def new_task_id(task: Task) -> str:
    """The default id of a gold task planted from `task`: the source's id and a random
    suffix. Annotators see task ids (the review page's title, the queue), and the id
    used to end in the kind of bug planted ("t1.off_by_one"): which task was gold, and
    what to look for in it."""
    return f"{task.external_id}.{secrets.token_hex(3)}"


def planted_task(task: Task, candidate: Candidate, kind: str, new_id: str) -> dict[str, Any]:
    """A task-file line: the original candidate and its planted copy, with the gold answer."""
    planted = plant({k: str(v) for k, v in candidate.files.items()}, kind)
    copy = f"{candidate.label}-planted"
    gold = {"findings": [{"candidate": copy, "file_path": planted.file_path,
                          "line_start": planted.line_start, "line_end": planted.line_end,
                          "category": planted.category, "cwe": planted.cwe}],
            "ranking": [[candidate.label], [copy]],
            "planted": {"kind": kind, "from_task": task.external_id,
                        "from_candidate": candidate.label, "description": planted.description}}
    return {"id": new_id, "prompt": task.prompt, "language": task.language,
            "tests": dict(task.tests),
            "candidates": [
                {"id": candidate.label, "model": candidate.model, "files": dict(candidate.files)},
                {"id": copy, "model": candidate.model, "files": planted.files}],
            "metadata": {"planted_from": task.external_id}, "gold": gold}


def plant_gold_task(session: Session, project: Project, task: Task, candidate_label: str,
                    kind: str, *, new_id: str | None = None, require_passing: bool = True,
                    max_bytes: int | None = None) -> ImportReport:
    """Import a gold task made from a passing candidate of `task` (its current test run
    must have passed unless require_passing is off). Flushes; the caller commits."""
    candidate = next((c for c in task.candidates if c.label == candidate_label), None)
    if candidate is None:
        raise NotFound("not_found", f"no candidate {candidate_label!r} in {task.external_id}")
    if require_passing:
        run = runs_for_task(session, task).get(candidate.id)
        if run is None or run.state != "done" or run.status != "passed":
            raise Conflict("not_passing", f"candidate {candidate_label} has no passing test "
                           "run; plant bugs only into code known to pass", field="candidate")
    line = planted_task(task, candidate, kind, new_id or new_task_id(task))
    with tempfile.TemporaryDirectory(prefix="gold-") as tmp:
        path = Path(tmp) / "planted.jsonl"
        path.write_text(json.dumps(line) + "\n", encoding="utf-8")
        kwargs: dict[str, Any] = {} if max_bytes is None else {"max_bytes": max_bytes}
        return import_tasks(session, project, path, **kwargs)


# --- what the lead's planting page shows --------------------------------------------------

KIND_LABELS = {"off_by_one": "an off-by-one", "removed_bounds_check": "a removed bounds check",
               "string_sql": "string-built SQL (CWE-89)"}
KIND_NEEDS = {
    "off_by_one": "a range(n) call on one line, or a <, <=, > or >= comparison",
    "removed_bounds_check": "an if with no else whose body only raises or returns, "
                            "followed by another statement",
    "string_sql": "a cursor.execute(\"... ? ...\", (values,)) call on one line with "
                  "as many placeholders as values",
}
"""What each kind looks for, to say why a candidate has no place for it."""


@dataclass(frozen=True)
class Source:
    """A candidate of the task as a planting source: whether its tests pass and which
    kinds of bug have a place in it."""

    label: str
    model: str
    run_status: str | None  # the current run's status, None when it has none yet
    kinds: dict[str, bool]

    @property
    def passing(self) -> bool:
        return self.run_status == "passed"


def sources_of(session: Session, task: Task) -> list[Source]:
    runs = runs_for_task(session, task)
    out = []
    for candidate in sorted(task.candidates, key=lambda c: c.label):
        run = runs.get(candidate.id)
        status = None if run is None else (run.status if run.state == "done" else run.state)
        files = {k: str(v) for k, v in candidate.files.items()}
        kinds = {}
        for kind in KINDS:
            try:
                plant(files, kind)
                kinds[kind] = True
            except InvalidInput:
                kinds[kind] = False
        out.append(Source(candidate.label, candidate.model, status, kinds))
    return out


@dataclass(frozen=True)
class Preview:
    planted: Planted
    new_id: str
    diff: list[dict[str, object]]  # harness.text.line_diff rows of the changed file


def preview(task: Task, candidate_label: str, kind: str) -> Preview:
    """What planting would change: the changed file's diff and the gold finding."""
    from harness.text import line_diff

    candidate = next((c for c in task.candidates if c.label == candidate_label), None)
    if candidate is None:
        raise NotFound("not_found", f"no candidate {candidate_label!r} in {task.external_id}")
    files = {k: str(v) for k, v in candidate.files.items()}
    planted = plant(files, kind)
    diff = line_diff(files[planted.file_path], planted.files[planted.file_path])
    return Preview(planted, new_task_id(task), diff)
