"""init, user, token, project, import, status, serve, demo."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
