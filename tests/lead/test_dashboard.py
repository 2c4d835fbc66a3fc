"""The dashboard: per-annotator work, pay and gold accuracy, position bias, CSV, plots."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from helpers import task_line, write_jsonl
from lead.support import annotate_task
from sqlalchemy import select, update

from harness import dashboard
from harness.models import Assignment, Project
from web.lead.dashboard import _cell

GOLD = {"findings": [{"candidate": "b", "file_path": "solution.py", "line_start": 2,
                      "line_end": 2, "category": "bug"}], "ranking": [["a"], ["b"]]}


def make(db, make_project, make_user, import_file, tmp_path: Path) -> Project:
    project = make_project("d", overlap=2)
    project.settings = {"hourly_rate": 30}
    db.commit()
    lines = [task_line("g1", gold=GOLD), task_line("t2"), task_line("t3")]
    import_file(project, write_jsonl(tmp_path / "d.jsonl", lines))
    ann1, ann2 = make_user("ann1", projects=["d"]), make_user("ann2", projects=["d"])
    for _ in range(3):  # ann1 ranks in display order: the first shown always wins
        annotate_task(db, project, ann1)
    annotate_task(db, project, ann2)  # g1: ann2 also ranks the first shown best
    db.execute(update(Assignment).where(Assignment.user_id == ann1.id).values(active_seconds=1200))
    db.commit()
    return project


def test_annotators_table_pay_and_gold(db, make_project, make_user, import_file, tmp_path) -> None:
    project = make(db, make_project, make_user, import_file, tmp_path)
    header, rows = dashboard.annotators_table(db, project)
    by = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert by["ann1"]["submitted"] == 3 and by["ann1"]["active_hours"] == 1.0
    assert by["ann1"]["tasks_per_hour"] == 3.0 and by["ann1"]["earnings_estimate"] == 30.0
    assert by["ann1"]["gold_answers"] == 1 and by["ann2"]["gold_answers"] == 1
    # no findings (recall 0: F1 0) and the ranking right or wrong: 0.5 * (tau + 1) / 2
    scores = {by[n]["gold_accuracy"] for n in ("ann1", "ann2")}
    assert scores <= {0.0, 0.5}
    header, rows = dashboard.gold_table(db, project)
    assert [(r[0], r[2]) for r in rows] == [("ann1", 1), ("ann2", 1)]
    assert {r[3] for r in rows} == scores


def test_position_bias_counts_the_first_shown(db, make_project, make_user, import_file,
                                              tmp_path) -> None:
    project = make(db, make_project, make_user, import_file, tmp_path)
    bias, (header, rows) = dashboard.position_bias(db, project)
    assert (bias.ranked, bias.first_won, bias.expected) == (4, 4, 0.5)
    assert bias.rate == 1.0
    assert rows == [[1, 4, 1.0]]


def test_progress_and_histogram() -> None:
    assert dashboard.histogram([0.05, 0.95, 1.0, None], bins=2, lo=0.0) == [
        (0.0, 0.5, 1), (0.5, 1.0, 2)]


def test_dashboard_page_csv_and_plots(db, make_project, make_user, import_file, tmp_path,
                                      login) -> None:
    make(db, make_project, make_user, import_file, tmp_path)
    make_user("boss", role="lead", projects=["d"])
    client = login("boss")
    page = client.get("/p/d/dashboard").get_data(as_text=True)
    main = page.split("<main", 1)[1].split("</main>")[0]
    assert '<svg class="chart"' in main and "<script" not in main
    assert "100% of 4 rankings; chance alone gives 50%" in page
    resp = client.get("/p/d/dashboard/annotators.csv")
    assert resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0][0] == "annotator" and {r[0] for r in rows[1:]} == {"ann1", "ann2"}
    progress = list(csv.reader(io.StringIO(
        client.get("/p/d/dashboard/progress.csv").get_data(as_text=True))))
    assert progress[-1][2] == "4"
    assert client.get("/p/d/dashboard/nope.csv").status_code == 404
    assert login("ann1").get("/p/d/dashboard").status_code == 403
    assert db.scalar(select(Project.id).where(Project.slug == "d"))


def test_csv_cells_never_run_as_formulas() -> None:
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("-2+3") == "'-2+3" and _cell(-2) == -2 and _cell(None) == ""
