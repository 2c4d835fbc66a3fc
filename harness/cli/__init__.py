"""The `harness` command. Each area keeps its commands in its own module.

Commands that need the web layer (serve, demo) live in web/ and are found
through the "harness.commands" entry point group, so harness/ never imports
flask.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import click

from harness.cli import analysis, core, runs, sandbox


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="review-harness")
def main() -> None:
    """review-harness: review AI-generated code candidates side by side."""


for _module in (core, analysis, sandbox, runs):
    for _command in _module.COMMANDS:
        main.add_command(_command)

for _ep in entry_points(group="harness.commands"):
    main.add_command(_ep.load(), _ep.name)
