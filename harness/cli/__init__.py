"""The `harness` command. Each area keeps its commands in its own module.

Command modules load lazily (as Indico's CLI does): `harness --help` and
`harness serve` import only what they use, so the CLI starts fast. The short
help shown by `harness --help` lives in COMMANDS below, beside where each
command is found. Commands that need the web layer (serve, demo) live in web/
and are found through the "harness.commands" entry point group, so harness/
never imports flask.

Every command's refusals are `harness.errors.HarnessError`: this group turns
them into the lines of a file's problems on stderr and a one-line reason with
exit status 1, so no command maps errors by hand.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from harness.errors import HarnessError

COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("harness.cli.core:init", "Create the data dir and database (safe twice)."),
    "user": ("harness.cli.core:user", "Manage users."),
    "token": ("harness.cli.core:token", "Manage lab API tokens."),
    "project": ("harness.cli.core:project", "Manage projects."),
    "import": ("harness.cli.core:import_cmd", "Import a task file (JSONL) into a project."),
    "status": ("harness.cli.core:status_cmd", "Counts of a project's tasks, runs and work."),
    "hints": ("harness.cli.analysis:hints", "Static-analysis hints of files on disk."),
    "analyze": ("harness.cli.analysis:analyze", "Recompute a project's hints."),
    "sandbox": ("harness.cli.sandbox:sandbox", "Build, check and use the test sandbox."),
    "worker": ("harness.cli.runs:worker", "Execute queued test runs."),
    "runs": ("harness.cli.runs:runs", "A project's test runs, with a progress bar."),
    "simulate": ("harness.cli.lab:simulate_cmd", "Simulated annotators review a project."),
    "webhook": ("harness.cli.lab:webhook", "Add webhooks and deliver their queued events."),
    "export": ("harness.cli.exports:export_cmd", "Export a project's annotations (streamed)."),
    "rubric": ("harness.cli.rubric:rubric", "Check rubric files; pin a new rubric version."),
    "gold": ("harness.cli.gold:gold", "Gold tasks: plant a known bug into a passing candidate."),
}


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group="harness.commands")}


class HarnessGroup(click.Group):
    """Loads each command's module on first use; turns HarnessError into exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(_entry_points()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module, _, attr = COMMANDS[cmd_name][0].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        ep = _entry_points().get(cmd_name)
        return ep.load() if ep is not None else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Short help without importing every command module."""
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        rows += [(name, EXTRA_HELP.get(name, "")) for name in sorted(_entry_points())]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            if exc.errors:
                for line in exc.errors:
                    click.echo(line, err=True)
            raise click.ClickException(str(exc)) from None


EXTRA_HELP = {
    "serve": "Serve the web app (waitress; gunicorn with --workers N) and run tests in process.",
    "demo": "Init, demo users and the demo project, then serve.",
}


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="review-harness")
def main() -> None:
    """review-harness: review AI-generated code candidates side by side."""
