"""Sign up, log in, log out."""

from __future__ import annotations

import typing as t

from werkzeug.security import check_password_hash, generate_password_hash

from framework import Blueprint, flash, g, redirect, render_template, request, session, url_for
from gae.sessions import regenerate

from .csrf import rotate as rotate_csrf
from .current_user import remember
from .limits import Verdict, client_id, reserve, succeeded
from .models import USERNAME, User
from .security import safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth")

MIN_PASSWORD = 8
TAKEN = "That username is taken."


def _logged_in_as(user: User) -> None:
    """A new session id and new CSRF tokens for the new privilege (a session or token
    planted before is worthless after it), then the user id."""
    regenerate()
    rotate_csrf()
    remember(user)


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> t.Any:
    errors: dict[str, str] = {}
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        password = request.form.get("password", "")
        if not USERNAME.match(username):
            errors["username"] = "Use 3 to 30 letters, digits, dots, dashes or underscores."
        elif User.lookup(username) is not None:
            errors["username"] = TAKEN  # (the early answer; create() decides for certain)
        if len(password) < MIN_PASSWORD:
            errors["password"] = f"Use at least {MIN_PASSWORD} characters."
        if not errors:
            user = User(
                id=username.lower(),
                username=username,
                password_hash=generate_password_hash(password),
            )
            if user.create():
                _logged_in_as(user)
                flash(f"Welcome, {username}!", "success")
                return redirect(url_for("posts.index"))
            errors["username"] = TAKEN  # someone else signed up with it meanwhile
    status = 400 if errors else 200
    return render_template("signup.html", errors=errors, username=username), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> t.Any:
    errors: dict[str, str] = {}
    username = request.form.get("username", "").strip()
    next_url = safe_next(request.values.get("next"), url_for("posts.index"))
    if request.method == "POST":
        password = request.form.get("password", "")
        client = client_id()
        # Counted before the password is checked: see sample_app.limits.
        verdict = reserve(username, client)
        if verdict is not Verdict.ALLOWED:
            if verdict is Verdict.BLOCKED:
                errors["form"] = "Too many failed attempts. Wait 15 minutes and try again."
            else:
                errors["form"] = "Too many login attempts at once. Try again in a moment."
            page = render_template("login.html", errors=errors, username=username, next=next_url)
            return page, 429, {"Retry-After": "900" if verdict is Verdict.BLOCKED else "5"}
        user = User.lookup(username) if username else None
        if user is None or not check_password_hash(user.password_hash, password):
            errors["form"] = "Wrong username or password."
        else:
            succeeded(username, client)
            _logged_in_as(user)
            flash(f"Hello, {user.username}.", "success")
            return redirect(next_url)
    status = 400 if errors else 200
    return render_template("login.html", errors=errors, username=username, next=next_url), status


@bp.post("/logout")
def logout() -> t.Any:
    if g.user is not None:
        # Everything of the old session goes (its entity too, with the id): the new one
        # only carries the goodbye message, and is deleted once that has been shown.
        session.clear()
        regenerate()
        rotate_csrf()
        flash("You are logged out.", "info")
    return redirect(url_for("posts.index"))
