"""Sign up, log in, log out."""

from __future__ import annotations

import typing as t

from werkzeug.security import check_password_hash, generate_password_hash

from framework import Blueprint, flash, g, redirect, render_template, request, session, url_for
from gae.sessions import regenerate

from .models import USERNAME, User
from .security import clear_failures, login_blocked, record_failure, safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth")

MIN_PASSWORD = 8


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> t.Any:
    errors: dict[str, str] = {}
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        password = request.form.get("password", "")
        if not USERNAME.match(username):
            errors["username"] = "Use 3 to 30 letters, digits, dots, dashes or underscores."
        elif User.lookup(username) is not None:
            errors["username"] = "That username is taken."
        if len(password) < MIN_PASSWORD:
            errors["password"] = f"Use at least {MIN_PASSWORD} characters."
        if not errors:
            user = User(
                id=username.lower(),
                username=username,
                password_hash=generate_password_hash(password),
            )
            user.put()
            regenerate()
            session["user_id"] = user.key.id()
            flash(f"Welcome, {username}!", "success")
            return redirect(url_for("posts.index"))
    status = 400 if errors else 200
    return render_template("signup.html", errors=errors, username=username), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> t.Any:
    errors: dict[str, str] = {}
    username = request.form.get("username", "").strip()
    next_url = safe_next(request.values.get("next"), url_for("posts.index"))
    if request.method == "POST":
        password = request.form.get("password", "")
        if login_blocked(username):
            errors["form"] = "Too many failed attempts. Wait 15 minutes and try again."
            return render_template(
                "login.html", errors=errors, username=username, next=next_url
            ), 429
        user = User.lookup(username) if username else None
        if user is None or not check_password_hash(user.password_hash, password):
            record_failure(username)
            errors["form"] = "Wrong username or password."
        else:
            clear_failures(username)
            regenerate()  # a session id planted before login is worthless after it
            session["user_id"] = user.key.id()
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
        flash("You are logged out.", "info")
    return redirect(url_for("posts.index"))
