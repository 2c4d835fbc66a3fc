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
