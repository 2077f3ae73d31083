"""`python -m sample_app` (what `make run` runs) with the defaults a new user gets.

Started from a fresh folder with no environment variables at all (no EMULATOR_DATA_DIR,
no GCS_BUCKET, no project): the relative default data folder works, the app's bucket is
the one the harness created, and both upload paths work over real HTTP, including the
CORS preflight a browser sends before a direct upload.
"""

from __future__ import annotations

import hashlib
import html
import http.cookiejar
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path

from tests.sample_app.test_serve import LEAKED, _free_port, _get, interrupt

ROOT = Path(__file__).resolve().parents[2]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
UPLOAD_ACTION = re.compile(r'action="([^"]*/attachments\?csrf_token=[^"]+)"')
DIRECT_CSRF = re.compile(r'id="direct-upload"[^>]*data-csrf="([^"]+)"|data-csrf="([^"]+)"')


def start_in(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """`python -m sample_app` run in ``folder`` with nothing but PATH, HOME and PORT set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKED)}
    env.pop("EMULATOR_DATA_DIR", None)
    env.update(PORT=str(port), PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "sample_app"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


class Browserish:
    """Cookies and CSRF tokens, as a browser keeps them, over urllib."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def request(
        self,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> tuple[int, str, bytes]:
        url = path if path.startswith("http") else self.base + path
        req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
        try:
            with self.opener.open(req, timeout=60) as response:
                return int(response.status), response.url, bytes(response.read())
        except urllib.error.HTTPError as error:
            return error.code, url, bytes(error.read())

    def form(self, path: str, fields: dict[str, str], page: str | None = None) -> str:
        _, _, body = self.request(page or path)
        match = CSRF.search(body.decode())
        assert match, f"no CSRF token on {page or path}"
        data = urllib.parse.urlencode({**fields, "csrf_token": match.group(1)}).encode()
        status, url, text = self.request(path, data)
        assert status == 200, (status, text[:500])
        return url


def _zip(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("payload.bin", os.urandom(size))
    return buffer.getvalue()


def _multipart(field: str, filename: str, content: bytes, token: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n',
    ]
    body = "".join(parts).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_make_run_defaults_from_a_fresh_folder_serve_both_upload_paths(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_in(tmp_path, port)
    try:
        _get(f"{base}/healthz", time.monotonic() + 120, proc)
        # The relative default ".emulators" is the one in the folder `make run` ran in.
        assert (tmp_path / ".emulators" / "storage").is_dir()
        assert (tmp_path / ".emulators" / "datastore").is_dir()

        user = Browserish(base)
        user.form("/auth/signup", {"username": "fresh_user", "password": "a long password"})
        post_url = user.form("/new", {"title": "Hello", "text": "From a fresh folder"})
        assert re.search(r"/p/\d+$", post_url), post_url
        post_path = post_url[len(base) :]

        # The small file, through the app's form.
        _, _, page = user.request(post_path)
        token = CSRF.search(page.decode())
        assert token
        small = b"\x89PNG\r\n\x1a\n" + os.urandom(1024)
        body, content_type = _multipart("file", "photo.png", small, token.group(1))
        # The form's action carries the token: a multipart body is read only once the
        # upload is allowed.
        action = UPLOAD_ACTION.search(page.decode())
        assert action, "no upload form"
        status, _, text = user.request(
            html.unescape(action.group(1)), body, {"Content-Type": content_type}
        )
        assert status == 200 and b"photo.png" in text, (status, text[:800])

        # The large path: an upload session, the browser's CORS preflight, the PUT.
        match = DIRECT_CSRF.search(page.decode())
        assert match, "no direct upload form"
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-CSRF-Token": match.group(1) or match.group(2),
            "Origin": base,
        }
        large = _zip(3 * 1024 * 1024)
        payload = {"filename": "big.zip", "content_type": "application/zip", "size": len(large)}
        status, _, text = user.request(
            f"{post_path}/attachments/direct", json.dumps(payload).encode(), headers
        )
        assert status == 201, (status, text[:800])
        upload = json.loads(text)
        preflight = urllib.request.Request(
            upload["url"],
            method="OPTIONS",
            headers={
                "Origin": base,
                "Access-Control-Request-Method": upload["method"],
                "Access-Control-Request-Headers": ",".join(upload.get("headers", {})),
            },
        )
        with urllib.request.urlopen(preflight, timeout=30) as answer:
            allowed = answer.headers.get("Access-Control-Allow-Origin")
        assert allowed in {"*", base}, f"no CORS preflight answer: {allowed!r}"
        put_headers = {"Content-Type": "application/zip", **upload.get("headers", {})}
        put = urllib.request.Request(
            upload["url"], data=large, method=upload["method"], headers=put_headers
        )
        with urllib.request.urlopen(put, timeout=60) as answer:
            assert answer.status in {200, 201}
        status, _, text = user.request(
            upload["finalize"], json.dumps({"ticket": upload["ticket"]}).encode(), headers
        )
        assert status == 201, (status, text[:800])
        download = json.loads(text)["download"]

        # Both come back byte for byte.
        _, _, page = user.request(post_path)
        links = dict(re.findall(r'<a href="([^"]+/a/\d+)"[^>]*>([^<]+)</a>', page.decode()))
        small_link = next(href for href, name in links.items() if name.strip() == "photo.png")
        for path, original in ((small_link, small), (download, large)):
            status, _, data = user.request(path)
            assert status == 200, (path, status)
            assert hashlib.sha256(data).digest() == hashlib.sha256(original).digest(), path
    finally:
        stderr = interrupt(proc)
    assert b"Traceback" not in stderr, stderr[-3000:]
    assert str(tmp_path / ".emulators").encode() in stderr  # the absolute folder is named


def test_start_up_problem_is_one_sentence_not_a_traceback(tmp_path: Path) -> None:
    # No Google Cloud CLI on PATH: the Datastore emulator cannot start.
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKED)}
    env.pop("CLOUDSDK_ROOT_DIR", None)
    env.update(PATH=str(Path(sys.executable).parent), PYTHONPATH=str(ROOT), PORT="1")
    result = subprocess.run(
        [sys.executable, "-m", "sample_app"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "apt-get install" in result.stderr  # what to install
