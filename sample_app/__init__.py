"""The sample application: what `make run` serves and `gcloud app deploy` deploys."""

from __future__ import annotations

from framework import Flask


def create_app() -> Flask:
    """Build the sample app (for now the hello-world seed)."""
    app = Flask(__name__)

    @app.route("/")
    def hello() -> str:
        return "Hello World!"

    return app
