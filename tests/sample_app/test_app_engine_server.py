"""The root app.yaml's entrypoint server (granian) checked for what App Engine needs.

Each test runs the ``entrypoint`` line as App Engine does, through a shell with ``PORT``
set (only ``0.0.0.0`` becomes ``127.0.0.1``), against the real Datastore and Cloud Storage
emulators, and talks to it over real sockets: the port from the environment, warmup,
concurrent users each in their own ndb context, graceful SIGTERM, streamed uploads and
downloads, bodies near App Engine's 32 MiB cap, JSON logs on stdout carrying the request's
trace, and the memory an F1 instance (384 MB) has. dev_appserver running app.yaml is in
``tests/gae/test_deploy_e2e.py``. Timings are never asserted.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bench.http_servers import app_yaml_entrypoint, tree_memory
from gae.emulators import DatastoreEmulator, StorageEmulator
from gae.emulators.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.emulator]

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SECRET = "server-e2e-only-secret-key-0123456789abcdef"
TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')
MiB = 1024 * 1024
#: What an F1 instance may hold, in MiB (384 MB).
F1_MIB = 384 * 1000 * 1000 / MiB


class Served:
    """The entrypoint running in its own process group, its output in ``log``."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def entrypoint(tmp_path: Path, env: dict[str, str]) -> Iterator[Served]:
    """Run app.yaml's ``entrypoint`` through ``sh -c`` with ``PORT`` set; stop it after."""
    command = app_yaml_entrypoint()
    assert "$PORT" in command, command
    local = command.replace("0.0.0.0", HOST).replace(" :$PORT", f" {HOST}:$PORT")
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GAE_", "DATASTORE_"))}
    full_env = {
        **clean,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "SECRET_KEY": SECRET,
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {local}"],
            cwd=ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = Served(process, port, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the server exited:\n{served.output()[-3000:]}"
            with contextlib.suppress(OSError, http.client.HTTPException):
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            assert time.monotonic() < deadline, f"no answer in 60 s:\n{served.output()[-3000:]}"
            time.sleep(0.1)
        yield served
    finally:
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | Iterable[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on a fresh connection: ``(status, headers, body)``."""
    connection = http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        chunked = body is not None and not isinstance(body, bytes)
        connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        response = connection.getresponse()
        return response.status, response.msg, response.read()
    finally:
        connection.close()


def post_refused(port: int, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """POST ``body`` while reading the answer: a server may answer (413) and close before
    the body is all sent, so sending stops quietly at a closed connection."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection((HOST, port), timeout=120) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n{head}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )

        def send() -> None:
            with contextlib.suppress(OSError):
                sock.sendall(body)

        sender = threading.Thread(target=send)
        sender.start()
        response = http.client.HTTPResponse(sock)
        response.begin()
        data = response.read()
        with contextlib.suppress(OSError):  # already closed by the server
            sock.shutdown(socket.SHUT_RDWR)
        sender.join(60)
        return response.status, data


class Visitor:
    """A browser: keeps its cookies, fills forms with their CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def send(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        status, got, data = request(self.port, method, path, body, sent)
        for cookie in got.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            if value and "max-age=0" not in cookie.lower():
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return status, got, data

    def token(self, path: str) -> str:
        status, _, page = self.send("GET", path)
        match = TOKEN.search(page)
        assert status == 200 and match, (path, status, page[:300])
        return match.group(1).decode()

    def form(self, path: str, fields: dict[str, str], token_from: str) -> tuple[int, str]:
        body = urlencode({**fields, "csrf_token": self.token(token_from)}).encode()
        status, got, _ = self.send(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        return status, got.get("Location", "")

    def signup(self, name: str) -> None:
        fields = {"username": name, "password": "correct horse battery"}
        assert self.form("/auth/signup", fields, "/auth/signup")[0] == 302

    def new_post(self, title: str) -> int:
        status, location = self.form("/new", {"title": title, "text": "hello"}, "/new")
        assert status == 302, status
        return int(location.rsplit("/", 1)[1])


def multipart(token: str, filename: str, payload: bytes) -> tuple[bytes, bytes, dict[str, str]]:
    """``(head, tail, headers)`` of a form with one file; the CSRF token goes in a header
    (a multipart post's body is read only once the token was checked)."""
    boundary = "----e2e" + hashlib.sha256(payload[:64]).hexdigest()[:16]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
        "\r\nContent-Type: application/zip\r\n\r\n"
    ).encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRF-Token": token}
    return head, f"\r\n--{boundary}--\r\n".encode(), headers


def zip_of(size: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("payload.bin", os.urandom(size))
    return out.getvalue()


def emulator_env(datastore: DatastoreEmulator, storage: StorageEmulator) -> dict[str, str]:
    datastore.reset()
    storage.reset()
    return {
        **datastore.env,
        **storage.env,
        "GOOGLE_CLOUD_PROJECT": datastore.project,
        "GCS_BUCKET": str(storage.bucket),
    }


def objects(storage: StorageEmulator) -> list[str]:
    status, _, body = request(
        int(storage.url.rsplit(":", 1)[1]), "GET", f"/storage/v1/b/{storage.bucket}/o"
    )
    assert status == 200, body[:300]
    return [item["name"] for item in json.loads(body or b"{}").get("items", [])]


def test_port_from_the_environment_and_warmup(
    datastore_emulator: DatastoreEmulator, gcs_emulator: StorageEmulator, tmp_path: Path
) -> None:
    with entrypoint(tmp_path, emulator_env(datastore_emulator, gcs_emulator)) as served:
        assert request(served.port, "GET", "/_ah/warmup")[2] == b"warmed up"
        assert request(served.port, "GET", "/_ah/warmup")[2] == b"already warm"
        status, headers, page = request(served.port, "GET", "/")
        assert status == 200 and b"</html>" in page
        assert headers["Content-Type"] == "text/html; charset=utf-8"


def test_concurrent_users_each_get_their_own_datastore_context(
    datastore_emulator: DatastoreEmulator,
    gcs_emulator: StorageEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = ["ada", "grace", "alan", "edsger"]
    with entrypoint(tmp_path, emulator_env(datastore_emulator, gcs_emulator)) as served:
        visitors = {name: Visitor(served.port) for name in names}
        for name, visitor in visitors.items():
            visitor.signup(name)
            visitor.new_post(f"by {name}")
        problems: list[str] = []

        def browse(name: str) -> None:
            visitor = Visitor(served.port)
            visitor.cookies = dict(visitors[name].cookies)
            for _ in range(12):
                status, _, data = visitor.send("GET", "/api/session")
                if status != 200 or json.loads(data)["user"] != name:
                    problems.append(f"{name}: /api/session {status} {data[:200]!r}")
                status, _, page = visitor.send("GET", "/")
                if status != 200 or f">{name}</a>".encode() not in page:
                    problems.append(f"{name}: / {status}")
                status, _, data = visitor.send("GET", "/api/posts")
                titles = {p["title"] for p in json.loads(data)["posts"]} if status == 200 else ()
                if set(titles) != {f"by {n}" for n in names}:
                    problems.append(f"{name}: /api/posts {status} {titles}")

        # Two threads per user: 8 at once, App Engine's max_concurrent_requests.
        threads = [threading.Thread(target=browse, args=(n,)) for n in names * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        memory = tree_memory(served.process.pid)
        output = served.output()
    assert problems == []
    assert "Traceback" not in output, output[-3000:]
    with capsys.disabled():
        print(
            f"\nentrypoint after 288 concurrent requests: worker RSS "
            f"{memory.worker_rss_mib:.1f} MiB, all processes PSS {memory.total_pss_mib:.1f} MiB"
        )
    assert memory.total_pss_mib < F1_MIB / 2  # room left on an F1 for requests' own data


def test_sigterm_lets_the_request_in_flight_finish(
    datastore_emulator: DatastoreEmulator, gcs_emulator: StorageEmulator, tmp_path: Path
) -> None:
    with entrypoint(tmp_path, emulator_env(datastore_emulator, gcs_emulator)) as served:
        visitor = Visitor(served.port)
        visitor.signup("ada")
        body = urlencode(
            {
                "title": "sent across a shutdown",
                "text": "x" * 4000,
                "csrf_token": visitor.token("/new"),
            }
        ).encode()
        cookie = "; ".join(f"{k}={v}" for k, v in visitor.cookies.items())
        with socket.create_connection((HOST, served.port), timeout=30) as sock:
            sock.sendall(
                f"POST /new HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:1000]
            )
            time.sleep(0.5)  # the app is reading the form
            served.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            with pytest.raises(OSError):  # no new connections once shutting down
                request(served.port, "GET", "/healthz")
            sock.sendall(body[1000:])
            answer = sock.makefile("rb").read()
        assert served.process.wait(timeout=30) == 0
    assert answer.startswith(b"HTTP/1.1 302"), answer[:300]
    assert re.search(rb"(?im)^location: /p/\d+", answer)
    # The post was stored: a new server shows it.
    env = {**datastore_emulator.env, **gcs_emulator.env, "GCS_BUCKET": str(gcs_emulator.bucket)}
    with entrypoint(tmp_path, {**env, "GOOGLE_CLOUD_PROJECT": datastore_emulator.project}) as again:
        _, _, data = request(again.port, "GET", "/api/posts")
        assert [p["title"] for p in json.loads(data)["posts"]] == ["sent across a shutdown"]


def test_streamed_uploads_downloads_and_bodies_near_32_mib(
    datastore_emulator: DatastoreEmulator, gcs_emulator: StorageEmulator, tmp_path: Path
) -> None:
    with entrypoint(tmp_path, emulator_env(datastore_emulator, gcs_emulator)) as served:
        visitor = Visitor(served.port)
        visitor.signup("ada")
        post = visitor.new_post("files")
        payload = zip_of(15 * MiB)
        head, tail, headers = multipart(visitor.token(f"/p/{post}"), "big.zip", payload)

        def pieces() -> Iterator[bytes]:  # sent chunked: no Content-Length, as a proxy may
            yield head
            for start in range(0, len(payload), MiB):
                yield payload[start : start + MiB]
            yield tail

        status, _, _ = visitor.send("POST", f"/p/{post}/attachments", pieces(), headers)
        assert status == 302, status
        _, _, data = request(served.port, "GET", f"/api/posts/{post}")
        download = json.loads(data)["attachments"][0]["download"]
        status, _, data = request(served.port, "GET", download)
        assert status == 200
        assert hashlib.sha256(data).digest() == hashlib.sha256(payload).digest()
        stored = objects(gcs_emulator)
        assert len(stored) == 1

        # Over the app's 32 MiB request limit (App Engine's cap): refused before storing.
        big = zip_of(33 * MiB)
        head, tail, headers = multipart(visitor.token(f"/p/{post}"), "huge.zip", big)
        cookie = "; ".join(f"{k}={v}" for k, v in visitor.cookies.items())
        status, data = post_refused(
            served.port,
            f"/p/{post}/attachments",
            {**headers, "Cookie": cookie},
            head + big + tail,
        )
        assert status == 413, data[:300]
        # Under 32 MiB but over the attachment limit (16 MiB): refused once the file
        # passes 16 MiB, and what was streamed to the bucket so far is deleted.
        medium = zip_of(31 * MiB)
        head, tail, headers = multipart(visitor.token(f"/p/{post}"), "medium.zip", medium)
        status, data = post_refused(
            served.port,
            f"/p/{post}/attachments",
            {**headers, "Cookie": cookie},
            head + medium + tail,
        )
        assert status == 413, data[:300]
        assert objects(gcs_emulator) == stored
        assert request(served.port, "GET", "/healthz")[0] == 200


def test_json_logs_on_stdout_carry_the_request_trace(
    gcs_emulator: StorageEmulator, tmp_path: Path
) -> None:
    env = {
        # On App Engine (so logs are JSON and trace headers trusted), Datastore unreachable:
        # the app logs the outage and answers 503.
        "GAE_ENV": "standard",
        "GOOGLE_CLOUD_PROJECT": "e2e-project",
        "DATASTORE_EMULATOR_HOST": f"{HOST}:{free_port()}",
        **gcs_emulator.env,
        "GCS_BUCKET": str(gcs_emulator.bucket),
    }
    trace = "0123456789abcdef0123456789abcdef"
    with entrypoint(tmp_path, env) as served:
        status, _, _ = request(
            served.port, "GET", "/api/posts", headers={"X-Cloud-Trace-Context": f"{trace}/7;o=1"}
        )
        assert status == 503
        deadline = time.monotonic() + 10
        while "Datastore unavailable" not in served.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        lines = served.output().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    outage = [e for e in entries if "Datastore unavailable" in e["message"]]
    assert outage, lines[-20:]
    assert outage[0]["severity"] == "ERROR"
    assert outage[0]["logging.googleapis.com/trace"] == f"projects/e2e-project/traces/{trace}"
