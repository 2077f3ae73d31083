"""A small notes app written for Flask: Flask-SQLAlchemy, Flask-Migrate, Flask-Login,
Flask-WTF and Flask-Limiter, with ``import flask`` everywhere (see main.py for the one line
that ports it)."""

import os

import click
import flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

db = SQLAlchemy()
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(get_remote_address, storage_uri="memory://")


def create_app():
    app = flask.Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ["SECRET_KEY"],
        SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"],
    )
    db.init_app(app)
    migrate.init_app(app, db, directory=os.environ.get("MIGRATIONS", "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "views.login"
    csrf.init_app(app)
    limiter.init_app(app)

    from . import models, views

    app.register_blueprint(views.bp)

    @login_manager.user_loader
    def load_user(user_id):
        return db.session.get(models.User, int(user_id))

    @app.cli.command("add-user")
    @click.argument("name")
    @click.argument("password")
    def add_user(name, password):
        """Create a user who can log in."""
        user = models.User(name=name)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        click.echo(f"added {name}")

    return app
