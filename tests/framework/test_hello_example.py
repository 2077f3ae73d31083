"""The hello-world program answers "Hello World!", in process and over real HTTP."""

from __future__ import annotations

import pathlib
import runpy

import pytest

from ._server import free_port, port_is_free, serving

HELLO = """\
from framework import Flask
app = Flask(__name__)

@app.route("/")
def hello():
    return "Hello World!"

if __name__ == "__main__":
    app.run()
"""

WRAPPER = """\
import sys

import {module}

{module}.app.run(port=int(sys.argv[1]))
"""


def _write_programs(tmp_path: pathlib.Path) -> None:
    (tmp_path / "hello.py").write_text(HELLO)
    (tmp_path / "hello_flask.py").write_text(HELLO.replace("from framework", "from flask"))
    for module in ("hello", "hello_flask"):
        (tmp_path / f"run_{module}.py").write_text(WRAPPER.format(module=module))


def test_hello_in_process(tmp_path: pathlib.Path) -> None:
    _write_programs(tmp_path)
    for name in ("hello.py", "hello_flask.py"):
        namespace = runpy.run_path(str(tmp_path / name), run_name="hello_module")
        response = namespace["app"].test_client().get("/")
        assert response.status_code == 200
        assert response.text == "Hello World!"
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_hello_over_http(tmp_path: pathlib.Path) -> None:
    _write_programs(tmp_path)
    ours_port, flask_port = free_port(), free_port()
    with serving(
        [
            (["run_hello.py", str(ours_port)], ours_port),
            (["run_hello_flask.py", str(flask_port)], flask_port),
        ],
        tmp_path,
    ) as (ours, theirs):
        status, headers, body = ours.get("/")
        assert status == 200
        assert body == b"Hello World!"
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Content-Length"] == "12"
        assert ours.get("/")[2] == b"Hello World!"
        missing = ours.get("/missing")
        assert missing[0] == 404
        for path in ("/", "/missing"):
            a, b = ours.get(path), theirs.get(path)
            assert (a[0], a[2], a[1]["Content-Type"]) == (b[0], b[2], b[1]["Content-Type"])
        assert f"Running on http://127.0.0.1:{ours_port}" in ours.output()
        assert "GET / HTTP/1.1" in ours.output()


def test_exact_program_serves_on_127_0_0_1_port_5000(tmp_path: pathlib.Path) -> None:
    if not port_is_free(5000):
        pytest.skip("127.0.0.1:5000 is in use, so the default-port run cannot be checked")
    _write_programs(tmp_path)
    with serving([(["hello.py"], 5000)], tmp_path) as (server,):
        status, _, body = server.get("/")
        assert (status, body) == (200, b"Hello World!")
        assert "Running on http://127.0.0.1:5000" in server.output()
