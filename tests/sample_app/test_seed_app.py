"""The sample app served by `make run` and deployed by `gcloud app deploy`."""

from __future__ import annotations

from sample_app.main import app


def test_sample_app_answers_hello_world() -> None:
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert response.text == "Hello World!"
    assert response.content_type == "text/html; charset=utf-8"


def test_sample_app_unknown_path_is_404() -> None:
    assert app.test_client().get("/missing").status_code == 404
