"""The task file (JSONL, one task a line): its schema and a validator that reports every error.

Validation never writes: it reads the file once and returns every problem as
``FILE:LINE: field: message``. The importer only writes when the list is empty.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import from_json

from harness.errors import Conflict
from harness.settings import DEFAULT_MAX_FILE_BYTES
from harness.text import NUL_MESSAGE, has_nul
from sandboxes.base import check_relative_path

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,199}$"


# A file name inside a task: the sandbox's rule (relative, forward slashes, no '..'),
# checked by the schema so a bad name is reported with its line and field.
RelativePath = Annotated[str, AfterValidator(check_relative_path)]


def folders_apart(files: dict[str, str]) -> dict[str, str]:
    """No name is also the folder of another ("a" and "a/b.py"): written into one work
    dir, one of them could not be made."""
    names = set(files)
    clashes = sorted({f"{folder} and {name}" for name in names
                      for folder in _folders(name) if folder in names})
    if clashes:
        raise ValueError(f"a file is also the folder of another: {', '.join(clashes)}")
    return files


def _folders(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class CandidateIn(_Model):
    id: str = Field(pattern=ID_PATTERN)
    model: str = Field(default="", max_length=200)
    files: dict[RelativePath, str] = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("files")
    @classmethod
    def _files_apart(cls, files: dict[str, str]) -> dict[str, str]:
        return folders_apart(files)

    @field_validator("model")
    @classmethod
    def _text(cls, model: str) -> str:
        if has_nul(model):
            raise ValueError(NUL_MESSAGE)
        return model


class TaskIn(_Model):
    id: str = Field(pattern=ID_PATTERN)
    prompt: str = Field(min_length=1)
    language: str = Field(default="python", pattern=r"^[a-z0-9+#-]{1,32}$")
    tests: dict[RelativePath, str] = Field(default_factory=dict)
    # Trusted tests that run like `tests` but candidates never see, and annotators only
    # once they have submitted (the signature of memorised answers: visible pass, hidden fail).
    hidden_tests: dict[RelativePath, str] = Field(default_factory=dict)
    candidates: list[CandidateIn] = Field(min_length=2, max_length=6)
    metadata: dict[str, Any] = Field(default_factory=dict)
    gold: dict[str, Any] | None = None

    @field_validator("prompt")
    @classmethod
    def _text(cls, prompt: str) -> str:
        if has_nul(prompt):
            raise ValueError(NUL_MESSAGE)
        return prompt

    @field_validator("hidden_tests")
    @classmethod
    def _hidden_apart(cls, hidden: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        """Hidden and visible tests share the judge's test dir: a name is one or the other."""
        visible = info.data.get("tests") or {}
        both = sorted(name for name in hidden if name in visible)
        if both:
            raise ValueError(f"{', '.join(both)} also in tests; a file is visible or hidden, "
                             "not both")
        folders_apart({**visible, **hidden})
        return hidden

    @field_validator("tests")
    @classmethod
    def _tests_apart(cls, tests: dict[str, str]) -> dict[str, str]:
        return folders_apart(tests)

    @field_validator("candidates")
    @classmethod
    def _unique_candidates(cls, candidates: list[CandidateIn]) -> list[CandidateIn]:
        seen: set[str] = set()
        for c in candidates:
            if c.id in seen:
                raise ValueError(f"candidate id {c.id!r} appears twice in this task")
            seen.add(c.id)
        return candidates


def files_hash(files: dict[str, str]) -> str:
    """Content hash over file names and contents, independent of key order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name].encode()
        digest.update(f"{len(name.encode())}:{name}:{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()


def tests_hash(tests: dict[str, str], hidden: dict[str, str] | None = None) -> str:
    """Task.tests_hash: the visible tests' files_hash, or, when the task has hidden tests,
    a hash over both that says which files are which (a run keyed by it re-runs when
    either changes, or a file moves between them)."""
    if not hidden:
        return files_hash(tests)
    digest = hashlib.sha256(b"visible+hidden:")
    digest.update(files_hash(tests).encode())
    digest.update(files_hash(hidden).encode())
    return digest.hexdigest()


@dataclass
class Line:
    """One validated task: its line number and its JSON object (fields as TaskIn checked)."""

    number: int
    task: dict[str, Any]


@dataclass
class Validation:
    errors: list[str] = field(default_factory=list)
    count: int = 0
    ids: list[str] = field(default_factory=list)
    digest: str = ""  # of the bytes validated, so the import reads exactly those
    lines: list[Line] | None = None  # with `keep`: the tasks as validated, in file order


def _field_name(loc: tuple[int | str, ...], data: Any) -> str:
    """candidates.1.files.x.py -> candidates[b].files['x.py'], readable and exact."""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list):
            item = node[part] if part < len(node) else None
            label = item.get("id") if isinstance(item, dict) else None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{label if label else part}]"]
            node = item
        else:
            parts.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts) or "(line)"


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        yield from enumerate(fh, start=1)


def parse_line(raw: bytes, number: int, name: str, errors: list[str],
               parsed: list[Any] | None = None) -> TaskIn | None:
    """The line's task, checked; None for a blank line or one with errors (added to
    `errors`). With `parsed`, the line's JSON object is appended to it too."""
    if not raw.strip():
        return None
    try:  # fast path: pydantic parses and checks the JSON
        if parsed is None:
            return TaskIn.model_validate_json(raw)
        data = from_json(raw)
        task = TaskIn.model_validate(data)
        parsed.append(data)
        return task
    except (ValidationError, ValueError):
        pass  # report it the slow way below, with readable field names
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        errors.append(f"{name}:{number}: (line): not UTF-8 text (byte {exc.start})")
        return None
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.append(f"{name}:{number}: (line): invalid JSON: {exc.msg} at column {exc.colno}")
        return None
    except RecursionError:
        errors.append(f"{name}:{number}: (line): JSON nested too deep")
        return None
    if not isinstance(data, dict):
        errors.append(f"{name}:{number}: (line): expected a JSON object, got {type(data).__name__}")
        return None
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        errors.append(
            f"{name}:{number}: (line): contains a lone UTF-16 surrogate escape "
            "(\\ud800-\\udfff), which is not text"
        )
        return None
    try:
        return TaskIn.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            errors.append(f"{name}:{number}: {_field_name(tuple(err['loc']), data)}: {msg}")
        return None


def _size_errors(task: TaskIn, number: int, name: str, max_bytes: int) -> list[str]:
    out = []
    for key, files in (("tests", task.tests), ("hidden_tests", task.hidden_tests)):
        for path, text in files.items():
            if len(text.encode()) > max_bytes:
                out.append(f"{name}:{number}: {key}.{path}: larger than {max_bytes} bytes")
    for cand in task.candidates:
        for path, text in cand.files.items():
            size = len(text.encode())
            if size > max_bytes:
                out.append(
                    f"{name}:{number}: candidates[{cand.id}].files.{path}: "
                    f"{size} bytes, larger than the cap of {max_bytes} bytes"
                )
    return out


def validate_file(
    path: Path,
    *,
    existing_ids: set[str] | frozenset[str] = frozenset(),
    update: bool = False,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    keep: bool = False,
) -> Validation:
    """Check every line; collect every error. existing_ids are the project's task ids.
    `keep`: a file of at most KEEP_PARSED_BYTES keeps its tasks as parsed (`lines`), so an
    import need not read and parse it a second time (`iter_tasks`); a larger one is read
    again, its memory bounded by a batch."""
    name = str(path)
    result = Validation()
    first_line: dict[str, int] = {}
    digest = hashlib.sha256()
    parsed: list[Any] | None = None
    if keep and path.stat().st_size <= KEEP_PARSED_BYTES:
        parsed = result.lines = []
    for number, raw in iter_lines(path):
        digest.update(raw)
        before = len(parsed) if parsed is not None else 0
        task = parse_line(raw, number, name, result.errors, parsed)
        if task is None:
            continue
        if parsed is not None:
            if len(parsed) > before:  # the fast path's object: this line's, as a Line
                parsed[-1] = Line(number, parsed[-1])
            else:  # parsed by the slow path (it reports errors): no import follows
                parsed = result.lines = None
        result.errors.extend(_size_errors(task, number, name, max_bytes))
        if task.id in first_line:
            result.errors.append(
                f"{name}:{number}: id: {task.id!r} already appears on line {first_line[task.id]}"
            )
            continue
        first_line[task.id] = number
        if task.id in existing_ids and not update:
            result.errors.append(
                f"{name}:{number}: id: {task.id!r} already exists in the project "
                "(use --update to replace it)"
            )
        result.count += 1
        result.ids.append(task.id)
    if result.count == 0 and not result.errors:
        result.errors.append(f"{name}:1: (file): no tasks in the file")
    result.digest = digest.hexdigest()
    return result


KEEP_PARSED_BYTES = 128 * 1024 * 1024
"""The largest task file whose parsed tasks validate_file keeps for the import (its
objects take about 1.5 times the file's size)."""


def iter_tasks(path: Path, digest: str) -> Iterator[Line]:
    """The tasks of a file that validate_file passed, as its JSON objects (no second
    validation). Raises if the file is no longer the one that was validated."""
    check = hashlib.sha256()
    for number, raw in iter_lines(path):
        check.update(raw)
        if raw.strip():
            yield Line(number, from_json(raw))
    if check.hexdigest() != digest:
        raise FileChangedError(f"{path}: changed while it was being imported; nothing was imported")


class FileChangedError(Conflict):
    def __init__(self, message: str) -> None:
        super().__init__("file_changed", message)
