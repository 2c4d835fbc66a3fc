"""Checks of a submission against the rubric (every problem names its field), and the
consistency warnings that ask the annotator to look again without blocking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from harness.analysis.hints import Hint
from harness.annotate.common import (
    FAILING,
    MAX_COMMENT,
    VERDICTS,
    Problem,
    Shown,
)
from harness.cwe import MAX_CWE
from harness.errors import InvalidInput
from harness.models import (
    Candidate,
    Task,
)
from harness.rubric import RubricBody
from harness.runs import run_briefs
from harness.runs.hidden import visible_view
from harness.text import NUL_MESSAGE, has_nul, whole_number

# --- validation -----------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return whole_number(value)
    return None


def _check_findings(
    rubric: RubricBody, shown: list[Shown], findings: Any, problems: list[Problem],
    complete: bool = True,
) -> list[dict[str, Any]]:
    """The findings that pass every check; each one that does not adds its one problem."""
    if not isinstance(findings, list):
        problems.append(Problem("findings", "expected a list"))
        return []
    by_id = {s.candidate.id: s for s in shown}
    clean: list[dict[str, Any]] = []
    for i, item in enumerate(findings):
        checked = _check_finding(rubric, by_id, i, item)
        if isinstance(checked, Problem):
            problems.append(checked)
        else:
            clean.append(checked)
    if complete and rubric.findings_required and not findings:
        problems.append(Problem("findings", "record at least one finding"))
    return clean


def _check_finding(
    rubric: RubricBody, by_id: Mapping[int, Shown], i: int, item: Any
) -> dict[str, Any] | Problem:
    """One finding, cleaned, or the first problem with it (its place, then its kind,
    then its comment)."""
    where = f"findings.{i}"
    if not isinstance(item, dict):
        return Problem(where, "expected an object")
    cand = by_id.get(_int(item.get("candidate_id")) or -1)
    if cand is None:
        return Problem(f"{where}.candidate_id", "not a candidate of this task")
    label = f"Finding {i + 1} on candidate {cand.letter}"
    place = _finding_place(cand, item, where, label)
    if isinstance(place, Problem):
        return place
    kind = _finding_kind(rubric, item, where, label)
    if isinstance(kind, Problem):
        return kind
    comment = item.get("comment", "")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        over = f" ({len(comment) - MAX_COMMENT} over)" if isinstance(comment, str) else ""
        return Problem(f"{where}.comment",
                       f"{label}: comment of at most {MAX_COMMENT} characters{over}")
    if has_nul(comment):
        return Problem(f"{where}.comment", f"{label}: comment {NUL_MESSAGE}")
    return {"candidate": cand.candidate, **place, **kind, "comment": comment}


def _finding_place(
    cand: Shown, item: Mapping[str, Any], where: str, label: str
) -> dict[str, Any] | Problem:
    """file_path, line_start and line_end: a file of the candidate and a range inside it."""
    path = item.get("file_path")
    if not isinstance(path, str) or path not in cand.line_counts:
        return Problem(f"{where}.file_path", f"{label}: no such file")
    start, end = _int(item.get("line_start")), _int(item.get("line_end"))
    lines = cand.line_counts[path]
    if start is None or end is None or not 1 <= start <= end <= lines:
        return Problem(f"{where}.line_start",
                       f"{label}: lines must be a range within 1..{lines} of {path}")
    return {"file_path": path, "line_start": start, "line_end": end}


def _finding_kind(
    rubric: RubricBody, item: Mapping[str, Any], where: str, label: str
) -> dict[str, Any] | Problem:
    """category, severity and cwe: one of the rubric's, and a CWE only where it asks for one."""
    category = rubric.category(str(item.get("category") or ""))
    if category is None:
        keys = ", ".join(c.key for c in rubric.categories)
        return Problem(f"{where}.category", f"{label}: choose a category ({keys})")
    severity = item.get("severity")
    if severity not in rubric.severities:
        return Problem(f"{where}.severity",
                       f"{label}: choose a severity ({', '.join(rubric.severities)})")
    cwe: int | None = None
    raw_cwe = item.get("cwe")
    if category.cwe and raw_cwe not in (None, ""):
        cwe = _int(raw_cwe)
        if cwe is None or not 1 <= cwe <= MAX_CWE:
            return Problem(f"{where}.cwe", f"{label}: CWE must be a number")
    return {"category": category.key, "severity": severity, "cwe": cwe}


def _check_scores(
    rubric: RubricBody, shown: list[Shown], scores: Any, problems: list[Problem],
    complete: bool = True,
) -> dict[str, dict[str, int]]:
    clean: dict[str, dict[str, int]] = {}
    if not isinstance(scores, dict):
        problems.append(Problem("scores", "expected an object"))
        return clean
    for s in shown:
        given = scores.get(str(s.candidate.id)) or {}
        if not isinstance(given, dict):
            problems.append(Problem(f"scores.{s.candidate.id}", "expected an object"))
            continue
        row: dict[str, int] = {}
        for criterion in rubric.criteria:
            where = f"scores.{s.candidate.id}.{criterion.key}"
            raw = given.get(criterion.key)
            if raw in (None, ""):
                if complete and criterion.required:
                    problems.append(
                        Problem(where, f"Candidate {s.letter}: score {criterion.label}")
                    )
                continue
            value = _int(raw)
            lo, hi = criterion.scale.min, criterion.scale.max
            if value is None or not lo <= value <= hi:
                problems.append(
                    Problem(where, f"Candidate {s.letter}: {criterion.label} must be {lo}..{hi}")
                )
                continue
            row[criterion.key] = value
        clean[str(s.candidate.id)] = row
    return clean


def _check_ranking(
    rubric: RubricBody, shown: list[Shown], ranking: Any, problems: list[Problem],
    complete: bool = True,
) -> list[list[int]]:
    if not rubric.ranking.enabled:
        return []
    if ranking in (None, []):
        if complete and rubric.ranking.required:
            problems.append(Problem("ranking", "rank the candidates, best first"))
        return []
    if not isinstance(ranking, list) or not all(isinstance(g, list) and g for g in ranking):
        problems.append(Problem("ranking", "expected a list of groups of candidate ids"))
        return []
    ids = [s.candidate.id for s in shown]
    clean = [[_int(c) for c in group] for group in ranking]
    flat = [c for group in clean for c in group]
    if sorted(flat, key=lambda c: c or -1) != sorted(ids):
        problems.append(Problem("ranking", "rank every candidate exactly once"))
        return []
    if not rubric.ranking.ties and any(len(g) > 1 for g in clean):
        problems.append(Problem("ranking", "this rubric does not allow ties"))
        return []
    return [[int(c) for c in group if c is not None] for group in clean]


KnownHints = Mapping[int, Mapping[str, Hint]]
"""The hints each shown candidate had on the page: candidate id -> hint key -> hint."""


def known_hints(
    session: Session, task: Task, shown: list[Shown], *, max_bytes: int
) -> dict[int, dict[str, Hint]]:
    """The hints the review page shows for these candidates of `task` (the same stored
    analyses, in the task's context; max_bytes: the settings' file size cap)."""
    from harness.analysis.store import analyses_for, task_context  # loads the analyzers

    found = analyses_for(
        session, (s.candidate.content_hash for s in shown), context=task_context(task, max_bytes)
    )
    return {
        s.candidate.id: {h.key: h for h in found.get(s.candidate.content_hash, ([], {}))[0]}
        for s in shown
    }


def validate(
    rubric: RubricBody,
    shown: list[Shown],
    payload: Mapping[str, Any],
    hints: KnownHints | None = None,
    *,
    complete: bool = True,
) -> tuple[dict[str, Any], list[Problem]]:
    """The payload checked against the rubric; `hints` None means the page showed none.

    One set of rules for drafts and submissions: a draft (`complete=False`) is held
    to the same limits and ranges (lines within the file, comment and rationale
    lengths, scales, categories) and only skips what a submission adds: required
    answers, the rationale's minimum length, and whether a verdict's hint is still
    among the stored hints (that can change under a draft when hints are re-analysed).
    """
    problems: list[Problem] = []
    clean: dict[str, Any] = {
        "findings": _check_findings(rubric, shown, payload.get("findings", []), problems,
                                    complete),
        "scores": _check_scores(rubric, shown, payload.get("scores", {}), problems, complete),
        "ranking": _check_ranking(rubric, shown, payload.get("ranking"), problems, complete),
    }
    rationale = payload.get("rationale", "")
    if not isinstance(rationale, str):
        problems.append(Problem("rationale", "expected text"))
        rationale = ""
    text = rationale.strip()
    if not complete:
        pass
    elif rubric.rationale_required and not text:
        problems.append(Problem("rationale", "explain your ranking"))
    elif text and len(text) < rubric.rationale_min_chars:
        problems.append(
            Problem("rationale", f"at least {rubric.rationale_min_chars} characters, please")
        )
    if len(rationale) > rubric.rationale_max_chars:
        problems.append(Problem(
            "rationale", f"at most {rubric.rationale_max_chars} characters "
            f"({len(rationale) - rubric.rationale_max_chars} over)"))
    if has_nul(rationale):
        problems.append(Problem("rationale", NUL_MESSAGE))
    clean["rationale"] = rationale
    confidence = None
    if rubric.confidence.enabled:
        raw = payload.get("confidence")
        lo, hi = rubric.confidence.scale.min, rubric.confidence.scale.max
        if raw in (None, ""):
            if complete and rubric.confidence.required:
                problems.append(Problem("confidence", "say how confident you are"))
        else:
            confidence = _int(raw)
            if confidence is None or not lo <= confidence <= hi:
                problems.append(Problem("confidence", f"must be {lo}..{hi}"))
                confidence = None
    clean["confidence"] = confidence
    clean["hint_verdicts"] = _check_verdicts(
        shown, payload.get("hint_verdicts", {}), hints, problems, complete
    )
    return clean, problems


def _check_verdicts(
    shown: list[Shown], raw: Any, hints: KnownHints | None, problems: list[Problem],
    complete: bool = True,
) -> list[tuple[int, Hint, str]]:
    """Each verdict must be on a hint the candidate was shown with; None: no hints shown."""
    out: list[tuple[int, Hint, str]] = []
    if not isinstance(raw, dict):
        problems.append(Problem("hint_verdicts", "expected an object"))
        return out
    letters = {s.candidate.id: s.letter for s in shown}
    for cid, verdicts in raw.items():
        cand = _int(cid)
        if cand not in letters or not isinstance(verdicts, dict):
            problems.append(Problem(f"hint_verdicts.{cid}", "not a candidate of this task"))
            continue
        for key, verdict in verdicts.items():
            if verdict in (None, ""):
                continue
            where = f"hint_verdicts.{cid}.{str(key)[:300]}"
            if not complete:
                if verdict not in VERDICTS:
                    problems.append(Problem(where, "verdict is confirmed or false_positive"))
                continue
            if hints is None:
                problems.append(
                    Problem(where, "this project does not show hints, so they take no verdicts")
                )
                continue
            hint = hints.get(int(cand), {}).get(key) if isinstance(key, str) else None
            if hint is None:
                letter = letters[int(cand)]
                problems.append(Problem(where, f"Candidate {letter}: no such hint here"))
                continue
            if verdict not in VERDICTS:
                problems.append(Problem(where, "verdict is confirmed or false_positive"))
                continue
            out.append((int(cand), hint, verdict))
    return out


# --- warnings -------------------------------------------------------------------------


def run_outcomes(session: Session, task: Task, candidates: Sequence[Candidate]) -> dict[int, str]:
    """passed or failed per candidate, from its current finished run (same image and limits),
    by the visible tests only: the warnings reach annotators before they submit."""
    # a current run's key holds the task's tests hash, hidden tests included: its hidden
    # files are the task's
    hidden = list(task.hidden_tests or {})
    runs = run_briefs(session, task, results=bool(hidden))
    out: dict[int, str] = {}
    for c in candidates:
        run = runs.get(c.id)
        if run is None or run.state != "done":
            continue
        status = run.status  # the result's own status (complete_run writes both)
        if hidden:
            seen = visible_view(run.result, hidden) or {}
            status = seen.get("status", run.status)
        if status == "passed":
            out[c.id] = "passed"
        elif status in FAILING:
            out[c.id] = "failed"
    return out


def consistency_warnings(
    rubric: RubricBody,
    shown: list[Shown],
    payload: Mapping[str, Any],
    outcomes: Mapping[int, str],
) -> list[Problem]:
    """Questions worth a second look before submitting; they never block."""
    clean, _ = validate(rubric, shown, payload)
    ranking: list[list[int]] = clean["ranking"]
    if not ranking:
        return []
    letters = {s.candidate.id: s.letter for s in shown}
    warnings: list[Problem] = []
    top = ranking[0]
    scores: dict[str, dict[str, int]] = clean["scores"]
    keys = [c.key for c in rubric.criteria]
    for best in top:
        mine = scores.get(str(best), {})
        for other, theirs in scores.items():
            if int(other) in top or not keys:
                continue
            if all(k in mine and k in theirs and mine[k] < theirs[k] for k in keys):
                warnings.append(
                    Problem(
                        "ranking",
                        f"Candidate {letters[best]} is ranked first but scores below "
                        f"candidate {letters[int(other)]} on every criterion.",
                    )
                )
    security = {c.key for c in rubric.categories if c.cwe or c.key == "security"}
    for finding in clean["findings"]:
        cand = finding["candidate"].id
        severe = finding["severity"] in rubric.high_severities
        if cand in top and finding["category"] in security and severe:
            warnings.append(
                Problem(
                    "ranking",
                    f"Candidate {letters[cand]} is ranked first but has a "
                    f"{finding['severity']} security finding (lines "
                    f"{finding['line_start']}-{finding['line_end']}).",
                )
            )
            break
    # A passing candidate ranked low is no surprise when the annotator found a high or
    # critical problem in it (an injection passes tests): only clean passers count.
    severe_on = {f["candidate"].id for f in clean["findings"]
                 if f["severity"] in rubric.high_severities}
    for i, group in enumerate(ranking):
        for failing in (c for c in group if outcomes.get(c) == "failed"):
            below = [c for g in ranking[i + 1 :] for c in g
                     if outcomes.get(c) == "passed" and c not in severe_on]
            if below:
                names = " and ".join(f"candidate {letters[c]}" for c in below)
                levels = " or ".join(s for s in rubric.severities if s in rubric.high_severities)
                whose = "whose tests pass and which have" if len(below) > 1 else \
                    "whose tests pass and which has"
                warnings.append(
                    Problem(
                        "ranking",
                        f"Candidate {letters[failing]} fails its tests but is ranked above "
                        f"{names}, {whose} no {levels} finding.",
                    )
                )
    return warnings


def check_draft(rubric: RubricBody, shown: list[Shown], draft: Mapping[str, Any]) -> None:
    """Refuse a draft that breaks a rule a submission would refuse it for (not completeness)."""
    _, problems = validate(rubric, shown, draft, complete=False)
    if problems:
        first = problems[0]
        # finding messages name their finding; others get their field's name in front
        named = first.message if first.field.startswith("findings.") else \
            f"{first.field.split('.')[0]}: {first.message}"
        raise InvalidInput("invalid_draft", named, field=first.field,
                           errors=[f"{p.field}: {p.message}" for p in problems])
