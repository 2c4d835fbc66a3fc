"""One family of errors for everything a service refuses.

Every error carries a machine `code` (stable, for scripts and the page's JS), an
optional `field` (which input it concerns) and a `message` for people. The
subclass says what kind of refusal it is; `web/errors.py` turns the kind into an
HTTP status and the one JSON error shape or a page, and the CLI turns any of
them into a one-line reason with exit status 1. Validation of a whole file
(tasks, rubric, project) reports every problem: those go in `errors`, one line
each, and `message` summarises them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class HarnessError(Exception):
    """Base of every refusal a service raises."""

    kind: ClassVar[str] = "invalid"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        errors: Sequence[str] = (),
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.code = code
        self.message = message
        self.field = field
        self.errors = list(errors)
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_dict(self) -> dict[str, Any]:
        """The one JSON error shape's inner object."""
        body: dict[str, Any] = {"code": self.code, "message": self.message,
                                "field": self.field or ""}
        if self.errors:
            body["errors"] = list(self.errors)
        return body

    def lines(self) -> list[str]:
        """What a person reads: every problem of a file, else the message."""
        return list(self.errors) if self.errors else [str(self)]


class InvalidInput(HarnessError):
    """The input breaks a rule (a field, a file line, a setting)."""

    kind = "invalid"


class BadRequest(HarnessError):
    """The request is malformed: not the shape the endpoint takes at all."""

    kind = "bad_request"


class NotFound(HarnessError):
    kind = "not_found"


class Forbidden(HarnessError):
    kind = "forbidden"


class Conflict(HarnessError):
    """The object's state forbids this now (skipped, taken by others, lease lapsed)."""

    kind = "conflict"


class TooLarge(HarnessError):
    kind = "too_large"


class RateLimited(HarnessError):
    kind = "rate_limited"


class Unavailable(HarnessError):
    """A component we need is not there (sandbox image, engine, a free slot)."""

    kind = "unavailable"


def validation_failed(code: str, what: str, errors: Sequence[str]) -> InvalidInput:
    """A file with problems: every line in `errors`, nothing changed."""
    return InvalidInput(code, f"{what}: {len(errors)} error(s); nothing was changed",
                        errors=errors)
