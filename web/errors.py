"""The one place errors become responses.

Services raise the `harness.errors` family; Flask and Werkzeug raise HTTP
exceptions (404 for an unknown URL, 405, 413 for an oversized body, CSRF
failures); anything else is a 500. Each becomes either the one JSON error
shape, `{"error": {"code", "message", "field"}}`, for API and JSON requests,
or a page with the site's header, navigation and a way back for browsers.
The request's session is rolled back first, so a refused request changes
nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, flash, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from harness.errors import HarnessError

log = logging.getLogger("harness.web")

STATUS = {
    "bad_request": 400,
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "rate_limited": 429,
    "unavailable": 503,
}
"""HTTP status of each kind of HarnessError."""

TITLES = {
    400: "That request could not be taken",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "That changed in the meantime",
    413: "Too large",
    422: "Some fields need another look",
    429: "Too many requests",
    500: "Something went wrong on our side",
    503: "Not available right now",
}

CSRF_MESSAGE = "your session has expired or the page is stale: reload the page"


JSON_BLUEPRINTS = frozenset({"runs", "api"})
"""Blueprints whose every view answers JSON, errors included."""

F = TypeVar("F", bound=Callable[..., Any])


def json_view(view: F) -> F:
    """Mark a view of an HTML blueprint as a JSON endpoint (its errors are JSON too)."""
    view.returns_json = True  # type: ignore[attr-defined]
    return view


def wants_json() -> bool:
    """JSON endpoints, API paths, JSON bodies, .json URLs and clients that ask for JSON."""
    if request.path.startswith("/api/") or request.path.endswith(".json") or request.is_json:
        return True
    if request.blueprint in JSON_BLUEPRINTS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "returns_json", False):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes[
        "text/html"
    ]


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    errors: list[str] | None = None,
    retry_after: int | None = None,
) -> ResponseReturnValue:
    """The response for a refusal: JSON or a page, chosen by `wants_json()`."""
    _rollback()
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if wants_json():
        body: dict[str, object] = {"code": code, "message": message, "field": field or ""}
        if errors:
            body["errors"] = errors
        return {"error": body}, status, headers
    page = render_template(
        "error.html",
        status=status,
        title=TITLES.get(status, "Error"),
        code=code,
        message=message,
        field=field or "",
        errors=errors or [],
    )
    return page, status, headers


def _rollback() -> None:
    session = g.get("db_session")
    if session is not None:
        session.rollback()
        g.db_rollback = True


FORM_KINDS = frozenset({"invalid", "bad_request", "conflict"})
"""Refusals a browser form gets back on the page it came from, as a flash message."""


def _back_to_form(exc: HarnessError) -> ResponseReturnValue | None:
    """A browser form that was refused goes back to its page with the reason shown,
    as a form with errors does; only to a page of this site."""
    if request.method != "POST" or wants_json() or exc.kind not in FORM_KINDS:
        return None
    back = request.referrer or ""
    if not back.startswith(request.host_url):
        return None
    _rollback()
    flash(str(exc), "error")
    return redirect(back)


def _harness_error(exc: HarnessError) -> ResponseReturnValue:
    back = _back_to_form(exc)
    if back is not None:
        return back
    return error_response(STATUS.get(exc.kind, 400), exc.code, exc.message, field=exc.field,
                          errors=exc.errors, retry_after=exc.retry_after)


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    if isinstance(exc, CSRFError):
        return error_response(400, "csrf", CSRF_MESSAGE)
    status = exc.code or 500
    code = (exc.name or "error").lower().replace(" ", "_")
    if exc.response is not None:  # a view built its own response (abort(make_response(...)))
        _rollback()
        return exc.response
    return error_response(status, code, exc.description or TITLES.get(status, code))


def _unexpected(exc: Exception) -> ResponseReturnValue:
    if isinstance(exc, HTTPException):  # pragma: no cover - routed to _http_error
        return _http_error(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal", "The server failed on this request; it has been "
                          "logged. Try again, and tell a lead if it keeps happening.")


def init_app(app: Flask) -> None:
    app.register_error_handler(HarnessError, _harness_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
