"""An export as a streamed download, for the token API and the browser alike.

The response body is produced after the request has ended, so it reads through
a session of its own from the app's factory (never the request's), and the
format and options are checked before the first byte is sent: a refusal is
still the one JSON error shape or an error page.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response

from harness import exports
from harness.errors import InvalidInput
from harness.models import Project
from web.extensions import db


def options_from(args: dict[str, str]) -> exports.ExportOptions:
    threshold = args.get("threshold")
    try:
        value = float(threshold) if threshold not in (None, "") else None
    except ValueError:
        raise InvalidInput("invalid", "expected a number", field="threshold") from None
    if value is not None and value != value:
        raise InvalidInput("invalid", "expected a number", field="threshold")
    return exports.ExportOptions(table=args.get("table") or None, threshold=value)


def download(project: Project, fmt: str, options: exports.ExportOptions) -> Response:
    exporter = exports.get(fmt, options)  # refuses unknown formats and tables here
    factory = db.factory
    project_id = project.id
    filename = exporter.filename(project)

    def body() -> Iterator[bytes]:
        with factory() as session:
            target = session.get(Project, project_id)
            assert target is not None
            yield from exporter.stream(session, target)

    return Response(body(), mimetype=exporter.media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    })
