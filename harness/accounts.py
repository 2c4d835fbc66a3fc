"""Users, passwords, memberships and lab API tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from harness import audit
from harness.errors import Conflict, InvalidInput, NotFound
from harness.models import ApiToken, Project, ProjectMember, Role, User, utcnow

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$")
TOKEN_PREFIX = "rh_"  # noqa: S105 - a public marker, not a secret
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash or not user.is_active:
        # Same cost as a real check, so a missing user is not told apart by timing.
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(user.password_hash, password)


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(8))


def project_by_slug(session: Session, slug: str) -> Project:
    project = session.scalars(select(Project).where(Project.slug == slug)).one_or_none()
    if project is None:
        raise NotFound("no_project", f"no project with slug {slug!r}")
    return project


def add_user(
    session: Session,
    name: str,
    role: str,
    *,
    password: str | None,
    projects: Sequence[str] = (),
) -> User:
    if not NAME_RE.match(name):
        raise InvalidInput(
            "invalid",
            f"user name {name!r}: letters, digits and . _ @ - only, at most 80 characters",
        )
    if role not in Role.__members__:
        raise InvalidInput("invalid",
                           f"role {role!r}: expected one of {', '.join(Role.__members__)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise InvalidInput("invalid", f"password: at least {MIN_PASSWORD} characters")
    if session.scalars(select(User).where(User.name == name)).first() is not None:
        raise Conflict("user_exists", f"user {name!r} already exists")
    found = [project_by_slug(session, slug) for slug in projects]
    user = User(name=name, role=role, password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    for project in found:
        add_member(session, project, user)
    audit.record(session, "user.add", user_id=user.id, object_type="user", object_id=user.id,
                 role=role, projects=list(projects))
    session.flush()
    return user


def add_member(session: Session, project: Project, user: User) -> ProjectMember:
    member = session.scalars(
        select(ProjectMember).where(
            ProjectMember.project_id == project.id, ProjectMember.user_id == user.id
        )
    ).one_or_none()
    if member is None:
        member = ProjectMember(project_id=project.id, user_id=user.id)
        session.add(member)
        session.flush()
    return member


def is_member(session: Session, project: Project, user: User) -> bool:
    if user.role == Role.admin:
        return True
    return (
        session.scalar(
            select(ProjectMember.id).where(
                ProjectMember.project_id == project.id, ProjectMember.user_id == user.id
            )
        )
        is not None
    )


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(session: Session, user: User, projects: list[Project]) -> str:
    """Returns the secret once; only its hash is stored."""
    if user.role not in (Role.lab, Role.admin, Role.lead):
        raise InvalidInput("invalid_role",
                           f"user {user.name!r} has role {user.role}; tokens are for lab users")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, prefix=secret[:10], token_hash=_token_hash(secret))
    token.projects = list(projects)
    session.add(token)
    session.flush()
    return secret


def user_for_token(session: Session, secret: str) -> tuple[User, ApiToken] | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    digest = _token_hash(secret)
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).one_or_none()
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    token.last_used_at = utcnow()
    return token.user, token
