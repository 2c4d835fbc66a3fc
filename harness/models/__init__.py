"""All tables, imported here so Alembic and the services see one metadata."""

from harness.models.analysis import Analysis, Highlight
from harness.models.base import MAX_ID, Base, utcnow
from harness.models.core import (
    ApiToken,
    AuditEvent,
    Candidate,
    LoginFailure,
    Project,
    ProjectMember,
    Qualification,
    Role,
    Rubric,
    Task,
    User,
    token_projects,
)
from harness.models.quality import Adjudication, ImportJob, QualificationAttempt, TaskStats
from harness.models.review import (
    Annotation,
    Assignment,
    Finding,
    HintVerdict,
    ProbeTest,
    Webhook,
    WebhookDelivery,
)
from harness.models.runs import TestRun

__all__ = [
    "MAX_ID",
    "Adjudication",
    "Analysis",
    "Annotation",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "Base",
    "Candidate",
    "Finding",
    "Highlight",
    "HintVerdict",
    "ImportJob",
    "LoginFailure",
    "ProbeTest",
    "Project",
    "ProjectMember",
    "Qualification",
    "QualificationAttempt",
    "Role",
    "Rubric",
    "Task",
    "TaskStats",
    "TestRun",
    "User",
    "token_projects",
    "utcnow",
    "Webhook",
    "WebhookDelivery",
]
