"""The Flask app factory: a short list of named steps, no I/O."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from harness.settings import Settings


class DatabaseInt(IntegerConverter):
    """`<int:...>` in a route: a whole number a database id can be (the ids are INTEGER
    columns: 32-bit on PostgreSQL). A larger one (a URL typed or forged with 30 digits)
    is a 404, not the driver's overflow error (a 500)."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = None, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, 2**31 - 1 if max is None else max, signed)


def create_app(
    test_config: dict[str, Any] | None = None,
    settings: Settings | None = None,
    *,
    lazy_views: bool = True,
) -> Flask:
    """`lazy_views=False` imports every blueprint module now (`python -m web.views`
    writes the route table from such an app); otherwise each loads on its first request."""
    app = Flask(__name__)
    settings = settings or Settings.from_env()
    configure(app, settings, test_config)
    install_security(app)  # first, so the login check runs before CSRF and views
    init_extensions(app)
    if lazy_views:
        register_views(app)
    else:
        register_blueprints(app)
    register_error_pages(app)
    register_template_helpers(app)
    return app


def configure(app: Flask, settings: Settings, test_config: dict[str, Any] | None) -> None:
    app.url_map.converters["int"] = DatabaseInt  # before any route is added
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.https,
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["harness.settings"] = settings
    if settings.proxy_hops:  # the client's address from the proxies' X-Forwarded-For
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops,  # type: ignore[method-assign]
                                x_proto=0, x_host=0, x_port=0, x_prefix=0)


def init_extensions(app: Flask) -> None:
    from web.extensions import csrf, db, login_manager
    from web.security import refuse_nul

    db.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    app.before_request(_upload_limit)  # before the CSRF check, which reads the form
    app.before_request(refuse_nul)  # reads the form too: after the upload limit is set
    csrf.init_app(app)


UPLOADS = frozenset({"lead.import_page", "lead.new_project"})
"""The forms that take a task file: up to HARNESS_MAX_UPLOAD_MB, for leads."""


def _upload_limit() -> None:
    """A lead's task upload may be up to HARNESS_MAX_UPLOAD_MB; every other body stays
    under MAX_CONTENT_LENGTH. Set before the CSRF check reads the form (under the app's
    limit then), and only for a signed-in lead or admin: an anonymous or annotator's
    body is refused at 4 MB whatever the route."""
    from flask import request
    from flask_login import current_user

    if request.method != "POST" or request.endpoint not in UPLOADS:
        return
    if not current_user.is_authenticated or current_user.role not in ("lead", "admin"):
        return
    if request.endpoint == "lead.import_page":  # another project's: 404 before the body
        from web.access import project_or_404

        project_or_404((request.view_args or {}).get("slug", ""))
    from web.extensions import app_settings

    request.max_content_length = app_settings().max_upload_mb * 1024 * 1024


def load_user(session_id: str) -> Any:
    """flask-login's user loader; web.auth (and the models) load with the first request
    that carries a session."""
    from web import auth

    return auth.load_user(session_id)


def register_views(app: Flask) -> None:
    """Every route of the URL map, each view imported on its first request."""
    from web.routes import ROUTES
    from web.views import register_lazily

    register_lazily(app, ROUTES)


def register_blueprints(app: Flask) -> None:
    from web import api, auth, home, lab, lead, qualification, queue, review, runs

    for blueprint in (auth.bp, home.bp, queue.bp, review.bp, lead.bp, lab.bp, qualification.bp):
        app.register_blueprint(blueprint)
    runs.init_app(app)
    api.init_app(app)


def register_error_pages(app: Flask) -> None:
    from web import errors

    errors.init_app(app)


def install_security(app: Flask) -> None:
    from web import security

    security.init_app(app)


def register_template_helpers(app: Flask) -> None:
    from web import render

    render.init_app(app)
