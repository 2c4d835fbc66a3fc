"""init, user, token, project, import, status, serve, demo."""

from __future__ import annotations

import json
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from harness import accounts, importer, projects, setup, status
from harness.cli.common import engine, fail, session, settings
from harness.models import Project, Role, User, utcnow


@click.command()
def init() -> None:
    """Create the data dir and database and run migrations (safe to run twice)."""
    cfg = settings()
    setup.migrate(engine(), say=click.echo)
    click.echo(f"data dir {cfg.data_dir}; database up to date")


@click.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["annotator", "lead", "admin", "lab"]), required=True)
@click.option("--project", "project_slugs", multiple=True, metavar="SLUG",
              help="Make the user a member of this project (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(name: str, role: str, project_slugs: tuple[str, ...], password_stdin: bool) -> None:
    """Add a user. Without --password-stdin a password is generated and printed once."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    with session() as s:
        accounts.add_user(s, name, role, password=password, projects=list(project_slugs))
    if password_stdin:
        click.echo(f"user {name} ({role}) added")
    else:
        click.echo(f"user {name} ({role}) added; password: {password}")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_passwd(name: str, password_stdin: bool) -> None:
    """Set a user's password and log out every session they have. Without
    --password-stdin a password is generated and printed once."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    with session() as s:
        accounts.set_password(s, accounts.user_by_name(s, name), password)
    shown = "" if password_stdin else f"; password: {password}"
    click.echo(f"password of {name} changed; their sessions are logged out{shown}")


@user.command("deactivate")
@click.argument("name")
def user_deactivate(name: str) -> None:
    """Deactivate a user: their sessions end, their password and API tokens are refused,
    and the tasks they hold go back to the queue. Their submitted work stays."""
    with session() as s:
        target = accounts.user_by_name(s, name)
        released = accounts.set_active(s, target, False)
    click.echo(f"user {name} deactivated; their sessions are logged out"
               + (f"; {released} task(s) they held are back in the queue" if released else ""))


@user.command("activate")
@click.argument("name")
def user_activate(name: str) -> None:
    """Let a deactivated user log in again (and use their API tokens)."""
    with session() as s:
        accounts.set_active(s, accounts.user_by_name(s, name), True)
    click.echo(f"user {name} is active again")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice([r.value for r in Role]), metavar="ROLE")
def user_role(name: str, role: str) -> None:
    """Change a user's role (from their next request on)."""
    with session() as s:
        accounts.set_role(s, accounts.user_by_name(s, name), role)
    click.echo(f"the role of {name} is now {role}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a user, a line each.")
def user_list(as_json: bool) -> None:
    """Every user: name, role, whether active, and the projects they are a member of."""
    with session() as s:
        rows = [(u.name, str(u.role), u.is_active, projects)
                for u, projects in accounts.users_with_projects(s)]
    if not rows:
        click.echo("no users yet: add one with `harness user add NAME --role ROLE`", err=True)
    for name, role, active, slugs in rows:
        if as_json:
            click.echo(json.dumps({"name": name, "role": role, "active": active,
                                   "projects": slugs}))
        else:
            click.echo(f"{name}\t{role}\t{'active' if active else 'deactivated'}\t"
                       f"{','.join(slugs) or '-'}")


@click.group()
def token() -> None:
    """Manage lab API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--project", "project_slugs", multiple=True, required=True, metavar="SLUG")
@click.option("--expires-days", type=click.IntRange(min=1), default=None,
              help="The token stops working after this many days (default: never).")
def token_create(username: str, project_slugs: tuple[str, ...], expires_days: int | None) -> None:
    """Create an API token for USERNAME on the given projects; prints it once."""
    with session() as s:
        found = s.scalars(select(User).where(User.name == username)).one_or_none()
        if found is None:
            raise fail(f"no user {username!r}")
        scoped = [accounts.project_by_slug(s, slug) for slug in project_slugs]
        expires = utcnow() + timedelta(days=expires_days) if expires_days else None
        _, secret = accounts.create_token(s, found, scoped, expires_at=expires)
    click.echo(secret)


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID (see `harness token list`); it answers 401 from now on."""
    with session() as s:
        accounts.revoke_token(s, token_id)
    click.echo(f"token {token_id} revoked")


@token.command("list")
@click.argument("username")
def token_list(username: str) -> None:
    """USERNAME's tokens: id, prefix, projects, expiry, last use, revoked."""
    with session() as s:
        found = s.scalars(select(User).where(User.name == username)).one_or_none()
        if found is None:
            raise fail(f"no user {username!r}")
        for t in accounts.tokens_of(s, found):
            state = "revoked" if t.revoked_at else "live"
            click.echo(f"{t.id}\t{t.prefix}…\t{','.join(p.slug for p in t.projects)}\t"
                       f"expires {t.expires_at or 'never'}\tlast used {t.last_used_at or 'never'}"
                       f"\t{state}")


@click.group()
def project() -> None:
    """Manage projects."""


@project.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def project_create(file: Path) -> None:
    """Create a project from a project file (YAML); imports its task file if it names one."""
    setup.migrate(engine())
    with session() as s:
        created, task_path = projects.create_project(s, file)
        report = _import(s, created, task_path, update=False) if task_path else None
    if report is not None:
        _after_import(created.id, report)
    click.echo(created.slug)


def _import(s: Session, target: Project, path: Path, *, update: bool) -> importer.ImportReport:
    """Import in the caller's transaction; the caller commits, then calls _after_import."""
    with path.open("rb") as fh:
        total = sum(1 for _ in fh)
    with click.progressbar(length=total, label=f"importing {path.name}", file=sys.stderr) as bar:
        try:
            return importer.import_tasks(
                s, target, path, update_existing=update,
                max_bytes=settings().max_file_bytes, progress=bar.update,
            )
        except importer.TaskFileError as exc:
            exc.message = f"{len(exc.errors)} error(s) in {path}; nothing was imported"
            raise


def _after_import(project_id: int, report: importer.ImportReport) -> None:
    """Runs queued and hints computed after the import has committed, in short
    transactions, so a server beside this command keeps answering."""
    with session() as s:
        target = s.get(Project, project_id)
        assert target is not None
        setup.after_import(
            s, target, report, progress=True,
            max_bytes=settings().max_file_bytes, checkpoint=s.commit,
        )


@click.command("import")
@click.argument("project_slug", metavar="PROJECT")
@click.argument("tasks", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--update", is_flag=True, help="Replace tasks whose id already exists.")
def import_cmd(project_slug: str, tasks: Path, update: bool) -> None:
    """Import a task file (JSONL) into PROJECT. A file with any error imports nothing."""
    with session() as s:
        target = accounts.project_by_slug(s, project_slug)
        report = _import(s, target, tasks, update=update)
    _after_import(target.id, report)
    click.echo(
        f"imported {report.created} new and {report.updated} updated task(s), "
        f"{report.candidates} candidate(s) into {project_slug}"
    )


@click.command("status")
@click.argument("project_slug", metavar="PROJECT")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status_cmd(project_slug: str, as_json: bool) -> None:
    """Counts of tasks, candidates, runs by status, assignments and annotations."""
    with session() as s:
        target = accounts.project_by_slug(s, project_slug)
        counts = status.project_status(s, target)
    if as_json:
        click.echo(json.dumps(counts, sort_keys=True))
        return
    for key, value in counts.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {v}" for k, v in sorted(value.items())) or "none"
            click.echo(f"{key}: {inner}")
        else:
            click.echo(f"{key}: {value}")


COMMANDS: list[click.Command] = [init, user, token, project, import_cmd, status_cmd]
