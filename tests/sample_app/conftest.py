"""Fixtures for the sample app: a fresh app on wiped emulators, and a logged-in helper."""

from __future__ import annotations

import re
import shutil
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

import gae.ndb
import gae.storage
import gae.tasks
from framework import Flask
from framework.testing import FlaskClient
from gae.emulators import DatastoreEmulator, StorageEmulator
from gae.emulators.tasks import TasksEmulator
from gae.settings import reload_settings

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(
    datastore_emulator: DatastoreEmulator,
    gcs_emulator: StorageEmulator,
    tasks_emulator: TasksEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Flask]:
    # Other session fixtures (fake-gcs-server) export their own STORAGE_EMULATOR_HOST:
    # point this test's clients at these emulators explicitly, with fresh clients.
    # Tasks the app defers (attachment scans) wait in the paused queues of the Cloud
    # Tasks emulator; a test runs them with the cloud_tasks fixture.
    env = {**datastore_emulator.env, **gcs_emulator.env, **tasks_emulator.env}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reload_settings()
    gae.ndb.set_client_factory(None)
    gae.tasks.set_client_factory(None)
    gae.storage.set_client_factory(None)
    datastore_emulator.reset()
    gcs_emulator.reset()
    from sample_app import create_app

    yield create_app({"TESTING": True, "UPLOAD_BUCKET": gcs_emulator.bucket})
    gae.ndb.set_client_factory(None)
    gae.storage.set_client_factory(None)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_from(client: FlaskClient, path: str = "/auth/login") -> str:
    """The CSRF token a page renders for this client's session."""
    match = CSRF.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class Users:
    """Sign up and log in through the real forms."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def signup(self, username: str, password: str = "correct horse") -> FlaskClient:
        client = self.app.test_client()
        token = csrf_from(client, "/auth/signup")
        response = client.post(
            "/auth/signup",
            data={"username": username, "password": password, "csrf_token": token},
        )
        assert response.status_code == 302, response.text
        return client

    def post(self, client: FlaskClient, title: str = "Hello", text: str = "World") -> int:
        token = csrf_from(client, "/new")
        response = client.post("/new", data={"title": title, "text": text, "csrf_token": token})
        assert response.status_code == 302, response.text
        return int(t.cast(str, response.headers["Location"]).rsplit("/", 1)[1])


@pytest.fixture
def users(app: Flask) -> Users:
    return Users(app)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """Headless Chromium (Debian's chromium and chromium-driver) through selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    # The console (CSP violations are reported there), read with get_log("browser").
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(shutil.which("chromedriver"))), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
