"""Recording a lead's adjudication of a task through harness.adjudication (the service
the lead's page uses), for the export and API tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from harness import accounts, adjudication
from harness.models import Adjudication, Project, Task, User
from harness.reviews import task_reviews


def lead_of(session: Session, project: Project, name: str = "boss") -> User:
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        user = accounts.add_user(session, name, "lead", password=None)
    accounts.add_member(session, project, user)
    session.flush()
    return user


def adjudicate(session: Session, project: Project, task: Task, *,
               ranking: list[list[int]] | None = None,
               findings: list[dict[str, Any]] | None = None) -> Adjudication:
    """The task's candidates ranked worst-first by default (the reverse of their order,
    untied), with one final finding on the first candidate's first file merged from
    every annotator finding on that candidate, unless `findings` is given."""
    reviews = task_reviews(session, task)
    cands = list(task.candidates)
    if ranking is None:
        ranking = [[c.id] for c in reversed(cands)]
    if findings is None:
        first = cands[0]
        merged = [f.id for r in reviews for f in r.findings if f.candidate_id == first.id]
        findings = [{"candidate_id": first.id, "file_path": sorted(first.files)[0],
                     "line_start": 1, "line_end": 1, "category": "bug", "severity": "high",
                     "comment": "adjudicated: off by one", "merged_from": merged}]
    body = adjudication.AdjudicationIn(ranking=ranking, findings=findings, notes="final word")
    lead = lead_of(session, project)
    return adjudication.record_adjudication(session, project, task, reviews, body,
                                            user_id=lead.id)
