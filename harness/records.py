"""An annotation version's record: the text the jsonl export and the lab API's annotation
pages give for it, and the JSON encoders they write with.

A record is three parts put together when it is read:

- the head, which the read supplies: `source`, the ids, `latest` (a newer version may come),
  the task's external id and gold flag, the hashed annotator (keyed by the secret key,
  which an admin may change) and the simulated flag;
- the body, fixed when the version is submitted (`record_body`): rubric, time, order shown,
  scores, ranking, rationale, confidence, findings and hint verdicts, each candidate named
  by its label. Versions are never edited, nor are the labels, rubric rows and findings
  they name (an imported task that has been handed out may not be changed), so the body
  is written once, with the version (`Annotation.record`, migration 0012), and an export
  or a page reads one text instead of the version's findings and verdicts and their JSON;
- the task's candidates with their current test runs (these change as runs finish),
  encoded once per task.

`record_body` is the one definition of the body: submit stores it, and a read builds it
the same way from the stored rows for a version that has none (one written before 0012
and not yet filled, `fill_missing`).

No heavy imports here: the submit path loads this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default)
dumps: Callable[[Any], str] = _ENCODER.encode
"""A record as one line of compact JSON (the encoder is made once, not per record)."""


def fast_dumps(value: Any) -> str:
    """`dumps` by orjson, five to six times faster, for values of JSON's own types whose
    floats are finite: what the annotation and preference records hold (ids, flags, texts,
    rubric-checked integer scores, rounded active seconds). The same text, but for how a
    float's exponent is written (1e-05 is 0.00001): the same values when read. orjson
    writes NaN and infinities as null, so values that may hold them (fits, test results)
    go through `dumps`; so does what orjson refuses (an integer beyond 64 bits, a key that
    is not text, a lone surrogate)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return dumps(value)


def label_of(labels: Mapping[Any, str], candidate_id: Any) -> str:
    """A candidate's label from its id (int, or text as JSON keys give it); the id itself
    if it is not one of the task's candidates."""
    found = labels.get(candidate_id)
    if found is None:
        try:
            found = labels.get(int(candidate_id))
        except (TypeError, ValueError):
            found = None
    return found if found is not None else str(candidate_id)


FindingValues = tuple[Any, str, int, int, str, str, "int | None", str, str]
"""(candidate_id, file_path, line_start, line_end, category, severity, cwe, comment,
content_hash), in the order the findings were recorded."""

VerdictValues = tuple[Any, str, str, str]
"""(candidate_id, hint_key, rule_id, verdict), in the order they were recorded."""


def record_body(
    *,
    labels: Mapping[Any, str],
    rubric: str,
    rubric_version: str,
    submitted_at: datetime,
    active_seconds: float | None,
    display_order: Iterable[Any],
    hints_visible: bool,
    scores: Mapping[Any, Any],
    ranking: Sequence[Sequence[Any]],
    rationale: str | None,
    confidence: int | None,
    findings: Iterable[FindingValues],
    verdicts: Iterable[VerdictValues],
) -> str:
    """The members of a version's record fixed at submit (JSON text without the braces).
    `labels` is the task's candidate id -> label; an order entry that is not one of them
    is left out, a score, ranking or finding entry keeps its id."""
    return fast_dumps({
        "rubric": rubric,
        "rubric_version": rubric_version,
        "submitted_at": submitted_at.astimezone(UTC).isoformat(),
        "active_seconds": round(float(active_seconds or 0.0), 3),
        "display_order": [labels[c] for c in display_order if c in labels],
        "hints_visible": bool(hints_visible),
        "scores": {label_of(labels, c): s for c, s in scores.items()},
        "ranking": [[label_of(labels, c) for c in group] for group in ranking],
        "rationale": rationale or "",
        "confidence": confidence,
        "findings": [
            {"file_path": path, "line_start": start, "line_end": end, "category": category,
             "severity": severity, "cwe": cwe, "comment": comment, "content_hash": digest,
             "candidate": label_of(labels, cid)}
            for cid, path, start, end, category, severity, cwe, comment, digest in findings],
        "hint_verdicts": [
            {"candidate": label_of(labels, cid), "hint_key": key, "rule_id": rule,
             "verdict": verdict}
            for cid, key, rule, verdict in verdicts],
    })[1:-1]
