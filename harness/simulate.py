"""`harness simulate`: plausible annotations for demos, tests and benchmarks.

The simulated annotators are users with `simulated` set, so every export marks
their work (provenance). They work through the same services the review page
uses: `assignments.claim_next`, `annotate.save_draft` (a first contact, then
the draft with the active time) and `annotate.submit_annotation`, so the rules
on overlap, display order, leases, rubric checks and hint verdicts all hold.

Plausible: each candidate has a latent quality per task that every annotator
sees through their own noise, so annotators mostly agree and sometimes do not;
scores follow the quality, the ranking follows the scores (equal means tie),
findings fall on real lines of real files (more on weaker candidates), and
some visible hints get a verdict.

Deterministic for a seed: every choice comes from a generator seeded with the
seed, the task's external id, the candidate's label and the annotator's
number, never with database ids or the clock. Timestamps are real.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness import accounts, annotate, assignments, leases, settings
from harness.annotate import Shown
from harness.errors import InvalidInput
from harness.models import Assignment, Project, Role, Task, User, utcnow
from harness.rubric import RubricBody, body_of

CWES = (20, 22, 78, 79, 89, 295, 327, 502, 798)
COMMENTS = {
    "bug": ("off-by-one at the boundary", "does not handle the empty input",
            "wrong result for negative values", "mutates its argument"),
    "security": ("user input reaches a shell", "path is not confined to the base directory",
                 "weak hash for a password", "unsafe deserialisation of input"),
    "performance": ("quadratic loop over the input", "recomputes the same value each call"),
    "style": ("unclear name", "dead code left in", "long function, hard to follow"),
}
RATIONALES = (
    "The top candidate handles the edge cases and reads clearly; the others miss cases.",
    "Ranked by correctness first, then security; the lower ones fail on edge inputs.",
    "The first is correct and simple. The rest have bugs or risky input handling.",
)


@dataclass(frozen=True)
class SimulateReport:
    annotators: int
    annotations: int
    assignments: int


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))  # noqa: S311 - simulation, not security


def simulated_users(session: Session, project: Project, count: int, seed: int) -> list[User]:
    """sim-SEED-1 .. sim-SEED-N, created when missing, members of the project."""
    users = []
    for i in range(1, count + 1):
        name = f"sim-{seed}-{i}"
        user = session.scalars(select(User).where(User.name == name)).one_or_none()
        if user is None:
            user = accounts.add_user(session, name, Role.annotator, password=None)
            user.simulated = True
        elif not user.simulated:
            raise InvalidInput("user_exists", f"user {name!r} exists and is not simulated")
        accounts.add_member(session, project, user)
        users.append(user)
    session.flush()
    return users


def payload_for(
    rubric: RubricBody,
    shown: list[Shown],
    hints: dict[int, dict[str, Any]] | None,
    *,
    seed: int,
    task_key: str,
    annotator: int,
    version: int = 1,
) -> dict[str, Any]:
    """One annotator's draft for one task: scores, ranking, findings, verdicts, rationale."""
    rng = _rng(seed, task_key, annotator, version)
    shown = sorted(shown, key=lambda s: s.candidate.label)  # not the display order: ids vary
    label = {s.candidate.id: s.candidate.label for s in shown}
    quality = {s.candidate.id: _rng(seed, task_key, s.candidate.label).uniform(0.0, 1.0)
               for s in shown}
    scores: dict[str, dict[str, int]] = {}
    means: dict[int, float] = {}
    for s in shown:
        row = {}
        for criterion in rubric.criteria:
            lo, hi = criterion.scale.min, criterion.scale.max
            value = lo + quality[s.candidate.id] * (hi - lo) + rng.gauss(0.0, 0.6)
            row[criterion.key] = max(lo, min(hi, round(value)))
        scores[str(s.candidate.id)] = row
        means[s.candidate.id] = (
            sum(row.values()) / len(row) if row
            else round(quality[s.candidate.id] * 4 + rng.gauss(0.0, 0.5))
        )
    ranking: list[list[int]] = []
    if rubric.ranking.enabled:
        for cid in sorted(means, key=lambda c: (-means[c], label[c])):
            if ranking and rubric.ranking.ties and means[ranking[-1][0]] == means[cid]:
                ranking[-1].append(cid)
            else:
                ranking.append([cid])
    findings = []
    categories = [c for c in rubric.categories]
    for s in shown:
        expected = (1.0 - quality[s.candidate.id]) * 2.0
        for _ in range(int(expected + rng.random())):
            path = rng.choice(sorted(s.line_counts))
            lines = max(s.line_counts[path], 1)
            start = rng.randint(1, lines)
            end = min(lines, start + rng.randint(0, 3))
            category = rng.choice(categories)
            findings.append({
                "candidate_id": s.candidate.id,
                "file_path": path,
                "line_start": start,
                "line_end": end,
                "category": category.key,
                "severity": rng.choice(rubric.severities),
                "cwe": rng.choice(CWES) if category.cwe else None,
                "comment": rng.choice(COMMENTS.get(category.key, ("see these lines",))),
            })
    verdicts: dict[str, dict[str, str]] = {}
    for cid, known in sorted((hints or {}).items(), key=lambda item: label[item[0]]):
        for key in sorted(known):
            if rng.random() < 0.5:
                verdicts.setdefault(str(cid), {})[key] = rng.choice(annotate.VERDICTS)
    rationale = rng.choice(RATIONALES)
    while len(rationale) < rubric.rationale_min_chars:
        rationale += " " + rng.choice(RATIONALES)
    payload: dict[str, Any] = {
        "findings": findings,
        "scores": scores,
        "ranking": ranking,
        "rationale": rationale[: rubric.rationale_max_chars],
        "hint_verdicts": verdicts,
    }
    if rubric.confidence.enabled:
        payload["confidence"] = rng.randint(rubric.confidence.scale.min,
                                            rubric.confidence.scale.max)
    return payload


def longest_active(session: Session, project: Project) -> float:
    """Seconds of the longest simulated visit: 15 minutes, within the lease."""
    return min(900.0, 0.9 * 60.0 * leases.lease_minutes(session, project))


def _annotate(session: Session, assignment: Assignment, project: Project, rubric: RubricBody,
              *, seed: int, annotator: int, versions: int) -> int:
    """Draft and submit `versions` versions of one assignment; returns how many were stored."""
    task = assignment.task
    shown = annotate.shown_candidates(assignment, task.candidates)
    hints = None
    if project.hints_visible:
        hints = annotate.known_hints(session, task, shown,
                                     max_bytes=settings.max_file_bytes(session))
    stored = 0
    longest = longest_active(session, project)
    for version in range(1, versions + 1):
        rng = _rng(seed, task.external_id, annotator, version, "time")
        active = rng.uniform(0.05 * longest, longest)
        now = utcnow()
        started = now - timedelta(seconds=active)
        if version == 1:
            annotate.save_draft(session, assignment, project, None, now=started)
        else:
            assignment.draft_saved_at = started  # the page was reopened this long ago
        payload = payload_for(rubric, shown, hints, seed=seed, task_key=task.external_id,
                              annotator=annotator, version=version)
        annotate.save_draft(session, assignment, project, payload, active_seconds=active, now=now)
        result = annotate.submit_annotation(session, assignment, project, rubric, payload,
                                            acknowledge_warnings=True, now=now)
        if result.annotation is None:
            problems = "; ".join(f"{p.field}: {p.message}" for p in result.errors)
            raise InvalidInput("simulation_refused",
                               f"task {task.external_id}: the rubric refused a simulated "
                               f"annotation ({problems})")
        stored += 1
    return stored


def simulate(
    session: Session,
    project: Project,
    annotators: int,
    *,
    seed: int = 0,
    versions: int = 1,
    progress: Callable[[int], Any] | None = None,
    checkpoint: Callable[[], Any] | None = None,
) -> SimulateReport:
    """Simulated annotators take tasks in turn until the queue has nothing for any of them.

    `versions` > 1 resubmits each assignment (revisions, as annotators do). `checkpoint`
    is called after each assignment (the CLI commits there, in short transactions).
    """
    if annotators < 1:
        raise InvalidInput("invalid", "at least one annotator", field="annotators")
    if versions < 1:
        raise InvalidInput("invalid", "at least one version", field="versions")
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    users = simulated_users(session, project, annotators, seed)
    if checkpoint is not None:
        checkpoint()
    working = [(number, user.id) for number, user in enumerate(users, start=1)]
    project_id = project.id
    done = made = 0
    while working:
        still = []
        for number, user_id in working:
            # claimed as long ago as the longest visit, so the visit fits before now
            claimed_at = utcnow() - timedelta(seconds=longest_active(session, project))
            claim = assignments.claim_next(session, user_id, project, now=claimed_at)
            if claim.assignment is None:
                continue
            still.append((number, user_id))
            made += _annotate(session, claim.assignment, project, rubric, seed=seed,
                              annotator=number, versions=versions)
            done += 1
            if checkpoint is not None:
                checkpoint()
                # committed: forget the objects, or every flush walks all of them
                session.expunge_all()
                found = session.get(Project, project_id)
                assert found is not None
                project = found
            if progress is not None:
                progress(1)
        working = still
    return SimulateReport(annotators=annotators, annotations=made, assignments=done)


def expected_assignments(session: Session, project: Project, annotators: int) -> int:
    """How many assignments a simulation will make at most (the progress bar's length)."""
    tasks = session.scalar(select(func.count(Task.id)).where(Task.project_id == project.id)) or 0
    return int(tasks) * min(project.overlap, annotators)
