"""`make run` with background work: a task deferred by the app runs in the app, locally.

The user's path: `python -m sample_app` in a clean environment starts the Cloud Tasks
emulator with the others; an upload defers its scan, and the emulator delivers it back to
the dev server, which shows the attachment as checked.
"""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from .test_serve import _free_port, _get, interrupt, start_sample_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _multipart(fields: dict[str, str], name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        "Content-Type: text/plain\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_make_run_delivers_deferred_tasks_to_the_dev_server(tmp_path: Path) -> None:
    port = _free_port()
    proc = start_sample_app(port, tmp_path / "data")
    base = f"http://127.0.0.1:{port}"
    try:
        _get(f"{base}/", time.monotonic() + 120, proc)
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

        def token(path: str) -> str:
            match = CSRF.search(opener.open(base + path, timeout=30).read().decode())
            assert match, path
            return match.group(1)

        form = {
            "username": "runner",
            "password": "correct horse",
            "csrf_token": token("/auth/signup"),
        }
        opener.open(base + "/auth/signup", urllib.parse.urlencode(form).encode(), timeout=30)
        post = {"title": "Notes", "text": "see file", "csrf_token": token("/new")}
        response = opener.open(base + "/new", urllib.parse.urlencode(post).encode(), timeout=30)
        post_path = urllib.parse.urlparse(response.geturl()).path
        body, content_type = _multipart({}, "file", "notes.txt", b"hello tasks\n")
        # A multipart post sends its CSRF token outside the body (sample_app/csrf.py).
        request = urllib.request.Request(
            f"{base}{post_path}/attachments",
            data=body,
            headers={"Content-Type": content_type, "X-CSRF-Token": token(post_path)},
        )
        assert opener.open(request, timeout=30).status == 200  # redirected to the post
        deadline = time.monotonic() + 30
        page = ""
        while time.monotonic() < deadline:
            page = opener.open(base + post_path, timeout=30).read().decode()
            if "checked" in page and "being checked" not in page:
                break
            time.sleep(0.2)
        assert "notes.txt" in page
        assert '<span class="scan">checked</span>' in page
    finally:
        stderr = interrupt(proc)
    assert b"Cloud Tasks emulator" in stderr
