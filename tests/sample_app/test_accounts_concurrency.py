"""Sign-ups and logins racing each other, on threads, against the Datastore emulator and
the Firestore emulator in Datastore mode (pessimistic locking, as production today).

* Concurrent sign-ups of one name: exactly one account is created, every other request
  answers "That username is taken", and the account keeps the winner's password.
* Concurrent wrong passwords for one account from one client get at most the limit of
  password checks, however many are in flight.
"""

from __future__ import annotations

import threading
import typing as t
from collections import Counter
from collections.abc import Iterator

import pytest

import gae.ndb
import gae.storage
from framework import Flask
from framework.testing import FlaskClient
from gae.emulators import DatastoreEmulator, StorageEmulator
from gae.settings import reload_settings

from .conftest import csrf_from

THREADS = 12


@pytest.fixture(scope="module")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatastoreEmulator]:
    emulator = DatastoreEmulator(
        "test-project", mode="firestore", log_dir=tmp_path_factory.mktemp("firestore")
    )
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(params=["datastore", "firestore"])
def backend(request: pytest.FixtureRequest) -> DatastoreEmulator:
    name = "datastore_emulator" if request.param == "datastore" else "firestore_emulator"
    return t.cast(DatastoreEmulator, request.getfixturevalue(name))


@pytest.fixture
def race_app(
    backend: DatastoreEmulator, gcs_emulator: StorageEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    for key, value in {**backend.env, **gcs_emulator.env}.items():
        monkeypatch.setenv(key, value)
    reload_settings()
    gae.ndb.set_client_factory(None)
    gae.storage.set_client_factory(None)
    backend.reset()
    from sample_app import create_app

    yield create_app({"TESTING": True, "UPLOAD_BUCKET": gcs_emulator.bucket})
    monkeypatch.undo()
    reload_settings()
    gae.ndb.set_client_factory(None)
    gae.storage.set_client_factory(None)


def _together(count: int, action: t.Callable[[int], t.Any]) -> list[t.Any]:
    """Run ``action(i)`` for ``i`` in ``range(count)`` on threads released at once."""
    barrier = threading.Barrier(count)
    results: list[t.Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except BaseException as error:  # reported by the assertion below
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results


def _form(app: Flask, path: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    return client, csrf_from(client, path)


def _login(app: Flask, username: str, password: str) -> int:
    client, token = _form(app, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "127.0.0.9"},  # not the client whose attempts are counted
    )
    return response.status_code


def test_concurrent_sign_ups_of_one_name_make_one_account(
    race_app: Flask, backend: DatastoreEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    forms = [_form(race_app, "/auth/signup") for _ in range(THREADS)]

    def sign_up(i: int) -> tuple[int, str]:
        client, token = forms[i]
        response = client.post(
            "/auth/signup",
            data={"username": "Racer", "password": f"password number {i}", "csrf_token": token},
        )
        return response.status_code, response.text

    results = _together(THREADS, sign_up)
    statuses = Counter(status for status, _ in results)
    assert statuses == {302: 1, 400: THREADS - 1}, statuses
    winner = next(i for i, (status, _) in enumerate(results) if status == 302)
    for status, text in results:
        if status == 400:
            assert "That username is taken." in text
    # The account is the winner's: its password logs in, nobody else's does.
    assert _login(race_app, "racer", f"password number {winner}") == 302
    loser = (winner + 1) % THREADS
    assert _login(race_app, "racer", f"password number {loser}") == 400
    from sample_app.models import User

    with gae.ndb.get_client().context():
        assert [u.key.id() for u in User.query().fetch()] == ["racer"]
    with capsys.disabled():
        print(f"\n{backend.name}: {THREADS} concurrent sign-ups of one name: {dict(statuses)}")


def test_concurrent_sign_ups_of_different_names_all_keep_their_password(
    race_app: Flask,
) -> None:
    forms = [_form(race_app, "/auth/signup") for _ in range(THREADS)]

    def sign_up(i: int) -> int:
        client, token = forms[i]
        data = {"username": f"user{i}", "password": f"secret of user {i}", "csrf_token": token}
        return client.post("/auth/signup", data=data).status_code

    assert _together(THREADS, sign_up) == [302] * THREADS
    for i in range(THREADS):
        assert _login(race_app, f"user{i}", f"secret of user {i}") == 302


def test_concurrent_wrong_passwords_get_at_most_the_limit_of_checks(
    race_app: Flask, backend: DatastoreEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from sample_app.limits import PER_ACCOUNT

    client, token = _form(race_app, "/auth/signup")
    data = {"username": "target", "password": "the real password", "csrf_token": token}
    assert client.post("/auth/signup", data=data).status_code == 302
    forms = [_form(race_app, "/auth/login") for _ in range(THREADS)]

    def guess(i: int) -> int:
        client, token = forms[i]
        data = {"username": "target", "password": f"guess {i}", "csrf_token": token}
        return client.post("/auth/login", data=data).status_code

    statuses = Counter(_together(THREADS, guess))
    assert set(statuses) <= {400, 429}, statuses  # 400: a password was checked
    assert statuses[400] <= PER_ACCOUNT, statuses
    # One at a time until refused: the checks add up to the limit exactly, and then even
    # the right password is refused from this client...
    checked = statuses[400]
    while True:
        status = guess(0)
        if status == 429:
            break
        assert status == 400
        checked += 1
    assert checked == PER_ACCOUNT
    client, token = _form(race_app, "/auth/login")
    data = {"username": "target", "password": "the real password", "csrf_token": token}
    assert client.post("/auth/login", data=data).status_code == 429
    # ... while its owner, elsewhere, logs in.
    assert _login(race_app, "target", "the real password") == 302
    with capsys.disabled():
        print(
            f"\n{backend.name}: {THREADS} concurrent wrong passwords: {dict(statuses)} "
            f"(400: checked, 429: refused unchecked); {checked} checks in all"
        )
