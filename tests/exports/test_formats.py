"""Exports: preferences against the stored rankings, TRL columns through `datasets`,
Bradley–Terry against choix, intervals that narrow with data, parquet, the CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import choix
import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from harness import exports
from harness.cli import main
from harness.exports.bradley_terry import Comparisons, fit, rank_models
from harness.exports.preferences import ordered_pairs
from harness.models import Annotation, Assignment, Candidate


def _lines(db, project, fmt: str, **options) -> list[dict]:
    exporter = exports.get(fmt, exports.ExportOptions(**options))
    data = b"".join(exporter.stream(db, project))
    return [json.loads(line) for line in data.decode().splitlines()]


def test_preferences_have_no_tie_and_agree_with_rankings(db, simulated) -> None:
    project = simulated(annotators=3)
    records = _lines(db, project, "preferences")
    assert records and all(r["chosen"] != r["rejected"] or r["chosen_candidate"] !=
                           r["rejected_candidate"] for r in records)
    label = dict(db.execute(select(Candidate.id, Candidate.label)).all())
    expected = set()
    ties = 0
    for a in db.scalars(select(Annotation)):
        ties += sum(len(g) * (len(g) - 1) // 2 for g in a.ranking)
        for better, worse, gap in ordered_pairs(a.ranking):
            expected.add((a.id, label[better], label[worse], gap))
    got = {(r["annotation_id"], r["chosen_candidate"], r["rejected_candidate"], r["margin"])
           for r in records}
    assert ties > 0, "the data has ties, and none of them became a pair"
    assert got == expected and len(records) == len(expected)
    rank = {}
    for a in db.scalars(select(Annotation)):
        for i, group in enumerate(a.ranking):
            for c in group:
                rank[(a.id, label[c])] = i
    for r in records:
        assert rank[(r["annotation_id"], r["chosen_candidate"])] < rank[
            (r["annotation_id"], r["rejected_candidate"])]
        assert r["margin"] > 0


def test_preferences_load_with_datasets_in_trl_columns(db, simulated, tmp_path) -> None:
    project = simulated(annotators=2)
    path = tmp_path / "prefs.jsonl"
    path.write_bytes(b"".join(exports.get("preferences").stream(db, project)))
    code = (
        "import sys, datasets\n"
        "ds = datasets.load_dataset('json', data_files=sys.argv[1], split='train')\n"
        "print(ds.num_rows, ','.join(ds.column_names), type(ds[0]['margin']).__name__)\n"
    )
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1",
               HF_HOME=str(tmp_path / "hf"))
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rows, columns, margin_type = out.stdout.split()
    assert int(rows) == len(path.read_text().splitlines())
    assert {"prompt", "chosen", "rejected", "margin"} <= set(columns.split(","))
    assert margin_type == "float"


def test_jsonl_has_every_version_with_provenance(db, simulated) -> None:
    project = simulated(annotators=2, overlap=1, versions=2)
    records = _lines(db, project, "jsonl")
    assert len(records) == db.query(Annotation).count()
    assert {r["version"] for r in records} == {1, 2}
    r = records[0]
    for key in ("rubric_version", "display_order", "hints_visible", "hint_verdicts",
                "active_seconds", "annotator", "simulated", "candidates"):
        assert key in r
    assert r["simulated"] is True and len(r["annotator"]) == 16
    assert all("run" in c and "model" in c for c in r["candidates"])


def test_kto_ratings_battles(db, simulated) -> None:
    project = simulated(annotators=2)
    kto = _lines(db, project, "kto", threshold=4.0)
    assert kto and all(r["label"] == (r["mean_rating"] >= 4.0) for r in kto)
    assert {True, False} == {r["label"] for r in kto}
    ratings = _lines(db, project, "ratings")
    assert set(ratings[0]["ratings"]) == {"correctness", "security", "efficiency", "readability"}
    battles = _lines(db, project, "battles")
    assert {"model_a", "model_b", "tie"} >= {b["winner"] for b in battles}
    assert any(b["winner"] == "tie" for b in battles)


def test_parquet_of_a_tabular_format(db, simulated) -> None:
    project = simulated(annotators=2)
    data = b"".join(exports.get("parquet", exports.ExportOptions(table="ratings"))
                    .stream(db, project))
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == len(_lines(db, project, "ratings"))
    assert "prompt" in table.column_names
    from harness.errors import InvalidInput

    with pytest.raises(InvalidInput):
        exports.get("parquet", exports.ExportOptions(table="sarif"))


def _comparisons(n_models: int, n_tasks: int, seed: int, ties: bool = False):
    """Simulated pairwise outcomes from known strengths; tasks of 6 comparisons."""
    rng = np.random.default_rng(seed)
    truth = np.linspace(-1, 1, n_models)
    task, win, lose, weight, pairs = [], [], [], [], []
    for t in range(n_tasks):
        for _ in range(6):
            i, j = rng.choice(n_models, 2, replace=False)
            p = 1 / (1 + np.exp(truth[j] - truth[i]))
            w, lo = (i, j) if rng.random() < p else (j, i)
            task.append(t), win.append(w), lose.append(lo), weight.append(1.0)
            pairs.append((int(w), int(lo)))
    arr = lambda x, dt: np.array(x, dtype=dt)  # noqa: E731
    data = Comparisons.build([f"m{i}" for i in range(n_models)], arr(task, np.int64),
                             arr(win, np.int64), arr(lose, np.int64), arr(weight, np.float64),
                             n_tasks)
    return data, pairs


def test_bradley_terry_agrees_with_choix() -> None:
    data, pairs = _comparisons(5, 300, seed=1)
    ours = fit(data.wins(), alpha=1e-4)
    theirs = choix.opt_pairwise(5, pairs, alpha=1e-4)
    theirs = theirs - theirs.mean()
    assert np.allclose(ours, theirs, atol=1e-4), (ours, theirs)


def test_ties_count_half_a_win() -> None:
    wins = np.array([[0.0, 1.5], [0.5, 0.0]])  # one win of 0 over 1, and one tie
    s = fit(wins, alpha=0.0)
    assert np.isclose(s[0] - s[1], np.log(3.0), atol=1e-5)


def test_intervals_narrow_as_data_grows() -> None:
    small, _ = _comparisons(4, 40, seed=2)
    large, _ = _comparisons(4, 1000, seed=2)
    width = lambda rows: np.mean([r.ci_high - r.ci_low for r in rows])  # noqa: E731
    w_small = width(rank_models(small, rounds=100))
    w_large = width(rank_models(large, rounds=100))
    assert w_large < w_small / 2
    top = rank_models(large, rounds=100)[0]
    assert top.model == "m3" and top.ci_low <= top.strength <= top.ci_high


def test_rankings_export(db, simulated) -> None:
    project = simulated(annotators=3)
    everything = _lines(db, project, "rankings")
    models = {m or lab for m, lab in db.execute(select(Candidate.model, Candidate.label))}
    assert {r["method"] for r in everything} == {"bradley-terry", "plackett-luce"}
    assert len({frozenset(r) for r in everything}) == 1  # one set of columns
    for method in ("bradley-terry", "plackett-luce"):
        rows = [r for r in everything if r["method"] == method]
        assert {r["model"] for r in rows} <= models and len(rows) >= 2
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
        for r in rows:
            assert r["ci_low"] <= r["strength"] <= r["ci_high"]
            assert r["rank_low"] <= r["rank"] <= r["rank_high"]
    pl = [r for r in everything if r["method"] == "plackett-luce"]
    assert sum(r["first"] for r in pl) >= db.query(Annotation).count()  # ties share first


def test_cli_export(db, simulated, cli_env, tmp_path) -> None:
    simulated("clip", annotators=2)
    out = tmp_path / "p.jsonl"
    result = CliRunner().invoke(main, ["export", "clip", "--format", "preferences", "-o",
                                       str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().count("\n") == len(_lines(db, db.get(Assignment, 1).project,
                                                     "preferences"))
    bad = CliRunner().invoke(main, ["export", "clip", "--format", "nope"])
    assert bad.exit_code == 1 and "unknown format" in bad.output
