"""export: a project's annotations in a training-ready format, streamed."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness import accounts
from harness.cli.common import session


@click.command("export")
@click.argument("project_slug", metavar="PROJECT")
@click.option("--format", "fmt", required=True, metavar="FORMAT",
              help="jsonl, preferences, kto, ratings, battles, sarif, rankings or parquet.")
@click.option("--table", default=None, metavar="FORMAT",
              help="With --format parquet: which tabular format to write (default preferences).")
@click.option("--threshold", type=float, default=None,
              help="With --format kto: the mean rubric score at or above which a completion "
                   "is desirable (default: the middle of the scale).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output.")
def export_cmd(project_slug: str, fmt: str, table: str | None, threshold: float | None,
               output: Path | None) -> None:
    """Export PROJECT in FORMAT, streamed (constant memory), with a progress bar on stderr."""
    from harness import exports

    options = exports.ExportOptions(table=table, threshold=threshold)
    with session() as s:
        project = accounts.project_by_slug(s, project_slug)
        exporter = exports.get(fmt, options)
        total = exporter.count(s, project)
        out = output.open("wb") if output is not None else sys.stdout.buffer
        try:
            with click.progressbar(length=total, label=f"exporting {fmt}",
                                   file=sys.stderr) as bar:
                for chunk in exporter.stream(s, project, progress=bar.update):
                    out.write(chunk)
        finally:
            if output is not None:
                out.close()
