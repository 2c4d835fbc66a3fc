"""simulate: plausible annotations for demos, tests and benchmarks."""

from __future__ import annotations

import sys

import click

from harness import accounts
from harness import simulate as simulation
from harness.cli.common import session


@click.command("simulate")
@click.argument("project_slug", metavar="PROJECT")
@click.option("--annotators", type=click.IntRange(min=1, max=500), required=True,
              help="How many simulated annotators work on the project.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The same seed on the same project makes the same annotations.")
@click.option("--versions", type=click.IntRange(min=1, max=20), default=1, show_default=True,
              help="Annotation versions per assignment (resubmissions).")
def simulate_cmd(project_slug: str, annotators: int, seed: int, versions: int) -> None:
    """Simulated annotators review PROJECT through the review services (marked simulated)."""
    with session() as s:
        project = accounts.project_by_slug(s, project_slug)
        total = simulation.expected_assignments(s, project, annotators)
        with click.progressbar(length=total, label=f"simulating {project_slug}",
                               file=sys.stderr) as bar:
            report = simulation.simulate(s, project, annotators, seed=seed, versions=versions,
                                         progress=bar.update, checkpoint=s.commit)
    click.echo(f"{report.annotations} simulated annotation(s) on {report.assignments} "
               f"assignment(s) by {report.annotators} annotator(s) in {project_slug}")


@click.group()
def webhook() -> None:
    """Webhooks: signed JSON events (annotation.submitted, task.completed, project.completed)."""


@webhook.command("add")
@click.argument("project_slug", metavar="PROJECT")
@click.argument("url")
@click.option("--event", "events", multiple=True,
              type=click.Choice(["annotation.submitted", "task.completed", "project.completed"]),
              help="Send only these events (repeatable; default all).")
def webhook_add(project_slug: str, url: str, events: tuple[str, ...]) -> None:
    """Send PROJECT's events to URL; prints the signing secret once."""
    from harness import webhooks

    with session() as s:
        project = accounts.project_by_slug(s, project_slug)
        hook, secret = webhooks.add_webhook(s, project, url, events or webhooks.EVENTS)
    click.echo(f"webhook {hook.id}; signing secret (shown once): {secret}")


@webhook.command("deliver")
@click.option("--loop", is_flag=True, help="Keep delivering, every few seconds.")
def webhook_deliver(loop: bool) -> None:
    """Send the queued webhook deliveries that are due (retries back off exponentially)."""
    import time

    from harness import webhooks
    from harness.cli.common import session_factory

    while True:
        counts = webhooks.deliver_due(session_factory())
        if not loop:
            click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))
            return
        time.sleep(5)
