"""Login, logout and changing one's password.

Passwords are checked against their hash; every form carries a CSRF token. Failed
logins are throttled per account and per client address (harness.logins, in the
database). A session remembers its user's session epoch: a password change bumps
it, and `load_user` refuses a session from an older epoch on its next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from harness.db import execute_core
from web.extensions import db
from web.security import public

if TYPE_CHECKING:
    from harness.models import User

# SQLAlchemy, the models and the account services load with the first request that
# reads the database (a login, a session's user), not with the login form: GET /login is
# the server's first answer after a restart (issue 13's cold start), and needs none.

bp = Blueprint("auth", __name__)


@dataclass
class CurrentUser(UserMixin):
    """What a request knows of its user: a plain value, never a live ORM row."""

    id: int
    name: str
    role: str
    epoch: int = 0

    def get_id(self) -> str:
        """What the session stores: the user's id and session epoch (flask-login's
        alternative id), so a password change ends the session."""
        return f"{self.id}:{self.epoch}"


def current(row: User) -> CurrentUser:
    return CurrentUser(row.id, row.name, row.role, row.session_epoch)


@cache
def _session_user() -> Any:
    """The four columns every request needs, not the ORM row; built once (see
    harness.leases.renew_lease on why the hot statements are), on first use."""
    from sqlalchemy import bindparam, select

    from harness.models import User

    return (select(User.name, User.role, User.is_active, User.session_epoch)
            .where(User.id == bindparam("user_id")))


def load_user(session_id: str) -> CurrentUser | None:
    """flask-login's user loader (registered by the app factory, web.create_app)."""
    user_id, _, epoch = session_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None  # a session from before epochs, or forged: log in again
    row = execute_core(db.session, _session_user(), {"user_id": int(user_id)}).one_or_none()
    if row is None or not row.is_active or row.session_epoch != int(epoch):
        return None
    return CurrentUser(int(user_id), row.name, row.role, row.session_epoch)


class LoginForm(FlaskForm):
    name = StringField("User name", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        from sqlalchemy import select

        from harness import audit, logins
        from harness.accounts import verify_password
        from harness.models import User

        name, address = form.name.data or "", request.remote_addr or ""
        attempt = logins.begin_attempt(db.session, name, address)  # counted as a failure
        user = db.session.scalars(select(User).where(User.name == name)).one_or_none()
        if user is not None and verify_password(user, form.password.data or ""):
            logins.succeeded(db.session, attempt, name)
            session.clear()  # nothing of the anonymous session (its CSRF token) carries over
            login_user(current(user))
            audit.record(db.session, "auth.login", user_id=user.id)
            return redirect(_safe_next(request.args.get("next")))
        if user is None:
            verify_password(User(name="", role="annotator"), form.password.data or "")
        logins.failed(db.session, address)
        flash("Unknown user name or wrong password.", "error")
        return render_template("login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> ResponseReturnValue:
    """Ends the session, and with it every copy of its cookie: the sessions are in signed
    cookies, so the user's session epoch moves on (their other sessions end too)."""
    from sqlalchemy import update

    from harness.models import User

    db.session.execute(update(User).where(User.id == current_user.id)
                       .values(session_epoch=User.session_epoch + 1))
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("New password", validators=[DataRequired(), Length(min=8, max=200)])
    repeat = PasswordField("New password again",
                           validators=[DataRequired(), EqualTo("password", "the two differ")])


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    """Change one's own password: every other session of the account ends; this one
    goes on under the new epoch. A wrong current password counts as a failed login."""
    form = PasswordForm()
    if form.validate_on_submit():
        from harness import logins
        from harness.accounts import set_password, verify_password
        from harness.models import User

        user = db.session.get(User, current_user.id)
        assert user is not None  # load_user found it for this request
        address = request.remote_addr or ""
        attempt = logins.begin_attempt(db.session, user.name, address)
        if not verify_password(user, form.current.data or ""):
            logins.failed(db.session, address)
            flash("The current password is wrong.", "error")
            return render_template("password.html", form=form), 403
        logins.succeeded(db.session, attempt, user.name)
        set_password(db.session, user, form.password.data or "", by_user_id=user.id)
        login_user(current(user))
        flash("Password changed; your other sessions are logged out.", "info")
        return redirect(url_for("home.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("password.html", form=form), status
