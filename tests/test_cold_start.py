"""What a fresh server process loads before its first answer: only what that answer needs.

The figures live in bench/cold_start.py; this pins the cause. Every module named here
once loaded at start (a tenth of a second or more each) and is needed only by some
pages, commands or exports, which import it when they first run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HARNESS = str(Path(sys.executable).parent / "harness")
HEAVY = ("bandit", "radon", "numpy", "scipy", "pyarrow", "krippendorff", "pygments",
         "markdown_it", "nh3", "jsonschema", "docker", "rq", "redis", "alembic", "tqdm",
         # pydantic (the task file's and the request bodies' schemas), SQLAlchemy's ORM
         # and the models (the login form reads no database), every view module but the
         # login page's and the services behind them: they load with the first request
         # that needs them (web/views.py), or a second after start-up (the run worker and
         # the webhook loop, web/cli.py)
         "pydantic", "yaml", "sqlalchemy.orm", "harness.models", "web.api", "web.lead",
         "web.review", "web.runs", "web.lab", "web.queue", "web.home", "web.qualification",
         "web.columns", "harness.taskfile", "harness.exports", "harness.assignments",
         "harness.rubric", "harness.runs", "harness.webhooks", "harness.annotate",
         "harness.adjudication", "harness.importer", "sandboxes")
FIRST_ANSWER = """
import json, sys
from harness.cli.common import engine, settings
from harness import setup
from web import create_app
setup.migrate(engine())
app = create_app(settings=settings())
assert app.test_client().get("/login").status_code == 200
print(json.dumps(sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".")
                                                     for h in HEAVY))))
"""


def test_the_server_answers_its_first_request_without_the_heavy_libraries(tmp_path: Path) -> None:
    env = {**os.environ, "HARNESS_DATA_DIR": str(tmp_path / "data"),
           "HARNESS_INPROCESS_WORKER": "0"}
    subprocess.run([HARNESS, "init"], env=env, check=True, capture_output=True, timeout=120)
    # the database is at the newest revision now, as on every start after the first
    proc = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{FIRST_ANSWER}"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    shown = sorted({h for h in HEAVY for m in loaded if m == h or m.startswith(h + ".")})
    assert loaded == [], f"loaded before the first answer: {shown}"
