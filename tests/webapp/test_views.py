"""Lazy views (web/views.py): the app built from web/routes.py is the app its blueprint
modules declare, route for route, view for view and hook for hook, and a view's module
loads with the first request to it, its blueprint's own checks included."""

from __future__ import annotations

import sys

import pytest
from flask import Flask, url_for
from werkzeug.routing import IntegerConverter, Rule

from web import create_app
from web.routes import ROUTES
from web.views import DeferredBuildRule, LazyView, eager_app, route_rows, table_source

pytestmark = pytest.mark.sqlite_only

HOOKS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs",
         "url_default_functions", "template_context_processors", "error_handler_spec")


def _rules(app: Flask) -> list[tuple[object, ...]]:
    return [(r.rule, r.endpoint, sorted(r.methods or ()), r.defaults or {}, r.strict_slashes,
             r.merge_slashes, r.host, r.subdomain, r.redirect_to, r.build_only)
            for r in app.url_map.iter_rules()]


def _name(func: object) -> str:
    """Functions made per app (CSRF's check) are equal by where they are defined."""
    return f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', func)}"


def _names(spec: dict) -> dict:  # type: ignore[type-arg]
    return {code: {exc: _name(f) for exc, f in handlers.items()}
            for code, handlers in spec.items()}


def test_the_route_table_is_what_the_blueprint_modules_declare() -> None:
    rows = route_rows(eager_app())
    assert list(ROUTES) == rows, "web/routes.py is stale: run `python -m web.views`"
    with open(sys.modules["web.routes"].__file__ or "", encoding="utf-8") as f:
        assert f.read() == table_source(rows), "run `python -m web.views`"


def test_the_lazy_app_has_the_eager_apps_url_map_views_and_hooks(settings) -> None:  # type: ignore[no-untyped-def]
    eager = create_app({"TESTING": True}, settings=settings, lazy_views=False)
    lazy = create_app({"TESTING": True}, settings=settings)
    assert _rules(lazy) == _rules(eager)
    assert all(isinstance(lazy.view_functions[e], LazyView) for _, e, _, _ in ROUTES)
    for endpoint, view in eager.view_functions.items():
        if endpoint == "static":
            continue
        found = lazy.view_functions[endpoint]
        if isinstance(found, LazyView):
            found = found.load()
        assert found is view, endpoint
        assert lazy.view_functions[endpoint] is view  # loaded once, then the real view
    for hook in HOOKS:
        ours = {k: v for k, v in getattr(lazy, hook).items() if v}
        theirs = {k: v for k, v in getattr(eager, hook).items() if v}
        assert ours.keys() == theirs.keys(), hook
        for key, funcs in theirs.items():
            if hook == "error_handler_spec":
                assert _names(ours[key]) == _names(funcs), (hook, key)
            else:
                assert [_name(f) for f in ours[key]] == [_name(f) for f in funcs], (hook, key)


def test_a_marked_view_answers_for_its_marks_before_it_is_loaded(settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app({"TESTING": True}, settings=settings)
    assert app.view_functions["auth.login"].is_public is True
    assert app.view_functions["api.projects"].is_token_api is True


def test_the_first_request_to_the_api_gets_its_token_check(client) -> None:  # type: ignore[no-untyped-def]
    """The API's own before_request (web/api.py) is merged when its module loads, before
    the request it loads for is served: no token, no answer (401, not 200)."""
    assert isinstance(client.application.view_functions["api.projects"], LazyView)
    resp = client.get("/api/v1/projects")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
    resp = client.get("/api/v1/projects", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401


def test_the_first_request_to_a_page_needs_its_login(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/p/anything/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_the_lazy_apps_urls_are_the_eager_apps_urls(settings) -> None:  # type: ignore[no-untyped-def]
    """The lazy app's rules compile their URL builders on first use (DeferredBuildRule):
    every endpoint builds the same URL as in the eager app, which has werkzeug's own
    rules, also with an extra value named like the builder's first parameter."""
    eager = create_app({"TESTING": True}, settings=settings, lazy_views=False)
    lazy = create_app({"TESTING": True}, settings=settings)
    assert all(isinstance(r, DeferredBuildRule) for r in lazy.url_map.iter_rules()
               if r.endpoint != "static")
    assert "_compile_builder" in vars(Rule), "werkzeug renamed it: DeferredBuildRule defers nothing"
    built = 0
    for rule in eager.url_map.iter_rules():
        values = {arg: 7 if isinstance(rule._converters[arg], IntegerConverter) else "x-1"
                  for arg in rule.arguments}
        for extra in ({}, {"rule": "r", "self": "s", "next": "/a b"}):
            with eager.test_request_context():
                theirs = url_for(rule.endpoint, **values, **extra)
            with lazy.test_request_context():
                assert url_for(rule.endpoint, **values, **extra) == theirs, rule.rule
            built += 1
    assert built >= 2 * len(ROUTES)
