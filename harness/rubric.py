"""Rubric files: YAML parsed into a pydantic schema; errors name file, line and field."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from harness import audit
from harness.db import execute_core
from harness.errors import Conflict, InvalidInput
from harness.models import Project, Rubric


class RubricError(InvalidInput):
    """A rubric file with problems: every one as FILE:LINE: field: message."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid_rubric", f"the rubric has {len(errors)} error(s)",
                         errors=errors)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Strict):
    min: int = 1
    max: int = 5
    labels: dict[int, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _range(self) -> Scale:
        if self.max <= self.min:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        for key in self.labels:
            if not self.min <= key <= self.max:
                raise ValueError(f"label {key} is outside {self.min}..{self.max}")
        return self


class Criterion(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    label: str = Field(min_length=1, max_length=120)
    description: str = ""
    scale: Scale = Field(default_factory=Scale)
    required: bool = True


class Category(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    label: str = Field(min_length=1, max_length=80)
    description: str = ""
    cwe: bool = False  # whether findings of this category carry a CWE


class Ranking(_Strict):
    enabled: bool = True
    ties: bool = True
    required: bool = True


class Confidence(_Strict):
    """How sure the annotator is of the ranking; `confidence: true` is the 1..5 default."""

    enabled: bool = True
    required: bool = True
    scale: Scale = Field(
        default_factory=lambda: Scale(min=1, max=5, labels={1: "guessing", 5: "certain"})
    )


SEVERITY_KEY = r"^[a-z][a-z0-9_]{0,19}$"


class RubricBody(_Strict):
    name: str = Field(min_length=1, max_length=120)
    version: str = Field(min_length=1, max_length=40)
    description: str = ""
    instructions: str = ""  # markdown, sanitised when shown
    criteria: list[Criterion] = Field(default_factory=list)
    categories: list[Category] = Field(
        default_factory=lambda: [
            Category(key="bug", label="Bug"),
            Category(key="security", label="Security", cwe=True),
            Category(key="performance", label="Performance"),
            Category(key="style", label="Style"),
        ]
    )
    severities: list[str] = Field(
        default_factory=lambda: ["low", "medium", "high", "critical"], min_length=1
    )
    ranking: Ranking = Field(default_factory=Ranking)
    rationale_required: bool = True
    rationale_min_chars: int = Field(default=0, ge=0, le=10_000)
    rationale_max_chars: int = Field(default=20_000, ge=1, le=100_000)
    confidence: Confidence = Field(default_factory=Confidence)
    findings_required: bool = False  # at least one finding per annotation

    @property
    def high_severities(self) -> frozenset[str]:
        """The last two severities listed (mildest first): a security finding on the
        top-ranked candidate with one of these is worth a warning."""
        return frozenset(self.severities[-2:])

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence_flag(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return {"enabled": value, "required": value}
        return value

    @field_validator("criteria", "categories")
    @classmethod
    def _unique_keys(cls, items: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for item in items:
            if item.key in seen:
                raise ValueError(f"duplicate key {item.key!r}")
            seen.add(item.key)
        return items

    @field_validator("severities")
    @classmethod
    def _severity_keys(cls, items: list[str]) -> list[str]:
        for item in items:
            if not re.match(SEVERITY_KEY, item):
                raise ValueError(f"severity {item!r}: lower-case letters, digits and _ only")
        if len(set(items)) != len(items):
            raise ValueError("duplicate severity")
        return items

    @model_validator(mode="after")
    def _rankable(self) -> RubricBody:
        if self.rationale_max_chars < self.rationale_min_chars:
            raise ValueError("rationale_max_chars is below rationale_min_chars")
        if not self.criteria and not self.ranking.enabled:
            raise ValueError("a rubric needs criteria, a ranking, or both")
        return self

    def category(self, key: str) -> Category | None:
        return next((c for c in self.categories if c.key == key), None)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if hasattr(k, "value")}
    return _Mapping(mapping, lines, node.start_mark.line + 1)


class _Mapping(dict[Any, Any]):
    def __init__(self, data: dict[Any, Any], lines: dict[Any, int], line: int) -> None:
        super().__init__(data)
        self.lines = lines
        self.line = line


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    line = getattr(data, "line", None)
    node = data
    for part in loc:
        if isinstance(node, _Mapping):
            line = node.lines.get(part, node.line)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        else:
            break
    return line


def load_yaml_with_lines(text: str, name: str) -> Any:
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise RubricError([f"{name}:{line}: YAML syntax: {problem}"]) from None


def format_validation_errors(exc: ValidationError, data: Any, name: str) -> list[str]:
    errors = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(data, loc) or 1
        errors.append(f"{name}:{line}: {field}: {err['msg']}")
    return errors


def parse_rubric(text: str, name: str = "<rubric>") -> RubricBody:
    data = load_yaml_with_lines(text, name)
    if not isinstance(data, dict):
        raise RubricError([f"{name}:1: (top level): expected a mapping of rubric fields"])
    try:
        return RubricBody.model_validate(data)
    except ValidationError as exc:
        raise RubricError(format_validation_errors(exc, data, name)) from None


def content_hash(text: str) -> str:
    """What identifies a rubric version: any change to the file is a new version."""
    return hashlib.sha256(text.encode()).hexdigest()


def load_rubric_file(path: Path) -> tuple[RubricBody, str, str]:
    """Returns the parsed rubric, its source text and its content hash."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError([f"{path}:1: cannot read: {exc}"]) from None
    body = parse_rubric(text, str(path))
    return body, text, content_hash(text)


# --- versions: a rubric row per content; projects pin one, annotations keep theirs ---------


def store_rubric_text(session: Session, text: str, name: str = "<rubric>") -> Rubric:
    """The rubric row for exactly this content, created when new (a new version).

    Rows are never changed: a project pins one row, and every annotation records
    the row it was checked against, so an edit to the file (even one that keeps
    its `version:` line) is a row of its own and old annotations keep theirs.
    """
    body = parse_rubric(text, name)
    digest = content_hash(text)
    rubric = session.scalars(
        select(Rubric).where(Rubric.name == body.name, Rubric.content_hash == digest)
    ).one_or_none()
    if rubric is None:
        rubric = Rubric(name=body.name, version=body.version, content_hash=digest,
                        source=text, body=body.model_dump(mode="json"))
        session.add(rubric)
        session.flush()
    return rubric


def store_rubric(session: Session, path: Path) -> Rubric:
    """store_rubric_text of a file on disk (errors name the file)."""
    _body, text, _digest = load_rubric_file(path)
    return store_rubric_text(session, text, str(path))


def version_label(rubric: Rubric) -> str:
    """How pages and the CLI name a version: the file's own version and its content."""
    return f"{rubric.name} {rubric.version} · {rubric.content_hash[:8]}"


def replace_rubric(session: Session, project: Project, text: str, *, name: str,
                   user_id: int | None) -> Rubric:
    """Pin a new version of the project's rubric; annotations submitted from now on use it.

    Only a new version of the same rubric (same `name:`) is taken: what is already
    annotated stays checked against the version it was made with, and a different
    rubric is a different project. The same content again is refused, as nothing
    would change.
    """
    old = project.rubric
    body = parse_rubric(text, name)
    if body.name != old.name:
        raise InvalidInput("rubric_name", f"this project's rubric is {old.name!r}; a new "
                           f"version must keep that name (the file says {body.name!r})",
                           field="rubric")
    if content_hash(text) == old.content_hash:
        raise Conflict("same_rubric", "the project already uses exactly this rubric version",
                       field="rubric")
    new = store_rubric_text(session, text, name)
    project.rubric_id = new.id
    project.rubric = new
    audit.record(session, "project.rubric", user_id=user_id, project_id=project.id,
                 object_type="rubric", object_id=new.id, previous=old.id,
                 version=version_label(new))
    session.flush()
    return new


_BODIES: dict[str, RubricBody] = {}


_RUBRIC_HASH = select(Rubric.content_hash).where(Rubric.id == bindparam("rubric_id"))


def remember_hash(session: Session, rubric_id: int, content_hash: str) -> None:
    """A rubric's content hash read along with its project (a write's lookup,
    harness.assignments.own_in_project): `project_rubric` then runs no statement of its
    own while the parse is cached."""
    session.info.setdefault("rubric_hashes", {})[rubric_id] = content_hash


def project_rubric(session: Session, project: Project) -> RubricBody:
    """The project's parsed rubric, read once per session (rubric rows never change):
    its body only when the parse is not cached yet, else one short column (none when the
    hash came with the project: `remember_hash`)."""
    known: dict[int, RubricBody] = session.info.setdefault("rubric_bodies", {})
    parsed = known.get(project.rubric_id)
    if parsed is None and "rubric" not in project.__dict__:
        content_hash = session.info.get("rubric_hashes", {}).get(project.rubric_id)
        if content_hash is None:
            content_hash = execute_core(session, _RUBRIC_HASH,
                                        {"rubric_id": project.rubric_id}).scalar()
        parsed = _BODIES.get(content_hash or "")
    if parsed is None:  # the body (deferred by the review page's statement) only on a miss
        rubric = project.rubric
        parsed = _BODIES.get(rubric.content_hash) or body_of(rubric.content_hash, rubric.body)
    known[project.rubric_id] = parsed
    return parsed


def body_of(content_hash: str, body: dict[str, Any]) -> RubricBody:
    """The parsed rubric of a stored row, cached by its content hash (rows never change)."""
    parsed = _BODIES.get(content_hash)
    if parsed is None:
        parsed = RubricBody.model_validate(body)
        if len(_BODIES) > 256:
            _BODIES.clear()
        _BODIES[content_hash] = parsed
    return parsed
