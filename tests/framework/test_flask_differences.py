"""Behaviours found different from Flask 3.1.3 by running Flask extensions, now the same.

Each test runs the same code on Flask and on framework and compares what a user sees.
"""

from __future__ import annotations

import re
import sys
import types
import typing as t
from importlib import metadata

import flask
import pytest
from click.testing import CliRunner

import framework
import framework.cli.groups
from framework.cli import CertParamType

MODULES = {"flask": flask, "framework": framework}


@pytest.fixture(params=list(MODULES))
def mod(request: pytest.FixtureRequest) -> types.ModuleType:
    return MODULES[request.param]


def _both(check: t.Callable[[types.ModuleType], t.Any]) -> t.Any:
    theirs, ours = check(flask), check(framework)
    assert ours == theirs
    return ours


def test_server_name_does_not_restrict_hosts_and_builds_external_urls() -> None:
    # On App Engine one app answers on *.appspot.com and on custom domains.
    def check(mod: types.ModuleType) -> list[t.Any]:
        app = mod.Flask("site")
        app.config["SERVER_NAME"] = "Example.com:80"
        app.add_url_rule("/", "index", lambda: mod.url_for("index", _external=True))
        app.add_url_rule("/dir/", "dir", lambda: "dir")
        client = app.test_client()
        seen = []
        for host in ("example.com", "other.org", "sub.example.com", "127.0.0.1:8080"):
            page = client.get("/", headers={"Host": host})
            redirect = client.get("/dir", headers={"Host": host})
            seen.append((page.status_code, page.text, redirect.headers.get("Location")))
        return seen

    assert _both(check)[1] == (200, "http://example.com/", "http://example.com/dir/")


def test_url_for_takes_a_value_named_self(mod: types.ModuleType) -> None:
    app = mod.Flask("site")
    app.add_url_rule("/users/<self>", "user", lambda self: self)
    with app.test_request_context():
        assert app.url_for("user", self="me") == "/users/me"
        assert mod.url_for("user", self="me") == "/users/me"


def test_a_session_interface_that_opens_no_session_gets_the_null_session() -> None:
    def check(mod: types.ModuleType) -> tuple[int, str]:
        class NoSessions(mod.sessions.SecureCookieSessionInterface):  # type: ignore[name-defined, misc]
            def open_session(self, app: t.Any, request: t.Any) -> None:
                return None

        app = mod.Flask("site")
        app.secret_key = "secret"
        app.session_interface = NoSessions()
        app.add_url_rule("/", "index", lambda: f"{dict(mod.session)} {mod.session.get('x')}")
        response = app.test_client().get("/")
        return response.status_code, response.text

    assert _both(check) == (200, "{} None")


def test_host_matching_without_a_static_folder_needs_no_static_host() -> None:
    def check(mod: types.ModuleType) -> tuple[int, str]:
        app = mod.Flask("site", host_matching=True, static_folder=None)
        app.add_url_rule("/", "index", lambda: "hi", host="a.example")
        response = app.test_client().get("/", headers={"Host": "a.example"})
        return response.status_code, response.text

    assert _both(check) == (200, "hi")


def test_adhoc_certificates_with_cryptography_loaded_without_a_spec(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A module object put in sys.modules by hand (or a frozen app) has no __spec__, and
    # importlib.util.find_spec raises ValueError for it.
    monkeypatch.setitem(sys.modules, "cryptography", types.ModuleType("cryptography"))
    assert CertParamType().convert("adhoc", None, None) == "adhoc"


def test_version_without_werkzeugs_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    # A vendored werkzeug (App Engine apps that copy their packages) has no metadata.
    real_version = metadata.version

    def version(name: str) -> str:
        if name == "werkzeug":
            raise metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(framework.cli.groups.metadata, "version", version)
    result = CliRunner().invoke(framework.cli.cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:] == [
        "framework 0.1.0",
        "Werkzeug (version unknown: no installed metadata)",
    ]


def _secretless_transaction(mod: types.ModuleType) -> None:
    with mod.Flask("site").test_client().session_transaction():
        pass


def _cookieless_transaction(mod: types.ModuleType) -> None:
    app = mod.Flask("site")
    app.secret_key = "secret"
    with app.test_client(use_cookies=False).session_transaction():
        pass


def _late_setup(mod: types.ModuleType) -> None:
    app = mod.Flask("site")
    app.add_url_rule("/", "index", lambda: "hi")
    app.test_client().get("/")
    app.add_url_rule("/late", "late", lambda: "late")


def _late_blueprint_setup(mod: types.ModuleType) -> None:
    app, bp = mod.Flask("site"), mod.Blueprint("bp", "site")
    app.register_blueprint(bp)
    bp.add_url_rule("/late", "late", lambda: "late")


def _bad_tuple(mod: types.ModuleType) -> None:
    app = mod.Flask("site")
    app.testing = True
    app.add_url_rule("/", "index", lambda: ("body", 200, {}, "extra"))
    app.test_client().get("/")


def _json_args_and_kwargs(mod: types.ModuleType) -> None:
    with mod.Flask("site").app_context():
        mod.jsonify(1, a=2)


def _handler_for_an_instance(mod: types.ModuleType) -> None:
    mod.Flask("site").register_error_handler(ValueError(), lambda e: "")


# (what, exception type, Flask's key phrase users match with pytest.raises(match=...))
KEY_PHRASES = [
    (_secretless_transaction, RuntimeError, "Session backend did not open a session"),
    (_cookieless_transaction, TypeError, "Cookies are disabled"),
    (_late_setup, AssertionError, "setup method 'add_url_rule'"),
    (_late_blueprint_setup, AssertionError, "setup method 'add_url_rule'"),
    (_bad_tuple, TypeError, "tuple must have the form"),
    (_json_args_and_kwargs, TypeError, "args or kwargs"),
    (_handler_for_an_instance, TypeError, "is an instance, not a class"),
]


@pytest.mark.parametrize(
    ("action", "kind", "phrase"), KEY_PHRASES, ids=[a.__name__ for a, _, _ in KEY_PHRASES]
)
def test_error_messages_carry_flasks_key_phrase(
    mod: types.ModuleType, action: t.Callable[[types.ModuleType], None], kind: type, phrase: str
) -> None:
    with pytest.raises(kind, match=re.escape(phrase)) as caught:
        action(mod)
    if mod is framework:
        # Ours goes on to name the fix.
        assert len(str(caught.value)) > len(phrase) + 40
