"""Deny by default, role checks, CSP and security headers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from itertools import chain
from typing import Any, TypeVar

from flask import Flask, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from harness.errors import Forbidden
from harness.text import NUL_MESSAGE, has_nul
from web.errors import error_response, wants_json
from web.extensions import app_settings

F = TypeVar("F", bound=Callable[..., Any])

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def public(view: F) -> F:
    """Mark a view as reachable without a login. Everything else needs one."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def annotator_only(*methods: str) -> Callable[[F], F]:
    """Only role annotator may use this view with these methods (all when none are named).

    Claims, drafts, submits, skips and probes make annotations that go into exports, so
    a lead, admin or lab account gets a 403 that says why (checked in `_annotator_only`).
    """

    def decorator(view: F) -> F:
        view.annotator_only = frozenset(m.upper() for m in methods) or ANY  # type: ignore[attr-defined]
        return view

    return decorator


ANY = frozenset({"*"})
ANNOTATOR_ONLY_ELSEWHERE = {"runs.probe": ANY}
"""Views of blueprints owned elsewhere that are annotators' work too."""
NOT_AN_ANNOTATOR = (
    "Only annotators take and review tasks: your account is a {role}, and its "
    "annotations would go into the exports. Use an annotator account to review."
)


def annotator_only_methods(endpoint: str | None) -> frozenset[str]:
    view = current_app.view_functions.get(endpoint or "")
    marked: frozenset[str] | None = getattr(view, "annotator_only", None)
    return marked or ANNOTATOR_ONLY_ELSEWHERE.get(endpoint or "", frozenset())


def _annotator_only() -> ResponseReturnValue | None:
    methods = annotator_only_methods(request.endpoint)
    if not methods or not current_user.is_authenticated or current_user.role == "annotator":
        return None
    if methods != ANY and request.method not in methods:
        return None
    return error_response(403, "forbidden", NOT_AN_ANNOTATOR.format(role=current_user.role),
                          field="role")


def roles_required(*roles: str) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles and current_user.role != "admin":
                raise Forbidden(
                    "forbidden",
                    f"this page is for the {' or '.join(roles)} role; your account is a "
                    f"{current_user.role}",
                    field="role",
                )
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def _require_login() -> ResponseReturnValue | None:
    if request.endpoint is None:
        return None  # 404 follows
    if request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "is_public", False):
        return None
    if getattr(view, "is_token_api", False):
        return None  # the token API authenticates each request itself
    if current_user.is_authenticated:
        return None
    if wants_json():
        return error_response(401, "unauthorized", "login required")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def refuse_nul() -> ResponseReturnValue | None:
    """A NUL character in the address, a query or a form field is a 400 before any view
    reads it: PostgreSQL takes no NUL in text, not even as a query's parameter, so a
    login name, skip reason, member name or slug carrying one was a 500 there (JSON
    bodies' text is checked where it is read). Registered after the upload limit is
    set (web.create_app), since it reads the form."""
    if has_nul(request.path):
        return error_response(400, "bad_request", f"the address {NUL_MESSAGE}")
    fields = request.args.items(multi=True)
    if request.method == "POST":
        fields = chain(fields, request.form.items(multi=True))
    for name, value in fields:
        if has_nul(name) or has_nul(value):
            name = name.replace("\x00", "")
            return error_response(400, "bad_request", f"{name}: {NUL_MESSAGE}", field=name)
    return None


HSTS = "max-age=31536000; includeSubDomains"


def _headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CSP)
    if app_settings().https:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    app.before_request(_require_login)
    app.before_request(_annotator_only)
    app.after_request(_headers)
