"""The API's annotation pages give the jsonl export's records, as their definition says
(tests/helpers/exports.py), whatever the page size."""

from __future__ import annotations

import pytest
from helpers.exports import jsonl_records


@pytest.mark.parametrize("limit", [3, 500])
def test_annotation_pages_are_the_records_of_the_definition(client, lab, db, limit) -> None:
    items, since = [], None
    while True:
        url = f"/api/v1/projects/alpha/annotations?limit={limit}" + (
            f"&since={since}" if since else "")
        page = client.get(url, headers=lab.auth()).get_json()
        items += page["items"]
        since = page["next_cursor"]
        if not page["has_more"]:
            break
    want = jsonl_records(db, lab.a)
    assert items and len(items) == len(want)
    # The app hashes annotators with its secret key, the test's session without one: the
    # pseudonyms differ, and stand for the same annotators.
    pseudonyms = {(w["annotator"], i["annotator"]) for i, w in zip(items, want, strict=True)}
    assert len(pseudonyms) == len({w for w, _ in pseudonyms}) == len({i for _, i in pseudonyms})
    assert [i | {"annotator": ""} for i in items] == [w | {"annotator": ""} for w in want]
