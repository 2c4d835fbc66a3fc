"""sarif: findings as SARIF 2.1.0, one run per model.

ruleId is the finding's category, with its CWE when it has one (security/CWE-89).
Each result's location is the candidate's file (task/candidate/path) and line
range; `agreement` is the share of the task's annotators who marked an
overlapping range of the same category on the same file of that candidate.
An adjudicated task gives the lead's final findings instead of each annotator's
(`source` in the properties says which; their agreement is still measured against the
annotators' findings).
The document is written as it is read: each run's results first, then its tool
(JSON objects are unordered), so only the rule ids seen are held.

sarif-schema-2.1.0.json beside this file is the OASIS SARIF 2.1.0 schema
(errata 01, from the sarif-spec repository's Schemata/), re-indented; the tests
validate every export against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from harness.exports import source
from harness.exports.adjudicated import ADJUDICATED, ANNOTATIONS, AdjudicatedRow, iter_adjudicated
from harness.exports.base import CHUNK, Exporter, Progress, dumps
from harness.exports.tasks import CandidateInfo, TaskInfo
from harness.models import Candidate, Project, Task

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"low": "note", "medium": "warning", "high": "error", "critical": "error"}


@cache
def schema() -> dict[str, Any]:
    """The official SARIF 2.1.0 JSON schema (draft 4), shipped with the package."""
    loaded: dict[str, Any] = json.loads(
        (Path(__file__).parent / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    return loaded


def rule_id(category: str, cwe: int | None) -> str:
    return f"{category}/CWE-{cwe}" if cwe else category


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a["candidate_id"] == b["candidate_id"] and a["file_path"] == b["file_path"]
            and a["category"] == b["category"] and a["line_start"] <= b["line_end"]
            and b["line_start"] <= a["line_end"])


def agreement(finding: dict[str, Any], rows: list[source.AnnotationRow]) -> float:
    agreeing = sum(1 for r in rows if any(_overlaps(finding, f) for f in r.findings))
    return agreeing / len(rows) if rows else 0.0


class Sarif(Exporter):
    name = "sarif"
    media_type = "application/sarif+json"
    extension = "sarif"
    tabular = False
    latest_only: ClassVar[bool] = True

    def models(self, session: Session, project: Project) -> list[str]:
        rows = session.execute(
            select(Candidate.model, Candidate.label).join(Task)
            .where(Task.project_id == project.id).distinct()).all()
        return sorted({model or label for model, label in rows})

    def count(self, session: Session, project: Project) -> int:
        return source.count(session, project, latest_only=True) * len(
            self.models(session, project))

    def results(self, session: Session, project: Project, model: str,
                progress: Progress | None) -> Iterator[dict[str, Any]]:
        """The model's results, task by task; both streams are in task order, so an
        adjudicated task's final findings meet its annotations without holding either."""
        finals = iter_adjudicated(session, project, with_files=False)
        final = next(finals, None)
        for task, rows in source.by_task(session, project):
            if progress is not None:
                progress(len(rows))
            while final is not None and final.task.id < task.id:
                yield from self._final(final, [], model)
                final = next(finals, None)
            if final is not None and final.task.id == task.id:
                yield from self._final(final, rows, model)
                final = next(finals, None)
                continue
            for row in rows:
                for f in row.findings:
                    cand = task.candidates.get(f["candidate_id"])
                    if cand is None or (cand.model or cand.label) != model:
                        continue
                    yield self._result(task, cand, f, rows, {
                        "source": ANNOTATIONS, "annotator": row.annotator,
                        "annotation_id": row.id, "simulated": row.simulated,
                        "content_hash": f["content_hash"]})
        while final is not None:
            yield from self._final(final, [], model)
            final = next(finals, None)

    def _final(self, final: AdjudicatedRow, rows: list[source.AnnotationRow],
               model: str) -> Iterator[dict[str, Any]]:
        for f in final.findings:
            cand = final.task.candidates.get(f["candidate_id"])
            if cand is None or (cand.model or cand.label) != model:
                continue
            yield self._result(final.task, cand, f, rows, {
                "source": ADJUDICATED, "adjudicator": final.adjudicator,
                "from_annotations": f.get("from_annotations", []),
                "simulated": final.simulated, "content_hash": cand.content_hash})

    @staticmethod
    def _result(task: TaskInfo, cand: CandidateInfo, f: dict[str, Any],
                rows: list[source.AnnotationRow], provenance: dict[str, Any]) -> dict[str, Any]:
        return {
            "ruleId": rule_id(f["category"], f["cwe"]),
            "level": LEVELS.get(f["severity"], "warning"),
            "message": {"text": f["comment"] or f["category"]},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": f"{task.external_id}/{cand.label}/{f['file_path']}"},
                "region": {"startLine": f["line_start"], "endLine": f["line_end"]}}}],
            "properties": {
                "agreement": round(agreement(f, rows), 4),
                "annotators": len(rows), "severity": f["severity"],
                "category": f["category"], "cwe": f["cwe"],
                "task_id": task.external_id, "candidate": cand.label} | provenance,
        }

    def stream(self, session: Session, project: Project,
               progress: Progress | None = None) -> Iterator[bytes]:
        yield ('{"$schema":' + json.dumps(SCHEMA_URI) + ',"version":"2.1.0","runs":[').encode()
        for n, model in enumerate(self.models(session, project)):
            rules: dict[str, None] = {}
            parts = ["," if n else "", '{"results":[']
            size = 0
            first = True
            for result in self.results(session, project, model, progress):
                rules.setdefault(result["ruleId"])
                text = ("" if first else ",") + dumps(result)
                first = False
                parts.append(text)
                size += len(text)
                if size >= CHUNK:
                    yield "".join(parts).encode()
                    parts, size = [], 0
            tool = {"driver": {
                "name": "review-harness",
                "rules": [{"id": r, "name": r.replace("/", "_").replace("-", "_")} for r in rules],
            }}
            run_props = {"model": model, "project": project.slug}
            parts.append('],"tool":' + dumps(tool) + ',"properties":' + dumps(run_props) + "}")
            yield "".join(parts).encode()
        yield b"]}\n"
