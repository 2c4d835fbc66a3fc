"""Login throttling: failed logins counted per account and per client address.

The failures are rows in the database (`LoginFailure`), not a process's memory, so
every `harness serve` process sharing a database counts the same failures. Once an
account or an address has MAX_FAILURES failures inside WINDOW, further attempts are
refused with RateLimited (429 and Retry-After) before the password is even checked,
so a correct guess in the locked window is refused too. A success clears the
account's count, not the address's (one valid account must not unlock guessing at
others from the same address). Unknown names are counted like known ones, so the
answer does not tell which names exist.

Two processes that check at the same instant may each let one more attempt through;
the limit is a brake on guessing, not an exact quota.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from harness.errors import RateLimited
from harness.models import LoginFailure, utcnow

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)


def _keys(name: str, address: str) -> list[tuple[str, str]]:
    return [(f"user:{name.strip().lower()[:150]}", "this account"),
            (f"addr:{address[:150]}", "this address")]


def check_allowed(session: Session, name: str, address: str,
                  *, now: datetime | None = None) -> None:
    """Raise RateLimited when the account or the address has too many recent failures."""
    now = now or utcnow()
    for key, what in _keys(name, address):
        times = list(session.scalars(
            select(LoginFailure.at).where(LoginFailure.key == key, LoginFailure.at > now - WINDOW)
            .order_by(LoginFailure.at.desc()).limit(MAX_FAILURES)))
        if len(times) >= MAX_FAILURES:
            # free again when the oldest of the last MAX_FAILURES leaves the window
            wait = max(1, math.ceil((times[-1] + WINDOW - now).total_seconds()))
            raise RateLimited(
                "too_many_logins",
                f"too many failed logins for {what}: {MAX_FAILURES} in "
                f"{int(WINDOW.total_seconds() // 60)} minutes; try again in {wait} s",
                field="name", retry_after=wait)


def record_failure(session: Session, name: str, address: str,
                   *, now: datetime | None = None) -> None:
    """Count one failed attempt against the account and the address; drop expired rows."""
    now = now or utcnow()
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - WINDOW))
    session.add_all(LoginFailure(key=key, at=now) for key, _ in _keys(name, address))
    session.flush()


def clear_account(session: Session, name: str) -> None:
    """A successful login: the account's failures are forgotten (the address's are not)."""
    key = _keys(name, "")[0][0]
    session.execute(delete(LoginFailure).where(LoginFailure.key == key))
    session.flush()
