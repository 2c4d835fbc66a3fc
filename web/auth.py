"""Login and logout. Passwords are checked against their hash; the form carries a CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import UserMixin, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from harness import audit
from harness.accounts import verify_password
from harness.models import User
from web.extensions import db, login_manager
from web.security import public

bp = Blueprint("auth", __name__)


@dataclass
class CurrentUser(UserMixin):
    """What a request knows of its user: a plain value, never a live ORM row."""

    id: int
    name: str
    role: str

    def get_id(self) -> str:
        return str(self.id)


@login_manager.user_loader
def load_user(user_id: str) -> CurrentUser | None:
    if not user_id.isdigit():
        return None
    row = db.session.get(User, int(user_id))
    if row is None or not row.is_active:
        return None
    return CurrentUser(row.id, row.name, row.role)


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
        user = db.session.scalars(select(User).where(User.name == form.name.data)).one_or_none()
        if user is not None and verify_password(user, form.password.data or ""):
            login_user(CurrentUser(user.id, user.name, user.role))
            audit.record(db.session, "auth.login", user_id=user.id)
            return redirect(_safe_next(request.args.get("next")))
        if user is None:
            verify_password(User(name="", role="annotator"), form.password.data or "")
        flash("Unknown user name or wrong password.", "error")
        return render_template("login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> ResponseReturnValue:
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
