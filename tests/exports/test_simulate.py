"""harness simulate: plausible, marked simulated, deterministic for a seed."""

from __future__ import annotations

import json

from click.testing import CliRunner
from helpers import DEMO_TASKS
from sqlalchemy import func, select

from harness import simulate
from harness.cli import main
from harness.models import Annotation, Assignment, Candidate, Finding, Task, User


def _content(db, project) -> list[tuple]:
    """Every annotation in terms that do not depend on database ids."""
    label = dict(db.execute(select(Candidate.id, Candidate.label)).all())
    rows = db.execute(
        select(Task.external_id, User.name, Annotation.version, Annotation.scores,
               Annotation.ranking, Annotation.rationale, Annotation.confidence)
        .join(Assignment, Assignment.id == Annotation.assignment_id)
        .join(Task, Task.id == Assignment.task_id).join(User, User.id == Assignment.user_id)
        .where(Assignment.project_id == project.id)
    ).all()
    out = []
    for ext, name, version, scores, ranking, rationale, confidence in rows:
        out.append((ext, name, version,
                    json.dumps({label[int(k)]: v for k, v in scores.items()}, sort_keys=True),
                    json.dumps([sorted(label[c] for c in g) for g in ranking]),
                    rationale, confidence))
    return sorted(out)


def test_simulation_is_plausible_and_marked(db, simulated) -> None:
    project = simulated(annotators=3, overlap=2)
    tasks = db.scalar(select(func.count(Task.id)).where(Task.project_id == project.id))
    annotations = db.scalars(select(Annotation)).all()
    assert len(annotations) == tasks * 2  # k annotators per task, through claim_next
    users = db.scalars(select(User).join(Assignment).distinct()).all()
    assert users and all(u.simulated for u in users)
    assert any(any(len(g) > 1 for g in a.ranking) for a in annotations), "some ties"
    assert all(a.active_seconds > 0 and a.display_order for a in annotations)
    for f in db.scalars(select(Finding)):
        lines = f.candidate.files[f.file_path].count("\n") + 1
        assert 1 <= f.line_start <= f.line_end <= lines
    per_task = db.execute(select(Assignment.task_id, func.count()).group_by(Assignment.task_id))
    assert all(n == 2 for _, n in per_task)


def test_same_seed_same_annotations(db, simulated, session_factory, tmp_path) -> None:
    a = simulated("one", seed=5)
    b = simulated("two", seed=5)
    c = simulated("three", seed=6)
    one, two, three = _content(db, a), _content(db, b), _content(db, c)
    strip = lambda rows: [r[:1] + r[2:] for r in rows]  # noqa: E731 - names differ by seed only
    assert one == two
    assert strip(one) != strip(three)


def test_versions_add_annotation_versions(db, simulated) -> None:
    simulated(annotators=2, overlap=1, versions=3)
    versions = db.scalars(select(Annotation.version)).all()
    assert sorted(set(versions)) == [1, 2, 3]
    assert versions.count(3) == versions.count(1)


def test_cli_simulate(db, make_project, import_file, cli_env) -> None:
    project = make_project("cli")
    import_file(project, DEMO_TASKS)
    result = CliRunner().invoke(main, ["simulate", "cli", "--annotators", "2", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "simulated annotation(s)" in result.output
    assert db.scalar(select(func.count(Annotation.id))) > 0
    bad = CliRunner().invoke(main, ["simulate", "nope", "--annotators", "2"])
    assert bad.exit_code == 1 and "no project" in bad.output


def test_refuses_zero_annotators(db, make_project) -> None:
    import pytest

    from harness.errors import InvalidInput

    with pytest.raises(InvalidInput):
        simulate.simulate(db, make_project("z"), 0)
