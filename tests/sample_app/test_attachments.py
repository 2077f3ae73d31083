"""Attachments through the app and straight to the bucket, against the emulators."""

from __future__ import annotations

import hashlib
import io
import re
import time
import urllib.request
import zipfile

from framework import Flask
from framework.testing import FlaskClient
from gae.emulators import StorageEmulator

from .conftest import Users, csrf_from

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def setup_post(users: Users, name: str = "owner") -> tuple[FlaskClient, int, str]:
    client = users.signup(name)
    post_id = users.post(client, "With files", "See attachments")
    return client, post_id, csrf_from(client, f"/p/{post_id}")


def bucket_names(app: Flask, gcs: StorageEmulator) -> list[str]:
    from gae.storage import get_client

    return sorted(b.name for b in get_client().list_blobs(gcs.bucket))


def upload(client: FlaskClient, post_id: int, token: str, data: bytes, name: str, ctype: str):  # type: ignore[no-untyped-def]
    # As the page's form does: the token in the query string, the file in the body.
    return client.post(
        f"/p/{post_id}/attachments",
        query_string={"csrf_token": token},
        data={"file": (io.BytesIO(data), name, ctype)},
        content_type="multipart/form-data",
    )


def download_links(client: FlaskClient, post_id: int) -> list[str]:
    return re.findall(r'href="(/p/\d+/a/\d+)"', client.get(f"/p/{post_id}").text)


def test_small_file_through_the_app_and_back(
    users: Users, app: Flask, gcs_emulator: StorageEmulator
) -> None:
    client, post_id, token = setup_post(users)
    response = upload(client, post_id, token, PNG, "../../photo.png", "image/png")
    assert response.status_code == 302
    [link] = download_links(client, post_id)
    download = client.get(link)
    assert download.data == PNG
    assert download.headers["Content-Type"] == "image/png"
    assert 'filename="photo.png"' in download.headers["Content-Disposition"]
    # The object name is generated; the user's name is only metadata.
    [name] = bucket_names(app, gcs_emulator)
    assert name.startswith("attachments/")
    assert "photo" not in name
    partial = client.get(link, headers={"Range": "bytes=0-7"})
    assert partial.status_code == 206
    assert partial.data == PNG[:8]


def test_forbidden_type_is_415_and_leaves_nothing(
    users: Users, app: Flask, gcs_emulator: StorageEmulator
) -> None:
    client, post_id, token = setup_post(users)
    response = upload(client, post_id, token, b"MZ\x90\x00", "tool.exe", "application/x-msdownload")
    assert response.status_code == 415
    assert "tool.exe" in response.text
    # A lying Content-Type: declared PNG, but the bytes are not.
    response = upload(client, post_id, token, b"MZ\x90\x00not a png", "x.png", "image/png")
    assert response.status_code == 415
    assert bucket_names(app, gcs_emulator) == []
    assert download_links(client, post_id) == []


def test_oversize_upload_is_413_with_the_limit(
    users: Users, app: Flask, gcs_emulator: StorageEmulator
) -> None:
    client, post_id, token = setup_post(users)
    big = b"x" * (16 * 1024 * 1024 + 1)
    response = upload(client, post_id, token, big, "big.txt", "text/plain")
    assert response.status_code == 413
    assert "16" in response.text
    assert bucket_names(app, gcs_emulator) == []


def test_only_the_author_may_attach(users: Users) -> None:
    _, post_id, _ = setup_post(users)
    other = users.signup("stranger")
    token = csrf_from(other, "/")
    assert upload(other, post_id, token, PNG, "p.png", "image/png").status_code == 403


def test_missing_csrf_token_on_upload_is_400(
    users: Users, app: Flask, gcs_emulator: StorageEmulator
) -> None:
    client, post_id, _ = setup_post(users)
    response = client.post(
        f"/p/{post_id}/attachments",
        data={"file": (io.BytesIO(PNG), "p.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert bucket_names(app, gcs_emulator) == []


def _zip(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("data.bin", b"z" * size)
    return buffer.getvalue()


def direct(
    client: FlaskClient, post_id: int, token: str, data: bytes, name: str, ctype: str
) -> dict:  # type: ignore[type-arg]
    response = client.post(
        f"/p/{post_id}/attachments/direct",
        json={"filename": name, "content_type": ctype, "size": len(data)},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 201, response.text
    session = response.get_json()
    put = urllib.request.Request(
        session["url"], data=data, method="PUT", headers=session["headers"]
    )
    with urllib.request.urlopen(put, timeout=60) as answer:
        assert answer.status in {200, 201}
    return dict(session)


def test_direct_upload_as_the_browser_does_it(users: Users) -> None:
    client, post_id, token = setup_post(users)
    archive = _zip(40 * 1024 * 1024)  # over App Engine's 32 MiB request limit
    session = direct(client, post_id, token, archive, "big.zip", "application/zip")
    done = client.post(
        session["finalize"], json={"ticket": session["ticket"]}, headers={"X-CSRF-Token": token}
    )
    assert done.status_code == 201, done.text
    body = client.get(done.get_json()["download"]).data
    assert hashlib.sha256(body).digest() == hashlib.sha256(archive).digest()


def test_finalize_deletes_an_object_that_breaks_the_policy(
    users: Users, app: Flask, gcs_emulator: StorageEmulator
) -> None:
    client, post_id, token = setup_post(users)
    session = direct(client, post_id, token, b"MZ\x90\x00 not a zip", "fake.zip", "application/zip")
    done = client.post(
        session["finalize"], json={"ticket": session["ticket"]}, headers={"X-CSRF-Token": token}
    )
    assert done.status_code == 415
    assert done.get_json()["error"]["code"] == 415
    assert bucket_names(app, gcs_emulator) == []
    assert download_links(client, post_id) == []


def test_expired_upload_ticket_is_refused(users: Users, app: Flask) -> None:
    client, post_id, token = setup_post(users)
    session = direct(client, post_id, token, _zip(10), "small.zip", "application/zip")
    app.config["GCS_UPLOAD_TICKET_MAX_AGE"] = 0
    time.sleep(1.1)
    done = client.post(
        session["finalize"], json={"ticket": session["ticket"]}, headers={"X-CSRF-Token": token}
    )
    assert 400 <= done.status_code < 500
    assert "expired" in done.get_json()["error"]["message"]


def test_deleting_a_post_deletes_its_files(
    users: Users, app: Flask, gcs_emulator: StorageEmulator
) -> None:
    client, post_id, token = setup_post(users)
    upload(client, post_id, token, PNG, "p.png", "image/png")
    assert len(bucket_names(app, gcs_emulator)) == 1
    assert client.post(f"/p/{post_id}/delete", data={"csrf_token": token}).status_code == 302
    assert bucket_names(app, gcs_emulator) == []


def test_api_lists_attachments(users: Users) -> None:
    client, post_id, token = setup_post(users)
    upload(client, post_id, token, PNG, "p.png", "image/png")
    [item] = client.get(f"/api/posts/{post_id}").get_json()["attachments"]
    assert item["filename"] == "p.png"
    assert item["size"] == len(PNG)
    assert client.get(item["download"]).data == PNG


def test_a_direct_upload_is_finalized_once_for_its_own_post_and_user(
    users: Users, app: Flask, gcs_emulator: StorageEmulator
) -> None:
    # Issue 17, point 4: a ticket was a bearer token; finalized twice, on another post or
    # by another user, it made more records of one object.
    client, post_id, token = setup_post(users)
    second_post = users.post(client, "Another", "post")
    mallory = users.signup("mallory")
    mallory_post = users.post(mallory, "Mine", "too")
    mallory_token = csrf_from(mallory, f"/p/{mallory_post}")
    session = direct(client, post_id, token, _zip(100), "a.zip", "application/zip")
    body = {"ticket": session["ticket"]}
    elsewhere = client.post(
        f"/p/{second_post}/attachments/finalize", json=body, headers={"X-CSRF-Token": token}
    )
    assert elsewhere.status_code == 403, elsewhere.text
    stolen = mallory.post(
        f"/p/{mallory_post}/attachments/finalize",
        json=body,
        headers={"X-CSRF-Token": mallory_token},
    )
    assert stolen.status_code == 403, stolen.text
    done = client.post(session["finalize"], json=body, headers={"X-CSRF-Token": token})
    assert done.status_code == 201, done.text
    again = client.post(session["finalize"], json=body, headers={"X-CSRF-Token": token})
    assert again.status_code == 409, again.text
    assert len(download_links(client, post_id)) == 1
    assert download_links(client, second_post) == download_links(mallory, mallory_post) == []
    assert len(bucket_names(app, gcs_emulator)) == 1


def test_deleting_a_post_leaves_an_object_another_record_names(
    users: Users, app: Flask, gcs_emulator: StorageEmulator
) -> None:
    import gae.ndb
    from sample_app.models import Attachment, Post

    client, post_id, token = setup_post(users)
    other_post = users.post(client, "Other", "post")
    assert upload(client, post_id, token, PNG, "p.png", "image/png").status_code == 302
    [name] = bucket_names(app, gcs_emulator)
    with gae.ndb.get_client().context():
        # A second record of the same object (as replayed tickets once made).
        [original] = Attachment.query(ancestor=Post.get_by_id(post_id).key).fetch()
        copy = Attachment(parent=Post.get_by_id(other_post).key, **original.to_dict())
        copy.put()
    assert client.post(f"/p/{post_id}/delete", data={"csrf_token": token}).status_code == 302
    assert bucket_names(app, gcs_emulator) == [name]  # still served for the other post
    [link] = download_links(client, other_post)
    assert client.get(link).data == PNG
    assert client.post(f"/p/{other_post}/delete", data={"csrf_token": token}).status_code == 302
    assert bucket_names(app, gcs_emulator) == []


def test_the_sample_app_cleans_up_unfinalized_uploads_by_cron(app: Flask) -> None:
    # The defaults a deployer gets: the route, cron-only, and its entry in cron.yaml.
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    cron = yaml.safe_load((root / "cron.yaml").read_text())
    assert "/tasks/upload-cleanup" in [job["url"] for job in cron["cron"]]
    adapter = app.url_map.bind("localhost")
    assert adapter.match("/tasks/upload-cleanup")[0] == "gae_storage_cleanup"
    assert app.test_client().get("/tasks/upload-cleanup").status_code == 403
