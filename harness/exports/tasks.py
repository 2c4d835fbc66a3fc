"""Tasks and candidates (with their current test runs) of a batch of annotation
versions, loaded in bulk and kept across one batch boundary; and the helper every
batched read here uses: stored JSON decoded in one call."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Text, bindparam, cast, literal_column, select
from sqlalchemy.orm import Session

from harness.models import Candidate, Project, Task, TestRun
from harness.runs import dedup_key, image_tag, limits_for
from harness.runs.queue import NO_TESTS_HASH, newest_runs


def decode_all(texts: list[str | None]) -> list[Any]:
    """Many stored JSON texts decoded by one call (json.loads per value was a third of the
    reading time; orjson decodes in less than half json's time); SQL NULL becomes None.
    What orjson refuses and the standard library reads (NaN, an integer beyond 64 bits:
    nothing our writers store) is read by the standard library, as before."""
    text = "[" + ",".join(t if t is not None else "null" for t in texts) + "]"
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


@dataclass(frozen=True)
class CandidateInfo:
    id: int
    label: str
    model: str
    files: dict[str, Any]
    content_hash: str
    run: dict[str, Any] | None

    @property
    def completion(self) -> str:
        """The candidate's code as one text: its file, or each file under a header."""
        if len(self.files) == 1:
            return str(next(iter(self.files.values())))
        return "\n".join(f"# file: {path}\n{text}" for path, text in sorted(self.files.items()))


@dataclass(frozen=True)
class TaskInfo:
    id: int
    external_id: str
    prompt: str
    is_gold: bool
    candidates: dict[int, CandidateInfo]

    def model_of(self, candidate_id: int) -> str:
        """The candidate's model (its label when the model is hidden or unknown)."""
        cand = self.candidates.get(candidate_id)
        return (cand.model or cand.label) if cand is not None else ""


def run_summary(run: TestRun | None) -> dict[str, Any] | None:
    """Status, isolation and per-test outcomes of a candidate's current run."""
    if run is None:
        return None
    result = run.result or {}
    return {
        "state": run.state,
        "status": run.status,
        "backend": run.backend,
        "isolation": run.isolation,
        "integrity": result.get("integrity"),
        "tests": [{"name": t.get("name"), "outcome": t.get("outcome")}
                  for t in result.get("tests", []) if isinstance(t, dict)],
    }


# Built once: building a select took about as long as SQLite took to run it.
_TASKS = (select(Task.id, Task.external_id, Task.prompt, Task.is_gold, Task.tests_hash)
          .where(Task.id.in_(bindparam("ids", expanding=True))))


@functools.cache
def _candidates_statement(with_files: bool) -> Any:
    files = (cast(Candidate.files, Text) if with_files else literal_column("NULL")).label("files")
    return (select(Candidate.id, Candidate.task_id, Candidate.label, Candidate.model, files,
                   Candidate.content_hash)
            .where(Candidate.task_id.in_(bindparam("ids", expanding=True)))
            # By task first: the (task_id, label) index gives that order, so SQLite sorts
            # only within a task instead of the whole batch with its files (half the time).
            .order_by(Candidate.task_id, Candidate.position, Candidate.id))


class TaskLoader:
    """Tasks and candidates (with their current runs) of one batch, loaded in bulk. The
    previous batch's tasks are kept, so a task whose versions straddle two batches is
    read once (versions come in id order, and a task's versions are close together)."""

    def __init__(self, session: Session, project: Project, with_runs: bool,
                 with_files: bool = True) -> None:
        self.session = session
        self.with_files = with_files
        self.project = project
        self.with_runs = with_runs and project.tests_enabled
        self.limits = limits_for(project.sandbox_limits).key()
        self.image = image_tag()
        self.kept: dict[int, TaskInfo] = {}

    def load(self, task_ids: Iterable[int]) -> dict[int, TaskInfo]:
        wanted = set(task_ids)
        found = {i: self.kept[i] for i in wanted if i in self.kept}
        if len(found) < len(wanted):
            found.update(self._read(sorted(wanted - found.keys())))
        self.kept = found
        return found

    def _read(self, ids: Sequence[int]) -> dict[int, TaskInfo]:
        # Rows are unpacked as tuples: a Row's attributes by name cost about a microsecond
        # each, which was most of this method's time.
        conn = self.session.connection()
        tasks = conn.execute(_TASKS, {"ids": list(ids)}).all()
        cands = conn.execute(_candidates_statement(self.with_files), {"ids": list(ids)}).all()
        keys: dict[int, str] = {}
        if self.with_runs:
            tests_hash = {t[0]: t[4] for t in tasks}
            image, limits, mode = self.image, self.limits, self.project.execution_mode
            for cid, task_id, _, _, _, content_hash in cands:
                if tests_hash[task_id] != NO_TESTS_HASH:
                    keys[cid] = dedup_key(content_hash, tests_hash[task_id], image, limits, mode)
        runs = newest_runs(self.session, keys.values()) if keys else {}
        by_task: dict[int, dict[int, CandidateInfo]] = {t[0]: {} for t in tasks}
        files = decode_all([c[4] for c in cands]) if self.with_files else [None] * len(cands)
        for (cid, task_id, label, model, _, content_hash), files_of in zip(cands, files,
                                                                            strict=True):
            run = runs.get(keys[cid]) if cid in keys else None
            by_task[task_id][cid] = CandidateInfo(cid, label, model, files_of or {},
                                                  content_hash, run_summary(run))
        return {tid: TaskInfo(tid, external_id, prompt, is_gold, by_task[tid])
                for tid, external_id, prompt, is_gold, _ in tasks}
