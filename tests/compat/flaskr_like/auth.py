"""Registration, login and logout; ``g.user`` for every request; ``login_required``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    after_this_request,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.security import check_password_hash, generate_password_hash

from .db import get_db, query

bp = Blueprint("auth", __name__, url_prefix="/auth")


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anonymous visitors to the login page, remembering where they were going."""

    @functools.wraps(view)
    def wrapped_view(**kwargs: Any) -> Any:
        if g.user is None:
            flash("Please log in first.", "warning")
            return redirect(url_for("auth.login", next=request.path))
        return view(**kwargs)

    return wrapped_view


@bp.before_app_request
def load_logged_in_user() -> None:
    user_id = session.get("user_id")
    g.user = (
        None if user_id is None else query("SELECT * FROM user WHERE id = ?", (user_id,), one=True)
    )


@bp.route("/register", methods=("GET", "POST"))
def register() -> Any:
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        error = None
        if not username:
            error = "Username is required."
        elif not password:
            error = "Password is required."
        if error is None:
            db = get_db()
            try:
                db.execute(
                    "INSERT INTO user (username, password) VALUES (?, ?)",
                    (username, generate_password_hash(password)),
                )
                db.commit()
            except db.IntegrityError:
                error = f"User {username} is already registered."
            else:
                flash(f"Welcome, {username}! You can log in now.", "success")
                return redirect(url_for("auth.login"))
        flash(error, "error")
    return render_template("auth/register.html")


@bp.route("/login", methods=("GET", "POST"))
def login() -> Any:
    if request.method == "POST":
        username = request.form["username"]
        password = request.form["password"]
        user = query("SELECT * FROM user WHERE username = ?", (username,), one=True)
        if user is None or not check_password_hash(user["password"], password):
            flash("Incorrect username or password.", "error")
            return render_template("auth/login.html"), 401
        session.clear()
        session["user_id"] = user["id"]
        if request.form.get("remember"):
            session.permanent = True

            @after_this_request
            def remember(response: Any) -> Any:
                response.set_cookie("last_user", username, max_age=3600, samesite="Lax")
                return response

        flash(f"Hello again, {user['username']}.", "success")
        target = request.args.get("next", "")
        # Only same-site paths: never redirect to another host.
        if not target.startswith("/") or target.startswith("//"):
            target = url_for("index")
        return redirect(target)
    return render_template("auth/login.html", last_user=request.cookies.get("last_user", ""))


@bp.route("/logout")
def logout() -> Any:
    session.clear()
    flash("You have been logged out.", "info")
    return redirect(url_for("index"))
