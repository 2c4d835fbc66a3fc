"""Views that load on their first request (Flask's LazyView pattern).

A blueprint module imports the services behind its pages (exports, adjudication,
rubrics, pydantic request models ...); importing all of them when the app is built
was two thirds of `harness serve`'s cold start. So the app factory registers every
route of the URL map from `web/routes.py` with a `LazyView` in its place, and the
first request to a route imports that route's module: serving /login loads auth and
nothing of the lead's pages, the lab API or the review page.

The route decorators in the blueprint modules stay the one place a route is declared.
`web/routes.py` is written from them by `python -m web.views` (it builds the app
with every blueprint registered the ordinary way and lists its URL map), and
tests/webapp/test_views.py fails while the two differ.

What a blueprint registers besides its routes (the API's token check, a
`before_request` of its own) is merged into the app when its module loads, before
any of the app's `before_request` hooks run for that request (the loading happens in
a URL value preprocessor, which Flask runs first), so the login check, CSRF and the
blueprint's own checks see the real view and its marks (`public`, `is_token_api`,
`annotator_only`, `returns_json`).
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask
from werkzeug.routing import Rule

RouteRow = tuple[str, str, tuple[str, ...], str]
"""rule, endpoint, methods (without HEAD and OPTIONS, which Flask adds), "module:view"."""

_load_lock = threading.Lock()


class LazyView:
    """Stands for a view function until the first request to its route imports it.

    Reading an attribute the real view may carry (`is_public`, `annotator_only`, ...)
    loads it too, so nothing that inspects the URL map's views can see a bare stand-in.
    """

    # what Flask's add_url_rule reads from a view: answered here, or registering would
    # import the module (the real views set none of them; the route table test checks)
    methods = None
    required_methods: tuple[str, ...] = ()
    provide_automatic_options = None

    def __init__(self, app: Flask, endpoint: str, target: str) -> None:
        self.app = app
        self.endpoint = endpoint
        self.target = target
        module, _, name = target.partition(":")
        self.__module__ = module
        self.__name__ = self.__qualname__ = name

    def load(self) -> Callable[..., Any]:
        """Import the view's module, merge its blueprint's hooks once, and put the real
        view in the app's table (later requests do not pass through here)."""
        with _load_lock:
            current = self.app.view_functions.get(self.endpoint)
            if current is not None and current is not self:
                return current
            module_name, _, name = self.target.partition(":")
            module = importlib.import_module(module_name)
            view: Callable[..., Any] = getattr(module, name)
            blueprint: Blueprint = module.bp
            _merge_hooks(self.app, blueprint)
            self.app.view_functions[self.endpoint] = view
            return view

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.load(), name)


def _merge_hooks(app: Flask, blueprint: Blueprint) -> None:
    """What `register_blueprint` does besides adding the routes: the blueprint's
    request hooks, error handlers and template context processors, once per process."""
    merged: set[str] = app.extensions.setdefault("harness.lazy_blueprints", set())
    if blueprint.name in merged:
        return
    blueprint._merge_blueprint_funcs(app, blueprint.name)
    app.blueprints.setdefault(blueprint.name, blueprint)
    merged.add(blueprint.name)


def _load_view(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """The request's view, imported before any `before_request` hook runs."""
    from flask import current_app

    view = current_app.view_functions.get(endpoint or "")
    if isinstance(view, LazyView):
        view.load()


class DeferredBuildRule(Rule):
    """A URL rule whose two URL builders (`url_for`'s code for it, which werkzeug
    generates and compiles for every rule when the rule is added) are compiled on first
    use. For the app's ~50 rules that compiling was a tenth of `harness serve`'s CPU
    before its first answer, which builds two URLs (issue 13's cold start). Matching is
    untouched: the rule's pattern is still compiled when it is added.

    Werkzeug's `_compile_builder` is not public API: if a release renames it, this class
    silently becomes a plain Rule (tests/webapp/test_views.py notices).
    """

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compiled: Callable[..., tuple[str, str]] | None = None

        def build(rule: Rule, /, **values: Any) -> tuple[str, str]:
            nonlocal compiled
            if compiled is None:  # two threads may both compile: the same code, no harm
                compiled = Rule._compile_builder(rule, append_unknown)
            return compiled(rule, **values)

        return build


def register_lazily(app: Flask, routes: tuple[RouteRow, ...]) -> None:
    app.url_rule_class = DeferredBuildRule
    app.url_value_preprocessor(_load_view)
    for rule, endpoint, methods, target in routes:
        app.add_url_rule(rule, endpoint, LazyView(app, endpoint, target), methods=list(methods))


def route_rows(app: Flask) -> list[RouteRow]:
    """The URL map of an app built with every blueprint registered, as table rows."""
    rows = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        module = sys.modules[view.__module__]
        if getattr(module, view.__name__, None) is not view:
            raise RuntimeError(f"{rule.endpoint}: {view.__module__}.{view.__name__} is not "
                               "the registered view; name the module-level function")
        methods = tuple(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        rows.append((rule.rule, rule.endpoint, methods, f"{view.__module__}:{view.__name__}"))
    return rows  # in registration order, which url_for follows for an endpoint of two rules


HEADER = '''"""Every route of the web app, for the app factory to register lazily (web/views.py).

Written by `python -m web.views` from the route decorators of the blueprint modules,
which stay the one place a route is declared; tests/webapp/test_views.py fails while
this table and they differ. Do not edit by hand.
"""

from __future__ import annotations

from web.views import RouteRow

ROUTES: tuple[RouteRow, ...] = (
'''


def table_source(rows: list[RouteRow]) -> str:
    def text(value: str) -> str:
        return json.dumps(value)  # a Python string literal too, in the house's double quotes

    def verbs(methods: tuple[str, ...]) -> str:
        return "(" + ", ".join(map(text, methods)) + ("," if len(methods) == 1 else "") + ")"

    lines = [f"    ({text(rule)}, {text(endpoint)}, {verbs(methods)},\n     {text(target)}),"
             for rule, endpoint, methods, target in rows]
    return HEADER + "\n".join(lines) + "\n)\n"


def eager_app() -> Flask:
    """The app with every blueprint registered the ordinary way (all modules imported)."""
    import tempfile

    from harness.settings import Settings
    from web import create_app

    with tempfile.TemporaryDirectory() as data:
        settings = Settings.from_env({"HARNESS_DATA_DIR": data, "SECRET_KEY": "x" * 32})
        return create_app({"TESTING": True}, settings=settings, lazy_views=False)


def main() -> None:
    """Write web/routes.py from the blueprint modules' route decorators."""
    from pathlib import Path

    path = Path(__file__).with_name("routes.py")
    path.write_text(table_source(route_rows(eager_app())), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
