"""The audit trail: one helper that every service calls when it changes something
a lead may later ask about (who skipped, who submitted, who re-ran what)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from harness.models import AuditEvent


def record(
    session: Session,
    action: str,
    *,
    user_id: int | None = None,
    project_id: int | None = None,
    object_type: str = "",
    object_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event (`action` like "annotation.submit") to the session; no flush."""
    event = AuditEvent(user_id=user_id, project_id=project_id, action=action,
                       object_type=object_type, object_id=object_id, details=details)
    session.add(event)
    return event
