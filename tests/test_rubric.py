"""Rubric files: the shipped ones parse; every error names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO

from harness.rubric import RubricBody, RubricError, body_of, load_rubric_file, parse_rubric

RUBRICS = sorted((REPO / "rubrics").glob("*.yaml"))


def test_three_rubrics_ship() -> None:
    assert {p.name for p in RUBRICS} >= {
        "code-review.yaml", "security-review.yaml", "quick-preference.yaml"}


@pytest.mark.parametrize("path", RUBRICS, ids=lambda p: p.name)
def test_shipped_rubrics_parse(path: Path) -> None:
    body, source, digest = load_rubric_file(path)
    assert body.name == path.stem
    assert len(digest) == 64 and source
    assert body.ranking.enabled
    # a stored body (JSON keys are strings) reads back the same
    again = body_of(digest, body.model_dump(mode="json"))
    assert again == body


def test_code_review_keeps_its_shape() -> None:
    body, _, _ = load_rubric_file(REPO / "rubrics" / "code-review.yaml")
    assert [c.key for c in body.criteria] == ["correctness", "security", "efficiency", "readability"]
    assert body.criteria[0].scale.labels[5] == "fully correct"
    assert body.category("security") is not None and body.category("security").cwe
    assert body.ranking.ties and body.rationale_min_chars == 20
    assert body.confidence.enabled and body.confidence.required  # `confidence: true`


def test_quick_preference_is_best_of_two_with_short_rationale() -> None:
    body, _, _ = load_rubric_file(REPO / "rubrics" / "quick-preference.yaml")
    assert body.criteria == []
    assert body.rationale_max_chars <= 500
    assert not body.confidence.required


def errors_of(text: str) -> list[str]:
    with pytest.raises(RubricError) as info:
        parse_rubric(text, "r.yaml")
    return info.value.errors


def test_error_in_a_criterion_names_line_and_field() -> None:
    text = (
        "name: r\n"
        "version: 1\n"
        "criteria:\n"
        "  - key: ok\n"
        "    label: Fine\n"
        "  - key: Bad Key\n"
        "    label: Broken\n"
    )
    [error] = errors_of(text)
    assert error.startswith("r.yaml:6: criteria.1.key:")
    assert "pattern" in error or "match" in error


def test_bad_scale_points_at_the_scale() -> None:
    text = (
        "name: r\nversion: '1'\ncriteria:\n"
        "  - key: a\n    label: A\n"
        "    scale: {min: 5, max: 1}\n"
    )
    [error] = errors_of(text)
    assert error.startswith("r.yaml:6: criteria.0.scale:")
    assert "greater than min" in error


def test_unknown_field_and_several_errors_all_reported() -> None:
    text = (
        "name: r\n"
        "version: '1'\n"
        "criterias: []\n"
        "severities: [low, Low!]\n"
        "ranking: {ties: maybe}\n"
    )
    errors = errors_of(text)
    assert any(e.startswith("r.yaml:3: criterias:") for e in errors)
    assert any(e.startswith("r.yaml:4: severities:") for e in errors)
    assert any(e.startswith("r.yaml:5: ranking.ties:") for e in errors)


def test_yaml_syntax_error_has_a_line() -> None:
    [error] = errors_of("name: r\nversion: '1'\ncriteria: [\n  - key: a\n")
    assert error.startswith("r.yaml:")
    assert "YAML syntax" in error


def test_duplicate_keys_and_nothing_to_do() -> None:
    errors = errors_of(
        "name: r\nversion: '1'\ncriteria:\n  - {key: a, label: A}\n  - {key: a, label: B}\n"
    )
    assert errors[0].startswith("r.yaml:3: criteria:") and "duplicate" in errors[0]
    errors = errors_of("name: r\nversion: '1'\nranking: {enabled: false}\n")
    assert "criteria, a ranking, or both" in errors[0]


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: r\nversion: '1'\nconfidence: {scale: {min: 3, max: 2}}\n")
    with pytest.raises(RubricError) as info:
        load_rubric_file(path)
    assert info.value.errors[0].startswith(f"{path}:3: confidence.scale:")


def test_defaults() -> None:
    body = RubricBody(name="r", version="1")
    assert [c.key for c in body.categories] == ["bug", "security", "performance", "style"]
    assert body.severities == ["low", "medium", "high", "critical"]
