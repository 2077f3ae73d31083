"""Malformed requests the fuzz suite found answering 500 (Flask 3.1 does too): now 4xx or
handled, with the request built as a server would pass it on."""

from __future__ import annotations

import gc
import io
import typing as t
import warnings

import pytest

from framework import Flask, jsonify, render_template_string, request, url_for
from framework.testing import EnvironBuilder


def _app(**config: t.Any) -> Flask:
    app = Flask(__name__)
    app.config.update(TESTING=True, **config)

    @app.route("/")
    def index() -> str:
        return "home"

    @app.route("/args")
    def args() -> t.Any:
        return jsonify(args=request.args.to_dict(flat=False), full_path=request.full_path)

    @app.post("/json")
    def json_view() -> t.Any:
        return jsonify(got=request.get_json())

    @app.post("/form")
    def form() -> t.Any:
        return jsonify(
            form=sorted(request.form), files=sorted(request.files), names=[*request.form]
        )

    @app.errorhandler(400)
    def bad_request(error: Exception) -> t.Any:
        # An error page in a layout builds links, as most sites' error pages do.
        return render_template_string('<a href="{{ url_for("index") }}">home</a>'), 400

    return app


def _call(app: Flask, environ: dict[str, t.Any]) -> tuple[int, bytes]:
    status: list[str] = []
    body = app(environ, lambda s, h, e=None: status.append(s))  # type: ignore[arg-type, misc]
    data = b"".join(body)
    return int(status[0].split()[0]), data


def test_raw_non_utf8_bytes_in_the_query_string_stay_percent_encoded() -> None:
    app = _app()
    environ = EnvironBuilder(app, path="/args").get_environ()
    # What a server passes on for "GET /args?a=%ff&\xff=\xc3\xa9 HTTP/1.1": PEP 3333
    # strings hold the raw bytes as latin-1.
    environ["QUERY_STRING"] = b"a=%ff&\xff=\xc3\xa9".decode("latin-1")
    status, body = _call(app, environ)
    assert status == 200
    data = app.json.loads(body)
    assert data["args"] == {"a": ["%FF"], "%FF": ["é"]}
    assert data["full_path"] == "/args?a=%ff&%FF=é"


def test_too_deeply_nested_json_is_a_400() -> None:
    app = _app()
    client = app.test_client()
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post("/json", data=deep, content_type="application/json")
    assert response.status_code == 400
    ok = client.post("/json", data="[" * 50 + "]" * 50, content_type="application/json")
    assert ok.status_code == 200
    with pytest.raises(ValueError, match="nested too deeply"):
        app.json.loads(deep)


def _multipart(body: bytes, boundary: str = "b") -> dict[str, t.Any]:
    return {
        "data": body,
        "content_type": f"multipart/form-data; boundary={boundary}",
    }


def test_multipart_part_without_a_name_is_dropped() -> None:
    app = _app()
    body = (
        b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        b"--b\r\nContent-Disposition: attachment\r\n\r\nno name\r\n"
        b'--b\r\nContent-Disposition: form-data; filename="x.txt"\r\n\r\nfile\r\n'
        b"--b--\r\n"
    )
    response = app.test_client().post("/form", **_multipart(body))
    assert response.status_code == 200
    assert response.get_json() == {"form": ["a"], "files": [], "names": ["a"]}


def test_upload_files_are_closed_when_the_body_fails_to_parse() -> None:
    app = _app(MAX_FORM_PARTS=2)
    big = b"x" * 600_000  # over werkzeug's 500 KB threshold: a temporary file on disk
    part = b'--b\r\nContent-Disposition: form-data; name="f"; filename="f.bin"\r\n\r\n'
    bodies = [
        (part + big, 200),  # truncated, no closing delimiter: werkzeug keeps no file
        (part + big + b"\r\n" + part + big, 200),
        ((part + big + b"\r\n") * 3 + b"--b--\r\n", 413),  # over MAX_FORM_PARTS
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for body, status in bodies:
            response = app.test_client().post("/form", **_multipart(body))
            assert response.status_code == status
            if status == 200:
                assert response.get_json()["files"] == []
            del response
        gc.collect()
    leaked = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaked, [str(w.message) for w in leaked]


@pytest.mark.parametrize(
    ("host", "config"),
    [
        ("a" * 64 + ".example", {}),  # a DNS label over 63 characters: werkzeug's BadHost
        ("evil.example", {"TRUSTED_HOSTS": ["good.example"]}),
    ],
)
def test_refused_host_gets_a_400_whose_error_page_can_build_links(
    host: str, config: dict[str, t.Any]
) -> None:
    app = _app(**config)
    response = app.test_client().get("/", headers={"Host": host})
    assert response.status_code == 400
    assert response.text == '<a href="/">home</a>'
    assert host not in response.text


def test_refused_host_never_leaks_into_external_urls() -> None:
    app = _app()

    @app.errorhandler(400)
    def bad_request(error: Exception) -> t.Any:
        return url_for("index", _external=True), 400

    with pytest.raises(RuntimeError, match="SERVER_NAME"):
        app.test_client().get("/", headers={"Host": "a" * 64})
    app.config["SERVER_NAME"] = "good.example"
    response = app.test_client().get("/", headers={"Host": "a" * 64})
    assert (response.status_code, response.text) == (400, "http://good.example/")


def test_content_length_longer_than_the_body_is_a_400() -> None:
    # A lying Content-Length (larger than the body) is a 400, not a hang or a 500.
    app = _app()
    environ = EnvironBuilder(app, path="/form", method="POST", data=b"a=1").get_environ()
    environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
    environ["CONTENT_LENGTH"] = "100"
    environ["wsgi.input"] = io.BytesIO(b"a=1")
    status, _ = _call(app, environ)
    assert status == 400
