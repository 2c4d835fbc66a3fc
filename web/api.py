"""The lab API, /api/v1: token auth, project scope, capped pages with opaque cursors.

Every request carries `Authorization: Bearer <token>`; the token's hash is
looked up and compared in constant time (harness.accounts.user_for_token),
revoked and expired tokens get 401, and its last use is recorded (the request
commits once, as every request does). A token sees only the projects it is
scoped to: anything else is a 404 that does not say whether it exists. The
blueprint is CSRF-exempt (no cookies are used) and its views are marked
`is_token_api`, so the login check in web/security.py lets them through to the
token check here. Errors are the one JSON shape (web.errors.JSON_BLUEPRINTS).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, g, request
from flask.typing import ResponseReturnValue

from harness import accounts, exports, labapi
from harness.errors import HarnessError
from harness.models import ApiToken, Project
from web.downloads import download, options_from
from web.extensions import csrf, db
from web.security import public

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # token auth, no cookies; here, so it holds whenever the views are loaded
F = TypeVar("F", bound=Callable[..., Any])


class Unauthorized(HarnessError):
    kind = "unauthorized"


def token_api(view: F) -> F:
    """The view authenticates by token (web/security.py skips the login check)."""
    view.is_token_api = True  # type: ignore[attr-defined]
    return view


def _token() -> ApiToken:
    token: ApiToken | None = g.get("api_token")
    if token is None:
        raise Unauthorized("unauthorized", "a valid API token is required")
    return token


@bp.before_request
def _authenticate() -> None:
    if request.endpoint == "api.openapi":
        return
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("unauthorized", "send Authorization: Bearer <token>")
    found = accounts.user_for_token(db.session, secret.strip())
    if found is None:
        raise Unauthorized("unauthorized", "this token is unknown, revoked or expired")
    g.api_user, g.api_token = found


def _project(slug: str) -> Project:
    return labapi.scoped_project(db.session, _token(), slug)


def _page(body: dict[str, Any]) -> Response:
    """A page as compact JSON in the order it was built: Flask's provider sorts every
    object's keys, which was a third of the encoding time of a page of 500."""
    return Response(json.dumps(body, separators=(",", ":")), mimetype="application/json")


def _limit() -> int | None:
    raw = request.args.get("limit")
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        from harness.errors import InvalidInput

        raise InvalidInput("invalid", "expected a whole number", field="limit") from None


@bp.get("/projects")
@token_api
def projects() -> ResponseReturnValue:
    return {"items": [labapi.project_json(db.session, p)
                      for p in labapi.scoped_projects(db.session, _token())]}


@bp.get("/projects/<slug>")
@token_api
def project(slug: str) -> ResponseReturnValue:
    return labapi.project_json(db.session, _project(slug))


@bp.get("/projects/<slug>/tasks")
@token_api
def tasks(slug: str) -> ResponseReturnValue:
    return _page(labapi.tasks_page(db.session, _project(slug), request.args.get("cursor"),
                                   _limit()))


@bp.get("/projects/<slug>/tasks/<path:task_id>")
@token_api
def task(slug: str, task_id: str) -> ResponseReturnValue:
    target = _project(slug)
    return labapi.task_json(db.session, target, labapi.task_in_scope(db.session, target, task_id))


@bp.get("/projects/<slug>/annotations")
@token_api
def annotations(slug: str) -> ResponseReturnValue:
    return Response(labapi.annotations_page(db.session, _project(slug),
                                            request.args.get("since"), _limit()),
                    mimetype="application/json")


@bp.get("/projects/<slug>/adjudications")
@token_api
def adjudications(slug: str) -> ResponseReturnValue:
    return _page(labapi.adjudications_page(db.session, _project(slug),
                                           request.args.get("cursor"), _limit()))


@bp.get("/projects/<slug>/exports")
@token_api
def export_list(slug: str) -> ResponseReturnValue:
    _project(slug)
    return {"items": [{"format": name, "media_type": cls.media_type, "tabular": cls.tabular}
                      for name, cls in exports.FORMATS.items()]}


@bp.get("/projects/<slug>/exports/<fmt>")
@token_api
def export(slug: str, fmt: str) -> ResponseReturnValue:
    return download(_project(slug), fmt, options_from(request.args.to_dict()))


@bp.get("/openapi.json")
@public
def openapi() -> ResponseReturnValue:
    """Public: a lab generates its client from it before it has a token in hand."""
    from web.openapi import document

    return document()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
