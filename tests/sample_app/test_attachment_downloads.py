"""Downloading attachments: names that are not Latin-1, and Cloud Storage down.

Regressions (issue 17): on the storage emulator, downloading ``данные.txt`` or
``résumé ✓.pdf`` failed after two minutes of retries, because the name came back in an
``x-goog-meta-*`` header the emulator cannot encode; and with Cloud Storage unreachable a
download hung as long, then escaped the app (gunicorn's bare 500). Names are now stored
percent-encoded and sent as ``filename*=UTF-8''...``; a failed download is the site's
503 page with ``Retry-After``, within ``GCS_RETRY_SECONDS``.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from framework import Flask
from gae.emulators import StorageEmulator, free_port

from .conftest import Users
from .test_attachments import direct, download_links, setup_post, upload
from .test_outages import unreachable

NAMES = ["r\u00e9sum\u00e9 \u2713.txt", "\u0434\u0430\u043d\u043d\u044b\u0435.txt"]
TEXT = "caf\u00e9 \u2713 \u0434\u0430\u043d\u043d\u044b\u0435\n".encode()


@pytest.mark.parametrize("filename", NAMES)
def test_a_non_latin_1_name_uploads_and_downloads_through_the_app(
    users: Users, app: Flask, gcs_emulator: StorageEmulator, filename: str
) -> None:
    client, post_id, token = setup_post(users)
    response = upload(client, post_id, token, TEXT, filename, "text/plain")
    assert response.status_code == 302, response.text
    page = client.get(f"/p/{post_id}").text
    assert filename in page  # the post lists the attachment under its real name
    [link] = download_links(client, post_id)
    download = client.get(link)
    assert download.status_code == 200
    assert download.data == TEXT
    assert download.headers["Content-Disposition"].endswith(
        f"filename*=UTF-8''{quote(filename, safe='')}"
    )


def test_a_non_latin_1_name_uploads_straight_to_the_bucket_and_downloads(
    users: Users,
) -> None:
    client, post_id, token = setup_post(users)
    filename = NAMES[1]
    session = direct(client, post_id, token, TEXT, filename, "text/plain")
    done = client.post(
        session["finalize"], json={"ticket": session["ticket"]}, headers={"X-CSRF-Token": token}
    )
    assert done.status_code == 201, done.text
    assert done.get_json()["filename"] == filename
    download = client.get(done.get_json()["download"])
    assert download.status_code == 200
    assert download.data == TEXT
    assert f"filename*=UTF-8''{quote(filename, safe='')}" in download.headers["Content-Disposition"]


def test_a_download_while_storage_is_down_is_the_sites_503_page(
    users: Users, app: Flask, gcs_emulator: StorageEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, post_id, token = setup_post(users)
    assert upload(client, post_id, token, TEXT, "notes.txt", "text/plain").status_code == 302
    [link] = download_links(client, post_id)
    app.config["GCS_RETRY_SECONDS"] = 2.0
    unreachable(monkeypatch, "STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    response = client.get(link)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Cloud Storage could not be reached" in response.text
    assert "</html>" in response.text  # the site's error page
    assert time.monotonic() - started < 30  # bounded: it was the library's 120 s

    unreachable(monkeypatch, "STORAGE_EMULATOR_HOST", gcs_emulator.url)
    assert client.get(link).data == TEXT
