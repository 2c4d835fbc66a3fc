"""Users, passwords and tokens: stored hashed, checked in constant shape, scoped to projects."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from harness import accounts
from harness.errors import HarnessError
from harness.models import ApiToken, User


def test_password_is_stored_hashed_and_verified(db, make_user) -> None:
    user = make_user("ann")
    assert user.password_hash and "correct horse" not in user.password_hash
    assert accounts.verify_password(user, "correct horse battery")
    assert not accounts.verify_password(user, "correct horse batter")


def test_inactive_user_cannot_log_in(db, make_user) -> None:
    user = make_user("ann")
    user.is_active = False
    assert not accounts.verify_password(user, "correct horse battery")


@pytest.mark.parametrize(("name", "role", "password", "message"), [
    ("bad name", "annotator", "long-enough", "letters, digits"),
    ("<script>", "annotator", "long-enough", "letters, digits"),
    ("ann", "root", "long-enough", "role 'root'"),
    ("ann", "annotator", "short", "at least 8"),
])
def test_bad_user_input_is_refused(db, name, role, password, message) -> None:
    with pytest.raises(HarnessError, match=message):
        accounts.add_user(db, name, role, password=password)
    assert db.scalars(select(User)).all() == []


def test_token_is_stored_hashed_and_scoped(db, make_project, make_user) -> None:
    project = make_project("p")
    lab = make_user("lab1", role="lab", projects=["p"])
    _, secret = accounts.create_token(db, lab, [project])
    db.commit()
    row = db.scalars(select(ApiToken)).one()
    assert secret not in (row.token_hash, row.prefix) and secret.startswith(row.prefix)
    found = accounts.user_for_token(db, secret)
    assert found is not None and found[0].name == "lab1" and found[1].projects == [project]
    assert accounts.user_for_token(db, secret + "x") is None
    assert accounts.user_for_token(db, "nonsense") is None


def test_tokens_are_for_lab_users(db, make_project, make_user) -> None:
    ann = make_user("ann")
    with pytest.raises(HarnessError, match="tokens are for lab users"):
        accounts.create_token(db, ann, [make_project("p")])
