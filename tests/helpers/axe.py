"""axe-core's accessibility scan of a page in the browser tests (axe.min.js from the npm
package `make axe` installs into .cache/axe; never fetched by the page)."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import REPO

AXE_JS = REPO / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical violations on the page as it is now."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `make axe` (npm install of axe-core into .cache/axe)")
    # evaluated through the devtools protocol: the page's CSP (script-src 'self') stays on
    # and refuses inline script tags, so add_script_tag cannot be used here
    page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;void 0")
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations'],"
                           " rules: {'target-size': {enabled: true}}})).violations")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result if v["impact"] in ("serious", "critical")]
