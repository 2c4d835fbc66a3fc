"""Drafts: the page's state saved as it is typed (shape-checked, never judged), and active time."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from harness.annotate.common import (
    CLOCK_SLACK,
    DRAFT_KEYS,
    MAX_DRAFT_BYTES,
    MAX_FINDINGS,
    AnnotateError,
)
from harness.assignments import DEFAULT_LEASE_MINUTES, lease_minutes, renew_lease
from harness.models import (
    Assignment,
    Project,
    utcnow,
)

# --- drafts ---------------------------------------------------------------------------


def normalise_draft(raw: Any) -> dict[str, Any]:
    """The draft with its known keys and their types checked; nothing else is kept."""
    if not isinstance(raw, dict):
        raise AnnotateError("draft", "expected an object")
    draft: dict[str, Any] = {}
    types: dict[str, tuple[type, ...]] = {
        "findings": (list,),
        "scores": (dict,),
        "ranking": (list,),
        "rationale": (str,),
        "confidence": (int, type(None)),
        "hint_verdicts": (dict,),
    }
    for key in DRAFT_KEYS:
        if key not in raw:
            continue
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, types[key]):
            raise AnnotateError(key, f"expected {' or '.join(t.__name__ for t in types[key])}")
        draft[key] = value
    if len(draft.get("findings", [])) > MAX_FINDINGS:
        raise AnnotateError("findings", f"at most {MAX_FINDINGS}")
    if len(json.dumps(draft)) > MAX_DRAFT_BYTES:
        raise AnnotateError("draft", f"larger than {MAX_DRAFT_BYTES // 1024} KiB")
    return draft


def add_active_time(
    assignment: Assignment, seconds: Any, now: datetime, *, cap: float | None = None
) -> float:
    """Add the client's active seconds, capped by the time since the last contact.

    A page that was offline for a while sends all the time it counted meanwhile,
    and gets it: only the elapsed time (plus a little clock slack) bounds it, and
    `cap` (the lease length) bounds what a forged client can claim in one request.
    """
    try:
        claimed = float(seconds or 0)
    except (TypeError, ValueError):
        claimed = 0.0
    if claimed != claimed or claimed <= 0:  # NaN or nothing
        return 0.0
    last = assignment.draft_saved_at or assignment.created_at or now
    elapsed = max((now - last).total_seconds(), 0.0)
    added = min(claimed, elapsed + CLOCK_SLACK)
    if cap is not None:
        added = min(added, cap)
    assignment.active_seconds = float(assignment.active_seconds or 0.0) + added
    return added


def _writable(
    session: Session, assignment: Assignment, project: Project, now: datetime, lease_default: int
) -> None:
    if assignment.state == "skipped":
        raise AnnotateError("assignment", "this task was skipped; it can no longer be edited")
    if assignment.state == "submitted":
        return
    if not renew_lease(session, assignment, project, now=now, default_lease_minutes=lease_default):
        raise AnnotateError(
            "lease", "your lease on this task ran out and others have taken it; take the next task"
        )


def save_draft(
    session: Session,
    assignment: Assignment,
    project: Project,
    draft: Any | None,
    *,
    active_seconds: Any = 0,
    now: datetime | None = None,
    lease_default: int = DEFAULT_LEASE_MINUTES,
) -> float:
    """Store the draft (None: a heartbeat only), add active time, renew the lease.

    Returns the seconds added. draft_saved_at doubles as the time of last contact.
    """
    now = now or utcnow()
    _writable(session, assignment, project, now, lease_default)
    if draft is not None:
        assignment.draft = normalise_draft(draft)
    cap = 60.0 * lease_minutes(project, lease_default)
    added = add_active_time(assignment, active_seconds, now, cap=cap)
    assignment.draft_saved_at = now
    session.flush()
    return added
