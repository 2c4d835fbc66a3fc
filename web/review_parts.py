"""Parts of the review page built in Python and cached, like the code rows (web.columns).

The score table is a select per criterion and candidate with an option per scale point:
~1,500 output chunks when the template built it (4 candidates, 6 criteria), two fifths
of the page's time. Its HTML depends only on the rubric (stored rows never change, so
its content hash names it) and on the candidates shown with their letters; the saved
scores are not in it (review.js sets the selects from the page's data). The CWE list
for the finding form never changes at all. Every text is escaped.
"""

from __future__ import annotations

import threading
from functools import cache

from markupsafe import Markup, escape

from harness.cwe import COMMON_CWES
from harness.rubric import Criterion, RubricBody

ShownKey = tuple[tuple[int, str], ...]
"""(candidate id, letter) of each candidate in the order shown."""

_TABLES: dict[tuple[str, ShownKey], Markup] = {}
_lock = threading.Lock()
MAX_CACHED = 1024


def _options(c: Criterion) -> str:
    parts = ['<option value="">–</option>']
    for v in range(c.scale.min, c.scale.max + 1):
        label = c.scale.labels.get(v)
        parts.append(f'<option value="{v}">{v}{" " + str(escape(label)) if label else ""}</option>')
    return "\n          ".join(parts)


def _row(c: Criterion, shown: ShownKey) -> str:
    label, key = escape(c.label), escape(c.key)
    optional = ' <span class="muted">(optional)</span>' if not c.required else ""
    options = _options(c)
    cells = "".join(
        f'\n        <td><select class="score" data-field="scores.{cid}.{key}" autocomplete="off" '
        f'data-candidate="{cid}" data-criterion="{key}"\n'
        f'                    aria-label="{label} of candidate {escape(letter)}">\n'
        f"          {options}\n        </select></td>"
        for cid, letter in shown
    )
    return (
        f'      <tr>\n        <th scope="row"><span class="criterion">{label}{optional}</span>\n'
        f'          <div class="muted small-text">{escape(c.description)}</div></th>'
        f"{cells}\n      </tr>"
    )


def _table(rubric: RubricBody, shown: ShownKey) -> Markup:
    head = "".join(f"<th>{escape(letter)}</th>" for _, letter in shown)
    rows = "\n".join(_row(c, shown) for c in rubric.criteria)
    return Markup(  # noqa: S704 - every rubric text and letter escaped above
        f'<table class="scores list">\n    <thead><tr><th>Criterion</th>{head}</tr></thead>\n'
        f"    <tbody>\n{rows}\n    </tbody>\n  </table>"
    )


def score_table(rubric_hash: str, rubric: RubricBody, shown: ShownKey) -> Markup:
    """The table of `rubric` (whose stored content hash is `rubric_hash`) for `shown`."""
    key = (rubric_hash, shown)
    table = _TABLES.get(key)
    if table is None:
        table = _table(rubric, shown)
        with _lock:
            if len(_TABLES) >= MAX_CACHED:
                _TABLES.clear()
            _TABLES[key] = table
    return table


@cache
def cwe_options() -> Markup:
    """The options of the finding form's CWE list (harness.cwe.COMMON_CWES)."""
    return Markup("".join(  # noqa: S704 - escaped here
        f'<option value="CWE-{escape(cwe_id)}: {escape(name)}"></option>'
        for cwe_id, name in COMMON_CWES))
