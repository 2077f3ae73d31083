"""A small blogging application written against Flask's public API, the way a Flask user
writes one: an app factory, two blueprints, a MethodView API, sqlite3, Jinja templates.

The source imports ``flask`` literally (``from flask import ...``). It is never edited to
run on ``framework``: ``tests/compat/porting.py`` loads a second copy of this package with
those import lines rewritten to ``framework``, which is exactly the one-line-per-import
change the porting guide asks of a user. Nothing here knows which of the two it runs on.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Flask, render_template, request
from flask.views import View


def create_app(
    test_config: dict[str, Any] | None = None, instance_path: str | None = None
) -> Flask:
    """Build the application; ``test_config`` replaces the instance ``config.py``."""
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY="dev",
        DATABASE=os.path.join(app.instance_path, "flaskr_like.sqlite"),
        DOWNLOAD_FOLDER=os.path.join(app.root_path, "downloads"),
        SITE_NAME="Flaskr-like",
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        MAINTENANCE=False,
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    else:
        app.config.from_mapping(test_config)

    os.makedirs(app.instance_path, exist_ok=True)

    from . import api, auth, blog, db, downloads, profiles

    db.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(blog.bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(downloads.bp)
    app.register_blueprint(profiles.bp)
    app.add_url_rule("/about", view_func=Page.as_view("about", "about.html", title="About"))
    # The index lives in the blog blueprint; give it the plain name too, as the tutorial does.
    app.add_url_rule("/", endpoint="index")

    @app.context_processor
    def inject_site() -> dict[str, Any]:
        return {"site_name": app.config["SITE_NAME"]}

    @app.template_filter()
    def pluralize(number: int, singular: str = "", plural: str = "s") -> str:
        return singular if number == 1 else plural

    @app.template_test("long_post")
    def is_long_post(body: str) -> bool:
        return len(body.split()) > 8

    @app.template_global()
    def post_count() -> int:
        return int(db.query("SELECT COUNT(*) AS n FROM post", one=True)["n"])

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.errorhandler(404)
    def page_not_found(error: Any) -> Any:
        return render_template("errors/404.html", path=request.path), 404

    @app.errorhandler(500)
    def internal_error(error: Any) -> Any:
        return render_template("errors/500.html"), 500

    @app.route("/boom")
    def boom() -> str:
        # A deliberately broken page, to show the 500 handler at work.
        raise RuntimeError("the oven caught fire")

    @app.route("/hello")
    def hello() -> str:
        return "Hello, World!"

    return app


class Page(View):
    """A plain page rendered from a template, configured when it is registered."""

    methods = ["GET"]

    def __init__(self, template: str, **context: Any) -> None:
        self.template = template
        self.context = context

    def dispatch_request(self) -> str:
        return render_template(self.template, **self.context)
