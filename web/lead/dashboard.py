"""The dashboard page and a CSV download of each of its tables."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, render_template
from flask.typing import ResponseReturnValue

from harness import dashboard
from harness.agreement import threshold_of
from harness.errors import NotFound
from web.access import project_or_404
from web.extensions import db
from web.lead import bp
from web.lead.charts import histogram_chart, progress_chart
from web.security import roles_required

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A spreadsheet never runs a cell: text that starts like a formula gets a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


@bp.route("/p/<slug>/dashboard")
@roles_required("lead")
def dashboard_page(slug: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    board = dashboard.dashboard(db.session, project)
    per_task = board.figures.per_task
    charts = {
        "progress": progress_chart(board.progress[1]),
        "w": histogram_chart(dashboard.histogram([t.w for t in per_task], lo=0.0),
                             "Kendall's W per task"),
        "findings": histogram_chart(dashboard.histogram([t.findings for t in per_task], lo=0.0),
                                    "Finding agreement per task"),
    }
    return render_template("lead/dashboard.html", project=project, board=board, charts=charts,
                           rate=dashboard.hourly_rate(project), threshold=threshold_of(project))


@bp.route("/p/<slug>/dashboard/<name>.csv")
@roles_required("lead")
def dashboard_csv(slug: str, name: str) -> ResponseReturnValue:
    project = project_or_404(slug)
    if name not in dashboard.TABLES:
        raise NotFound("not_found", f"no table {name!r}; there are {', '.join(dashboard.TABLES)}")
    header, rows = dashboard.table(db.session, project, name)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{project.slug}-{name}.csv"'})
