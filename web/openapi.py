"""The OpenAPI 3.1 document of /api/v1, its schemas written from pydantic models."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from harness import exports, labapi


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(_Out):
    code: str
    message: str
    field: str
    errors: list[str] | None = None


class Error(_Out):
    error: ErrorBody


class Counts(_Out):
    tasks: int
    candidates: int
    annotations: int


class ProjectOut(_Out):
    slug: str
    name: str
    description: str
    state: str
    overlap: int
    rubric: str
    rubric_version: str
    counts: Counts


class ProjectList(_Out):
    items: list[ProjectOut]


class TaskSummary(_Out):
    id: str
    language: str
    prompt: str
    is_gold: bool
    candidates: list[str]


class TaskPage(_Out):
    items: list[TaskSummary]
    next_cursor: str | None


class TestOutcome(_Out):
    name: str | None
    outcome: str | None


class RunOut(_Out):
    state: str
    status: str | None
    backend: str | None
    isolation: str | None
    integrity: str | None = None  # "split" or "in_process": how the run executed
    tests: list[TestOutcome]


class HintOut(_Out):
    analyzer: str
    rule_id: str
    title: str
    severity: str
    confidence: str | None
    cwe: int | None
    file_path: str
    line_start: int
    line_end: int
    message: str
    doc_url: str | None


class CandidateOut(_Out):
    label: str
    model: str
    files: dict[str, str]
    content_hash: str
    run: RunOut | None
    hints: list[HintOut]


class TaskOut(_Out):
    id: str
    language: str
    prompt: str
    is_gold: bool
    tests: dict[str, Any]
    candidates: list[CandidateOut]


class _FindingFields(_Out):
    """What a finding says, in an annotation and in an adjudicated result alike."""

    candidate: str
    file_path: str
    line_start: int
    line_end: int
    category: str
    severity: str
    cwe: int | None
    comment: str


class FindingOut(_FindingFields):
    content_hash: str


class HintVerdictOut(_Out):
    candidate: str
    hint_key: str
    rule_id: str
    verdict: str


class CandidateRun(_Out):
    label: str
    model: str
    content_hash: str
    run: RunOut | None


class AnnotationOut(_Out):
    source: str
    id: int
    assignment_id: int
    version: int
    latest: bool
    task_id: str
    is_gold: bool
    annotator: str
    simulated: bool
    rubric: str
    rubric_version: str
    submitted_at: str
    active_seconds: float
    display_order: list[str]
    hints_visible: bool
    scores: dict[str, dict[str, int]]
    ranking: list[list[str]]
    rationale: str
    confidence: int | None
    findings: list[FindingOut]
    hint_verdicts: list[HintVerdictOut]
    candidates: list[CandidateRun]


class AnnotationPage(_Out):
    items: list[AnnotationOut]
    next_cursor: str
    has_more: bool


class FinalFindingOut(_FindingFields):
    from_annotations: list[int]


class AdjudicationOut(_Out):
    source: str
    task_id: str
    is_gold: bool
    adjudicator: str | None
    updated_at: str
    ranking: list[list[str]]
    findings: list[FinalFindingOut]
    notes: str
    annotation_ids: list[int]
    simulated: bool
    candidates: list[CandidateRun]


class AdjudicationPage(_Out):
    items: list[AdjudicationOut]
    next_cursor: str | None


class ExportFormat(_Out):
    format: str
    media_type: str
    tabular: bool


class ExportList(_Out):
    items: list[ExportFormat]


MODELS: list[type[BaseModel]] = [Error, ProjectList, ProjectOut, TaskPage, TaskOut,
                                 AnnotationPage, AdjudicationPage, ExportList]


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


ERRORS = {
    "400": _json(Error, "The request is malformed (a cursor, a limit, a format)."),
    "401": _json(Error, "No token, or an unknown, revoked or expired one."),
    "404": _json(Error, "Not in this token's scope, or does not exist."),
}
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "A project's slug (one of the token's projects)."}
LIMIT = {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1},
         "description": f"Page size; default {labapi.DEFAULT_PAGE}, capped at {labapi.MAX_PAGE}."}


def _get(op_id: str, summary: str, ok: dict[str, Any],
         params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"get": {"operationId": op_id, "summary": summary, "parameters": params or [],
                    "responses": {"200": ok, **ERRORS}}}


@cache
def document() -> dict[str, Any]:
    _, defs = models_json_schema([(m, "serialization") for m in MODELS],
                                 ref_template="#/components/schemas/{model}")
    tabular = [name for name, cls in exports.FORMATS.items() if cls.tabular]
    export_ok = {"description": "The export, streamed.", "content": {
        cls.media_type: {"schema": {"type": "string"}}
        for cls in exports.FORMATS.values()}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "review-harness lab API", "version": "1",
                 "description": "Projects in a token's scope, their tasks, candidates with "
                                "runs and hints, annotation versions by cursor, adjudicated "
                                "results, and exports."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": defs.get("$defs", {}),
        },
        "paths": {
            "/projects": _get("listProjects", "The projects this token may read.",
                              _json(ProjectList, "The token's projects.")),
            "/projects/{slug}": _get("getProject", "One project with its counts.",
                                     _json(ProjectOut, "The project."), [SLUG]),
            "/projects/{slug}/tasks": _get(
                "listTasks", "The project's tasks, a page at a time.",
                _json(TaskPage, "A page of tasks; next_cursor is null on the last."),
                [SLUG, LIMIT, {"name": "cursor", "in": "query", "required": False,
                               "schema": {"type": "string"}}]),
            "/projects/{slug}/tasks/{task_id}": _get(
                "getTask", "A task with its candidates, their runs and hints.",
                _json(TaskOut, "The task."),
                [SLUG, {"name": "task_id", "in": "path", "required": True,
                        "schema": {"type": "string"}}]),
            "/projects/{slug}/annotations": _get(
                "listAnnotations",
                "Annotation versions after the `since` cursor, oldest first. Pass "
                "next_cursor back as `since` to pull what was added meanwhile.",
                _json(AnnotationPage, "A page of annotation versions."),
                [SLUG, LIMIT, {"name": "since", "in": "query", "required": False,
                               "schema": {"type": "string"}}]),
            "/projects/{slug}/adjudications": _get(
                "listAdjudications",
                "A lead's final ranking and findings for each adjudicated task, in task "
                "order. Exports use these instead of the task's annotations (jsonl adds "
                "them); `source` is \"adjudicated\".",
                _json(AdjudicationPage, "A page of adjudicated results; next_cursor is null "
                                        "on the last."),
                [SLUG, LIMIT, {"name": "cursor", "in": "query", "required": False,
                               "schema": {"type": "string"}}]),
            "/projects/{slug}/exports": _get("listExports", "The export formats.",
                                             _json(ExportList, "The formats."), [SLUG]),
            "/projects/{slug}/exports/{format}": _get(
                "export", "A whole export of the project, streamed.", export_ok,
                [SLUG,
                 {"name": "format", "in": "path", "required": True,
                  "schema": {"type": "string", "enum": list(exports.FORMATS)}},
                 {"name": "table", "in": "query", "required": False,
                  "schema": {"type": "string", "enum": tabular},
                  "description": "With format parquet: which tabular format."},
                 {"name": "threshold", "in": "query", "required": False,
                  "schema": {"type": "number"},
                  "description": "With format kto: the desirable mean score."}]),
            "/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document.", "security": [],
                "responses": {"200": {"description": "The OpenAPI document.",
                                      "content": {"application/json": {
                                          "schema": {"type": "object"}}}}}}},
        },
    }
