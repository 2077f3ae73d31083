"""The task route runs only what Cloud Tasks (or the local emulator) delivers."""

from __future__ import annotations

import typing as t

import pytest

import gae
from framework import Flask
from gae.settings import Settings
from gae.tasks import Tasks
from gae.tasks.payload import Call, encode_call

from . import jobs
from .conftest import SECRET

URL = "/_ah/queue/deferred"


def app_engine_app() -> Flask:
    """The app as it runs on App Engine (trusted headers, production settings)."""
    settings = Settings.from_environ(
        {"GAE_ENV": "standard", "GOOGLE_CLOUD_PROJECT": "p", "GAE_VERSION": "v1"}
    )
    app = Flask("on_app_engine")
    app.config.update(SECRET_KEY=SECRET)
    gae.AppEngine(app, settings=settings)
    Tasks(app)
    return app


def signed(app: Flask, path: str, *args: t.Any) -> bytes:
    with app.app_context():
        return t.cast(bytes, Tasks.current().signer().sign(encode_call(Call(path, list(args), {}))))


def test_forged_task_request_is_refused_on_app_engine(
    offline_ndb: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_TOKEN", "local-token")
    app = app_engine_app()
    body = signed(app, "tests.gae.tasks.jobs:write_note", "forged", "x")
    client = app.test_client()
    # App Engine strips a client's X-AppEngine-* headers, so a forged request has none.
    assert client.post(URL, data=body).status_code == 403
    # The local emulator's token means nothing on App Engine.
    forged = client.post(URL, data=body, headers={"X-Gae-Tasks-Emulator-Token": "local-token"})
    assert forged.status_code == 403
    assert b"only for Cloud Tasks" in forged.data


def test_task_route_accepts_only_post(offline_ndb: None) -> None:
    app = app_engine_app()
    assert app.test_client().get(URL).status_code == 405


def test_local_requests_need_the_emulator_token(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_TOKEN", "right-token")
    body = signed(app, "tests.gae.tasks.jobs:write_note", "local", "x")
    client = app.test_client()
    headers = {"X-AppEngine-QueueName": "default", "X-AppEngine-TaskName": "t1"}
    assert client.post(URL, data=body, headers=headers).status_code == 403
    wrong = {**headers, "X-Gae-Tasks-Emulator-Token": "wrong-token"}
    assert client.post(URL, data=body, headers=wrong).status_code == 403
    right = {**headers, "X-Gae-Tasks-Emulator-Token": "right-token"}
    response = client.post(URL, data=body, headers=right)
    assert response.status_code == 200, response.data


def test_payload_with_a_bad_signature_is_dropped_not_run(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_TOKEN", "tok")
    headers = {"X-AppEngine-QueueName": "default", "X-Gae-Tasks-Emulator-Token": "tok"}
    unsigned = encode_call(Call("os:system", ["echo pwned"], {})) + b".bm90LWEtc2lnbmF0dXJl"
    response = app.test_client().post(URL, data=unsigned, headers=headers)
    assert response.status_code == 200  # dropped: retrying cannot help
    assert b"dropped" in response.data
    assert "signature does not match SECRET_KEY" in caplog.text


def test_signed_payload_naming_a_builtin_is_not_called(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_TOKEN", "tok")
    headers = {"X-AppEngine-QueueName": "default", "X-Gae-Tasks-Emulator-Token": "tok"}
    body = signed(app, "os:system", "echo pwned")
    response = app.test_client().post(URL, data=body, headers=headers)
    assert response.status_code == 200
    assert b"is not a Python function" in response.data


def test_payloads_signed_with_a_retired_key_still_run(
    app: Flask, monkeypatch: pytest.MonkeyPatch, ndb_client: t.Any
) -> None:
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_TOKEN", "tok")
    body = signed(app, "tests.gae.tasks.jobs:write_note", "rotated", "still runs")
    app.config["SECRET_KEY_FALLBACKS"] = [SECRET]
    app.config["SECRET_KEY"] = "a-new-secret-key-after-rotation"
    headers = {"X-AppEngine-QueueName": "default", "X-Gae-Tasks-Emulator-Token": "tok"}
    assert app.test_client().post(URL, data=body, headers=headers).status_code == 200
    with ndb_client.context():
        assert jobs.Note.get_by_id("rotated").text == "still runs"
