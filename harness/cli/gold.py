"""harness gold plant: gold tasks made by planting a known bug into a passing candidate."""

from __future__ import annotations

import click

from harness import accounts, projects
from harness.cli.common import session, settings
from harness.gold import KINDS, new_task_id, plant_gold_task


@click.group()
def gold() -> None:
    """Gold tasks for qualification and for mixing into live work."""


@gold.command("plant")
@click.argument("project_slug", metavar="PROJECT")
@click.argument("task_id", metavar="TASK")
@click.argument("candidate", metavar="CANDIDATE")
@click.option("--kind", type=click.Choice(KINDS), required=True)
@click.option("--id", "new_id", default=None, help="Id of the new task (default TASK.<random>).")
@click.option("--no-run-check", is_flag=True,
              help="Plant even when the candidate has no passing test run.")
def plant_cmd(project_slug: str, task_id: str, candidate: str, kind: str, new_id: str | None,
              no_run_check: bool) -> None:
    """Add a gold task to PROJECT: CANDIDATE of TASK and a copy with a KIND bug planted,
    the planted lines as the known finding and the original ranked first."""
    with session() as s:
        project = accounts.project_by_slug(s, project_slug)
        task = projects.task_in(s, project, task_id)
        new_id = new_id or new_task_id(task)
        report = plant_gold_task(s, project, task, candidate, kind, new_id=new_id,
                                 require_passing=not no_run_check,
                                 max_bytes=settings().max_file_bytes)
    click.echo(f"gold task {new_id} added to {project_slug} ({report.created} task)")
