"""The sarif export validates against the official SARIF 2.1.0 schema."""

from __future__ import annotations

import json

import jsonschema
import pytest
from sqlalchemy import func, select

from harness import exports
from harness.exports.sarif import schema
from harness.models import Candidate, Finding


def test_sarif_validates_and_holds_every_finding(db, simulated) -> None:
    project = simulated(annotators=3)
    doc = json.loads(b"".join(exports.get("sarif").stream(db, project)))
    jsonschema.Draft4Validator.check_schema(schema())
    jsonschema.Draft4Validator(schema()).validate(doc)
    models = {m or lab for m, lab in db.execute(select(Candidate.model, Candidate.label))}
    assert {r["properties"]["model"] for r in doc["runs"]} == models  # one run per model
    results = [res for run in doc["runs"] for res in run["results"]]
    assert len(results) == db.scalar(select(func.count(Finding.id)))
    for run in doc["runs"]:
        rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
        assert {res["ruleId"] for res in run["results"]} == rules
    security = [r for r in results if r["properties"]["category"] == "security"]
    assert security and all(r["ruleId"].startswith("security/CWE-") for r in security)
    assert all(0 < r["properties"]["agreement"] <= 1 for r in results)
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert 1 <= region["startLine"] <= region["endLine"]


def test_the_schema_rejects_what_is_not_sarif() -> None:
    validator = jsonschema.Draft4Validator(schema())
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"version": "2.1.0", "runs": [{"results": []}]})  # no tool
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
                            "results": [{"message": {"text": "m"}, "level": "fatal"}]}]})
