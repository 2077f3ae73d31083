import flask
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from . import db, limiter
from .forms import LoginForm, NoteForm
from .models import Note, User

bp = flask.Blueprint("views", __name__)


@bp.route("/")
@login_required
def index():
    form = NoteForm()
    notes = Note.query.filter_by(user_id=current_user.id).order_by(Note.id).all()
    return render_template("notes.html", form=form, notes=notes)


@bp.post("/notes")
@login_required
def add_note():
    form = NoteForm()
    if form.validate_on_submit():
        db.session.add(Note(text=form.text.data, author=current_user))
        db.session.commit()
        flash("Saved.")
    return redirect(url_for("views.index"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = User.query.filter_by(name=form.name.data).first()
        if user is not None and user.check_password(form.password.data):
            login_user(user)
            return redirect(request.args.get("next") or url_for("views.index"))
        flash("Wrong name or password.")
    return render_template("login.html", form=form), 200 if request.method == "GET" else 400


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("views.login"))
