"""The lab's pages: its projects with counts and export downloads, its tokens (revoke);
the admin's page to create a token for a lab user (shown once); export downloads for
leads and lab users."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from harness import accounts, exports
from harness.errors import InvalidInput
from harness.models import Project, Role, User, utcnow
from harness.status import project_overview
from harness.text import whole_number
from web.access import project_or_404, visible_projects
from web.downloads import download, options_from
from web.extensions import db
from web.security import roles_required

bp = Blueprint("lab", __name__)

DOWNLOADS = [(name, cls.extension) for name, cls in exports.FORMATS.items() if name != "parquet"]
"""The formats the pages offer, with Parquet of each tabular one beside them."""
TABULAR = [name for name, cls in exports.FORMATS.items() if cls.tabular]


@bp.route("/lab/")
@roles_required("lab")
def home() -> ResponseReturnValue:
    projects = visible_projects()
    counts = project_overview(db.session, [p.id for p in projects])
    tokens = accounts.tokens_of(db.session, current_user)
    return render_template("lab.html", projects=projects, counts=counts, tokens=tokens,
                           downloads=DOWNLOADS, tabular=TABULAR, now=utcnow())


@bp.post("/lab/tokens/<int:token_id>/revoke")
@roles_required("lab")
def revoke(token_id: int) -> ResponseReturnValue:
    accounts.revoke_token(db.session, token_id, by_user=current_user)
    flash(f"Token {token_id} revoked: it answers 401 from now on.", "info")
    return redirect(url_for("lab.admin_tokens" if current_user.role == Role.admin
                            else "lab.home"))


@bp.route("/p/<slug>/export/<fmt>")
@roles_required("lead", "lab")
def export(slug: str, fmt: str) -> ResponseReturnValue:
    """A whole export of the project as a download (leads and lab users of the project)."""
    return download(project_or_404(slug), fmt, options_from(request.args.to_dict()))


@bp.route("/admin/tokens", methods=["GET", "POST"])
@roles_required("admin")
def admin_tokens() -> ResponseReturnValue:
    """Create a token for a lab user on some of their projects; the secret is shown once."""
    secret = None
    if request.method == "POST":
        user = db.session.scalars(
            select(User).where(User.name == request.form.get("user", ""),
                               User.role == Role.lab)).one_or_none()
        if user is None:
            raise InvalidInput("invalid", "choose a lab user", field="user")
        slugs = request.form.getlist("project")
        scoped = list(db.session.scalars(select(Project).where(Project.slug.in_(slugs))))
        days = request.form.get("expires_days", "").strip()
        expires = None
        if days:
            count = whole_number(days)
            if count is None or not 1 <= count <= 3650:
                raise InvalidInput("invalid", "expiry: 1 to 3650 days, or empty for never",
                                   field="expires_days")
            from datetime import timedelta

            expires = utcnow() + timedelta(days=count)
        token, secret = accounts.create_token(db.session, user, scoped, expires_at=expires,
                                              by_user_id=current_user.id)
        flash(f"Token {token.id} created for {user.name}. Copy it now: it is not shown again.",
              "info")
    labs = list(db.session.scalars(select(User).where(User.role == Role.lab)
                                   .order_by(User.name)))
    projects = list(db.session.scalars(select(Project).order_by(Project.name)))
    tokens = {u.id: accounts.tokens_of(db.session, u) for u in labs}
    return render_template("admin_tokens.html", labs=labs, projects=projects, tokens=tokens,
                           secret=secret, now=utcnow())
