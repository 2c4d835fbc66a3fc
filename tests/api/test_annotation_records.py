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


def test_a_page_reads_the_stored_records_in_a_fixed_number_of_statements(
        client, lab, db, count_queries) -> None:
    """A page of 500 versions sends as many statements as a page of 3, and none of them
    reads findings or hint verdicts: each version's record body was stored when it was
    submitted (harness/records.py). Reading them per version was a third of a page."""
    url = "/api/v1/projects/alpha/annotations?limit="
    client.get(url + "3", headers=lab.auth())  # warm: the token's first use is recorded
    counts = {}
    for limit in (3, 500):
        with count_queries() as queries:
            page = client.get(url + str(limit), headers=lab.auth()).get_json()
        assert len(page["items"]) == min(limit, len(jsonl_records(db, lab.a)))
        assert not [q for q in queries if "findings" in q or "hint_verdicts" in q], str(queries)
        counts[limit] = len(queries)
    assert counts[3] == counts[500], counts
