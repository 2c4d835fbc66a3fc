"""Users, passwords, memberships and lab API tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from harness import audit, leases
from harness.errors import Conflict, InvalidInput, NotFound
from harness.models import ApiToken, Assignment, Project, ProjectMember, Role, User, utcnow

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


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("invalid", f"at least {MIN_PASSWORD} characters",
                           field="password")


def set_password(session: Session, user: User, password: str, *,
                 by_user_id: int | None = None) -> None:
    """Set a new password and end every session the user has: the session epoch is
    bumped, and a session made under the old epoch is refused on its next request
    (web.auth.load_user). `by_user_id`: who did it (None is the CLI)."""
    check_new_password(password)
    user.password_hash = hash_password(password)
    user.session_epoch = (user.session_epoch or 0) + 1
    audit.record(session, "user.password", user_id=by_user_id, object_type="user",
                 object_id=user.id)
    session.flush()


def set_active(session: Session, user: User, active: bool, *,
               by_user_id: int | None = None, now: datetime | None = None) -> int:
    """Deactivate (or activate again) an account. A deactivated user's sessions end
    (the epoch moves on, so they stay ended after activation), their API tokens and
    password are refused while deactivated, and the tasks they hold go back to the pool
    at once (their leases expire; a draft stays with its assignment). Returns how many
    tasks were released. Conflict when the account is already so."""
    if user.is_active == active:
        raise Conflict("unchanged", f"user {user.name!r} is already "
                       f"{'active' if active else 'deactivated'}", )
    user.is_active = active
    released = 0
    if not active:
        user.session_epoch = (user.session_epoch or 0) + 1
        now = now or utcnow()
        lapsed = session.execute(  # their leases run out now: expire_leases' path hands
            update(Assignment)     # the tasks back, in its lock order
            .where(Assignment.user_id == user.id, Assignment.state == "active")
            .values(lease_expires_at=now - timedelta(seconds=1)))
        released = int(getattr(lapsed, "rowcount", 0) or 0)
        if released:
            leases.expire_leases(session, now)
    audit.record(session, "user.activate" if active else "user.deactivate",
                 user_id=by_user_id, object_type="user", object_id=user.id,
                 released=released)
    session.flush()
    return released


def set_role(session: Session, user: User, role: str, *, by_user_id: int | None = None) -> None:
    """Change an account's role; it applies from the user's next request (web.auth reads
    the role each time), and their API tokens follow it (`user_for_token`)."""
    if role not in Role.__members__:
        raise InvalidInput("invalid",
                           f"role {role!r}: expected one of {', '.join(Role.__members__)}",
                           field="role")
    if user.role == role:
        raise Conflict("unchanged", f"the role of {user.name!r} is already {role}")
    before, user.role = user.role, role
    audit.record(session, "user.role", user_id=by_user_id, object_type="user",
                 object_id=user.id, before=str(before), after=role)
    session.flush()


def users_with_projects(session: Session) -> list[tuple[User, list[str]]]:
    """Every user by name, with the slugs of the projects they are a member of."""
    slugs: dict[int, list[str]] = {}
    for user_id, slug in session.execute(
            select(ProjectMember.user_id, Project.slug)
            .join(Project, Project.id == ProjectMember.project_id).order_by(Project.slug)):
        slugs.setdefault(user_id, []).append(slug)
    return [(u, slugs.get(u.id, [])) for u in session.scalars(select(User).order_by(User.name))]


def user_by_name(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        raise NotFound("no_user", f"no user named {name!r}")
    return user


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
    if password is not None:
        check_new_password(password)
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


TOKEN_ROLES = (Role.lab, Role.admin, Role.lead)
"""Who may hold API tokens; a token of a user whose role changed since stops working."""


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


def create_token(
    session: Session,
    user: User,
    projects: list[Project],
    *,
    expires_at: datetime | None = None,
    by_user_id: int | None = None,
) -> tuple[ApiToken, str]:
    """A token scoped to `projects`; returns it and its secret, which is shown once and
    never stored (only its SHA-256 is). The user must be a member of every project."""
    if user.role not in TOKEN_ROLES:
        raise InvalidInput("invalid_role",
                           f"user {user.name!r} has role {user.role}; tokens are for lab users")
    if not projects:
        raise InvalidInput("invalid", "name at least one project", field="project")
    for project in projects:
        if not is_member(session, project, user):
            raise InvalidInput("not_member",
                               f"user {user.name!r} is not a member of project {project.slug!r}",
                               field="project")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("invalid", "the expiry is in the past", field="expires_at")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, prefix=secret[:10], token_hash=_token_hash(secret),
                     expires_at=expires_at)
    token.projects = list(projects)
    session.add(token)
    session.flush()
    audit.record(session, "token.create", user_id=by_user_id or user.id, object_type="token",
                 object_id=token.id, owner=user.id, projects=[p.slug for p in projects],
                 expires_at=expires_at.isoformat() if expires_at else None)
    session.flush()
    return token, secret


def revoke_token(session: Session, token_id: int, *, by_user: User | None = None) -> ApiToken:
    """Revoke a token (idempotent). `by_user`: a lab user may revoke only their own;
    None is the CLI, which may revoke any."""
    token = session.get(ApiToken, token_id)
    if token is None or (
        by_user is not None and by_user.role != Role.admin and token.user_id != by_user.id
    ):
        raise NotFound("not_found", f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, "token.revoke", user_id=by_user.id if by_user else None,
                     object_type="token", object_id=token.id)
        session.flush()
    return token


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included."""
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ))


def user_for_token(
    session: Session, secret: str, *, now: datetime | None = None
) -> tuple[User, ApiToken] | None:
    """The token's user if the secret is a live token (not revoked, not expired, user
    active); records its last use. The stored hash is compared in constant time."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    now = now or utcnow()
    digest = _token_hash(secret)
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).one_or_none()
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or not token.user.is_active:
        return None
    if token.user.role not in TOKEN_ROLES:  # made a lab user once, an annotator since
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    token.last_used_at = now
    return token.user, token
