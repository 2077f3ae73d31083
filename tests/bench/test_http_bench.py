"""Smoke test for the HTTP benchmark (``bench.http_run``): real servers on loopback ports,
real wrk, one short round. Timings are never asserted; what is checked is that every side
answered correctly before and under load (a POST body or cookie that wrk sent wrongly
turns into 4xx/5xx responses, which fail the run) and that the report has its rows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.http_servers import app_yaml_server, entrypoint_argv
from bench.http_wrk import lua_string

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("wrk") is None and not os.environ.get("CI"),
        reason="needs Debian's wrk: apt-get install wrk (make test installs it)",
    ),
]


def test_headline_run_serves_every_side_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "http.json"
    args = "--scenario form --scenario session --rounds 1 --seconds 1 --warmup 1 --json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.http_run", *args.split(), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["ok"] is True
    assert [run["scenario"] for run in data["runs"]] == ["form", "session"]
    for run in data["runs"]:
        labels = [side["label"] for side in run["sides"]]
        assert labels == [
            "Flask on gunicorn",
            "Flask on gunicorn (A/A)",
            "framework on gunicorn",
            "framework on app.yaml",
        ]
        for side in run["sides"]:
            assert side["problems"] == []
            (sample,) = side["samples"]
            assert sample["requests"] > 0 and sample["non_2xx"] == 0
            assert sample["socket_errors"] == 0
            assert sample["cpu_us"] > 0
            assert side["memory"]["worker_rss_mib"] > 5
    headline = [line for line in proc.stdout.splitlines() if line.startswith("| form |")]
    assert len(headline) == 1 and "x" in headline[0]
    assert "app.yaml's entrypoint: `granian" in proc.stdout


def test_app_yaml_side_runs_the_entrypoint_with_only_the_bind_and_app_changed() -> None:
    server = app_yaml_server()
    assert server.missing() is None
    argv = server.argv("127.0.0.1", 8123)
    assert Path(argv[0]).name == "granian" and argv[-1] == "bench.http_app:app"
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "8123"
    gunicorn = entrypoint_argv(
        "gunicorn --bind :$PORT --workers 1 sample_app.main:app", "127.0.0.1", 9
    )
    assert gunicorn[1:] == ["--bind", "127.0.0.1:9", "--workers", "1", "sample_app.main:app"]


def test_lua_strings_escape_every_byte_wrk_could_misread() -> None:
    assert lua_string("a b") == '"a b"'
    assert lua_string('x"\\\n') == '"x\\034\\092\\010"'
    assert lua_string(b"\xff1") == '"\\2551"'
