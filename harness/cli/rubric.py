"""harness rubric check FILE | set PROJECT FILE: rubric files and the versions projects pin."""

from __future__ import annotations

from pathlib import Path

import click

from harness import accounts
from harness.cli.common import session
from harness.rubric import RubricError, load_rubric_file, replace_rubric, version_label


@click.group()
def rubric() -> None:
    """Check rubric files; pin a new rubric version on a project."""


@rubric.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check(file: Path) -> None:
    """Validate FILE. Every problem is printed as FILE:LINE: field: message (exit 1)."""
    body, _text, digest = load_rubric_file(file)  # RubricError: the group prints each line
    click.echo(
        f"{file}: ok: rubric {body.name!r} version {body.version} "
        f"(content {digest[:8]}), {len(body.criteria)} criteria, "
        f"{len(body.categories)} finding categories"
    )


@rubric.command("set")
@click.argument("project_slug", metavar="PROJECT")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def set_cmd(project_slug: str, file: Path) -> None:
    """Pin FILE as PROJECT's rubric: a new version that annotations submitted from now on
    use; annotations already made keep the version they were made with."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError([f"{file}:1: cannot read: {exc}"]) from None
    with session() as s:
        project = accounts.project_by_slug(s, project_slug)
        new = replace_rubric(s, project, text, name=str(file), user_id=None)
        label = version_label(new)
    click.echo(f"{project_slug}: rubric is now {label}")
