"""Two simulated projects and a lab user with a token for the first only; a local webhook
receiver."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from helpers import DEMO_TASKS
from helpers.webhooks import Receiver
from sqlalchemy.orm import Session

from harness import accounts, simulate
from harness.models import Project


@dataclass
class Lab:
    a: Project
    b: Project
    token: str
    token_id: int

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


@pytest.fixture
def lab(db: Session, make_project, make_user, import_file) -> Lab:
    a, b = make_project("alpha"), make_project("beta", overlap=2)
    for project in (a, b):
        import_file(project, DEMO_TASKS)
        simulate.simulate(db, project, 2, seed=1)
    user = make_user("lab1", role="lab", projects=["alpha", "beta"])
    token, secret = accounts.create_token(db, user, [a])
    db.commit()
    return Lab(a, b, secret, token.id)


@pytest.fixture
def receiver():
    made = []

    def make(statuses=None, delay: float = 0.0) -> Receiver:
        made.append(Receiver(statuses, delay))
        return made[-1]

    yield make
    for r in made:
        r.close()
