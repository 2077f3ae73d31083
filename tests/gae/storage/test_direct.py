"""Uploads straight to the bucket: signed PUT URLs, POST policies, resumable sessions, finalize.

Each test performs the HTTP requests a browser would make.

Why a gate: gcp-storage-emulator stores whatever is PUT to ``/bucket/object`` and never looks
at a signature, and has no HTML-form (POST policy) endpoint. So signed requests go to
``SignatureGate``, a small loopback server written here from Cloud Storage's V4 signing
specification (not from the client library). It checks what Cloud Storage checks (the
RSA-SHA256 signature against the throw-away key's public key, the credential, expiry, the
signed headers, ``x-goog-content-length-range``, ``x-goog-if-generation-match``, and every
POST-policy condition) and then forwards the upload to the real emulator, so
``Storage.finalize`` looks at a real object. ``test_the_gate_refuses_*`` prove it refuses.
Resumable sessions need no signature: they go to the emulator directly.

The service-account key is made by each test run with ``cryptography``; no key is stored.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import os
import threading
import typing as t
import urllib.parse
from collections.abc import Iterator

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.cloud import storage
from google.oauth2 import credentials as oauth2_credentials
from google.oauth2 import service_account
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from framework import Flask
from gae.emulators import StorageEmulator
from gae.storage import (
    BadUpload,
    DirectUpload,
    FileTooLarge,
    FileTypeRejected,
    KiB,
    MiB,
    SigningError,
    Storage,
    UploadConflict,
    UploadForbidden,
    UploadNotFound,
    UploadPolicy,
)

EMAIL = "uploader@test-project.iam.gserviceaccount.com"
#: What the tests' uploads are for (an app passes e.g. the post and the user).
PURPOSE = "post:1:user:alice"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
MP4 = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2" + os.urandom(600 * KiB)


# -- a throw-away service account -----------------------------------------------------------


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def key_info(private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "throwaway",
        "private_key": pem,
        "client_email": EMAIL,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


@pytest.fixture(scope="module")
def signer(key_info: dict[str, str]) -> service_account.Credentials:
    # Used only to sign: a client built on it would try to fetch tokens.
    return service_account.Credentials.from_service_account_info(key_info)


# -- the gate ----------------------------------------------------------------------------------


def _quote(value: str, safe: str = "~") -> str:
    return urllib.parse.quote(value, safe=safe)


def _verify(public_key: rsa.RSAPublicKey, signature_hex: str, message: bytes) -> str | None:
    try:
        public_key.verify(
            binascii.unhexlify(signature_hex), message, padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return "SignatureDoesNotMatch"
    return None


class SignatureGate:
    """Cloud Storage's checks of signed requests, in front of the emulator (see module docs)."""

    def __init__(self, public_key: rsa.RSAPublicKey, emulator_url: str) -> None:
        self.public_key = public_key
        self.emulator_url = emulator_url
        self.skew = datetime.timedelta(0)  # pretend the clock is this much later
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.server.server_close()

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC) + self.skew

    @Request.application  # type: ignore[arg-type]
    def app(self, request: Request) -> Response:
        bucket, _, name = request.path.lstrip("/").partition("/")
        if request.method == "POST" and not name:
            return self._post_policy(request, bucket)
        error = self._check_query_signature(request)
        if error:
            return Response(error, status=403)
        if request.method == "PUT":
            return self._put(request, bucket, name)
        if request.method == "GET":
            return self._get(request, bucket, name)
        return Response("MethodNotAllowed", status=405)

    def _check_query_signature(self, request: Request) -> str | None:
        query = dict(urllib.parse.parse_qsl(request.query_string.decode(), keep_blank_values=True))
        if query.get("X-Goog-Algorithm") != "GOOG4-RSA-SHA256":
            return "MissingSecurityHeader"
        email, _, scope = query.get("X-Goog-Credential", "").partition("/")
        if email != EMAIL or not scope.endswith("/auto/storage/goog4_request"):
            return "InvalidCredential"
        signed_at = datetime.datetime.strptime(query["X-Goog-Date"], "%Y%m%dT%H%M%SZ")
        signed_at = signed_at.replace(tzinfo=datetime.UTC)
        if self.now() > signed_at + datetime.timedelta(seconds=int(query["X-Goog-Expires"])):
            return "ExpiredToken"
        signed_names = query["X-Goog-SignedHeaders"].split(";")
        headers = {k.lower(): " ".join(v.split()) for k, v in request.headers.items()}
        for header in headers:
            if header.startswith("x-goog-") and header not in signed_names:
                return f"UnsignedHeader {header}"
        if any(h not in headers for h in signed_names):
            return "MissingSignedHeader"
        canonical_query = "&".join(
            sorted(f"{_quote(k)}={_quote(v)}" for k, v in query.items() if k != "X-Goog-Signature")
        )
        canonical = "\n".join(
            [
                request.method,
                _quote(urllib.parse.unquote(request.path), safe="/~"),
                canonical_query,
                "".join(f"{h}:{headers[h]}\n" for h in signed_names),
                ";".join(signed_names),
                "UNSIGNED-PAYLOAD",
            ]
        )
        to_sign = "\n".join(
            [
                "GOOG4-RSA-SHA256",
                query["X-Goog-Date"],
                scope,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        return _verify(self.public_key, query.get("X-Goog-Signature", ""), to_sign.encode())

    def _exists(self, bucket: str, name: str) -> bool:
        path = urllib.parse.quote(name, safe="")
        return requests.get(f"{self.emulator_url}/storage/v1/b/{bucket}/o/{path}").ok

    def _store(self, bucket: str, name: str, data: bytes, content_type: str) -> None:
        response = requests.put(
            f"{self.emulator_url}/{bucket}/{name}",
            data=data,
            headers={"Content-Type": content_type},
        )
        response.raise_for_status()

    def _put(self, request: Request, bucket: str, name: str) -> Response:
        data = request.get_data()
        length_range = request.headers.get("x-goog-content-length-range")
        if length_range:
            low, high = (int(x) for x in length_range.split(","))
            if not low <= len(data) <= high:
                return Response("EntityTooLarge", status=400)
        if request.headers.get("x-goog-if-generation-match") == "0" and self._exists(bucket, name):
            return Response("PreconditionFailed", status=412)
        self._store(bucket, name, data, request.headers.get("Content-Type", ""))
        return Response("", status=200)

    def _get(self, request: Request, bucket: str, name: str) -> Response:
        upstream = requests.get(f"{self.emulator_url}/{bucket}/{name}")
        response = Response(upstream.content, status=upstream.status_code)
        response.headers["Content-Type"] = request.args.get(
            "response-content-type", upstream.headers.get("Content-Type", "")
        )
        disposition = request.args.get("response-content-disposition")
        if disposition:
            response.headers["Content-Disposition"] = disposition
        return response

    def _post_policy(self, request: Request, bucket: str) -> Response:
        form = {k.lower(): v for k, v in request.form.items()}
        file = request.files.get("file")
        if file is None:
            return Response("MissingFile", status=400)
        data = file.read()
        error = _verify(
            self.public_key, form.get("x-goog-signature", ""), form.get("policy", "").encode()
        )
        if error:
            return Response(error, status=403)
        policy = json.loads(base64.b64decode(form["policy"]))
        expires = datetime.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        if self.now() > expires:
            return Response("ExpiredToken", status=403)
        values = {**form, "bucket": bucket}
        covered = {"bucket", "policy", "x-goog-signature", "file"}
        for condition in policy["conditions"]:
            if isinstance(condition, dict):
                ((field, expected),) = condition.items()
                field = field.lower()
                covered.add(field)
                if values.get(field) != expected:
                    return Response(f"PolicyConditionFailed {field}", status=403)
            elif condition[0] == "content-length-range":
                if not condition[1] <= len(data) <= condition[2]:
                    return Response("EntityTooLarge", status=400)
            elif condition[0] in {"eq", "starts-with"}:
                field = condition[1].lstrip("$").lower()
                covered.add(field)
                value = values.get(field, "")
                ok = (
                    value == condition[2]
                    if condition[0] == "eq"
                    else value.startswith(condition[2])
                )
                if not ok:
                    return Response(f"PolicyConditionFailed {field}", status=403)
        if set(form) - covered:
            return Response(f"UncoveredFields {sorted(set(form) - covered)}", status=403)
        self._store(bucket, form["key"], data, form.get("content-type", ""))
        return Response("<PostResponse/>", status=int(form.get("success_action_status", 204)))


@pytest.fixture(scope="module")
def gate(private_key: rsa.RSAPrivateKey, gcs_emulator: StorageEmulator) -> Iterator[SignatureGate]:
    gate = SignatureGate(private_key.public_key(), gcs_emulator.url)
    yield gate
    gate.close()


@pytest.fixture
def bucket(
    gcs_emulator: StorageEmulator,
    storage_client: storage.Client,
    gate: SignatureGate,
    upload_records: None,
) -> storage.Bucket:
    gcs_emulator.reset()
    gate.skew = datetime.timedelta(0)
    return storage_client.bucket(gcs_emulator.bucket)


def make_storage(bucket: storage.Bucket, gate: SignatureGate, **options: t.Any) -> Storage:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="s" * 32, GCS_SIGNED_URL_ENDPOINT=gate.url)
    options.setdefault("direct_policy", UploadPolicy(max_file_size=MiB, max_request_size=None))
    return Storage(app, bucket=bucket.name, client=bucket.client, **options)


def names(bucket: storage.Bucket) -> list[str]:
    return sorted(blob.name for blob in bucket.client.list_blobs(bucket.name))


def browser_put(upload: DirectUpload, data: bytes, **headers: str) -> requests.Response:
    return requests.put(upload.url, data=data, headers={**upload.headers, **headers}, timeout=30)


# -- signed PUT URLs ----------------------------------------------------------------------------


def test_a_signed_put_url_uploads_once_and_finalize_records_it(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    upload = store.signed_upload_url("../holiday.png", "image/png", len(PNG), purpose=PURPOSE)
    json.dumps(upload.to_dict())  # what the app sends to the browser
    assert upload.method == "PUT"
    assert upload.url.startswith(f"{gate.url}/{bucket.name}/uploads/")
    assert upload.headers["x-goog-content-length-range"] == f"{len(PNG)},{len(PNG)}"
    assert upload.expires_at - datetime.datetime.now(datetime.UTC) <= datetime.timedelta(minutes=15)
    assert browser_put(upload, PNG).status_code == 200
    record = store.finalize(upload.ticket, purpose=PURPOSE)
    assert (record.name, record.size, record.content_type) == (
        upload.object_name,
        len(PNG),
        "image/png",
    )
    assert record.original_filename == "holiday.png"
    blob = bucket.get_blob(record.name)
    assert record.checksum == blob.crc32c
    assert blob.metadata == {"original-filename": "holiday.png"}
    # Single-use: a second finalize of the ticket is refused, and changes nothing.
    with pytest.raises(UploadConflict) as again:
        store.finalize(upload.ticket, purpose=PURPOSE)
    assert again.value.code == 409
    assert bucket.get_blob(record.name) is not None
    # Create-only: the same URL cannot replace the object.
    assert browser_put(upload, PNG).status_code == 412


def test_the_gate_refuses_what_cloud_storage_refuses(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    upload = store.signed_upload_url("a.png", "image/png", expires=60, purpose=PURPOSE)
    other_name = upload.url.replace(upload.object_name, "uploads/chosen-by-the-client")
    assert requests.put(other_name, data=PNG, headers=upload.headers).text == (
        "SignatureDoesNotMatch"
    )
    assert browser_put(upload, PNG, **{"Content-Type": "text/html"}).status_code == 403
    assert browser_put(upload, b"\x89PNG" + b"x" * MiB).text == "EntityTooLarge"
    forged = browser_put(upload, PNG, **{"x-goog-content-length-range": "0,999999999"})
    assert forged.status_code == 403
    gate.skew = datetime.timedelta(seconds=61)
    assert browser_put(upload, PNG).text == "ExpiredToken"
    assert names(bucket) == []


def test_finalize_deletes_an_upload_that_is_not_what_was_declared(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    upload = store.signed_upload_url("cat.png", "image/png", purpose=PURPOSE)
    assert browser_put(upload, b"<html><script>steal()</script></html>").status_code == 200
    with pytest.raises(FileTypeRejected) as caught:
        store.finalize(upload.ticket, purpose=PURPOSE)
    assert "was deleted" in str(caught.value.description)
    assert names(bucket) == []


def test_finalize_deletes_an_object_over_the_limit(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    upload = store.signed_upload_url(
        "a.png", "image/png", policy=UploadPolicy(max_file_size=KiB), purpose=PURPOSE
    )
    # Written behind the URL's back (the gate would refuse it): finalize must not trust it.
    bucket.blob(upload.object_name).upload_from_string(PNG, content_type="image/png")
    with pytest.raises(FileTooLarge) as caught:
        store.finalize(upload.ticket, purpose=PURPOSE)
    assert "1 KiB (1,024 bytes)" in str(caught.value.description)
    assert names(bucket) == []


def test_finalize_before_the_upload_and_with_a_bad_ticket(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    upload = store.signed_upload_url("a.png", "image/png", purpose=PURPOSE)
    with pytest.raises(UploadNotFound) as missing:
        store.finalize(upload.ticket, purpose=PURPOSE)
    assert missing.value.code == 404 and "a.png" in str(missing.value.description)
    with pytest.raises(BadUpload) as forged:
        store.finalize(upload.ticket[:-2] + "xx", purpose=PURPOSE)
    assert "not one this app issued" in str(forged.value.description)
    other = make_storage(bucket, gate, signing_credentials=signer)
    other.app.config["SECRET_KEY"] = "another-secret-key-entirely!!"  # type: ignore[union-attr]
    with pytest.raises(BadUpload):
        other.finalize(upload.ticket, purpose=PURPOSE)


def test_a_direct_upload_request_outside_the_policy_gets_4xx_before_signing(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(
        bucket,
        gate,
        signing_credentials=signer,
        direct_policy=UploadPolicy(max_file_size=MiB, allowed_types={"image/*"}),
    )
    with pytest.raises(FileTooLarge):
        store.signed_upload_url("a.png", "image/png", 2 * MiB, purpose=PURPOSE)
    with pytest.raises(FileTypeRejected):
        store.signed_upload_form("a.html", "text/html", purpose=PURPOSE)


# -- POST policies (plain HTML forms) ---------------------------------------------------------


def test_a_signed_post_policy_takes_a_browser_form_upload(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    form = store.signed_upload_form("r\u00e9sum\u00e9.pdf", "application/pdf", purpose=PURPOSE)
    assert form.method == "POST" and form.url == f"{gate.url}/{bucket.name}/"
    pdf = b"%PDF-1.7\n" + os.urandom(5000)
    # A browser sends the hidden fields first, then the file input named "file".
    response = requests.post(
        form.url, data=form.fields, files={"file": ("cv.pdf", pdf, "application/pdf")}, timeout=30
    )
    assert response.status_code == 201, response.text
    record = store.finalize(form.ticket, purpose=PURPOSE)
    assert (record.size, record.content_type) == (len(pdf), "application/pdf")
    assert record.original_filename == "r\u00e9sum\u00e9.pdf"
    assert bucket.blob(record.name).download_as_bytes() == pdf


def test_a_post_policy_refuses_another_type_and_too_much_data(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    form = store.signed_upload_form("a.pdf", "application/pdf", purpose=PURPOSE)
    fields = {**form.fields, "Content-Type": "text/html"}
    changed = requests.post(form.url, data=fields, files={"file": ("a", b"%PDF-")}, timeout=30)
    assert changed.status_code == 403
    big = requests.post(
        form.url, data=form.fields, files={"file": ("a", b"%PDF-" + b"0" * MiB)}, timeout=30
    )
    assert big.text == "EntityTooLarge"
    renamed = {**form.fields, "key": "uploads/mine"}
    assert requests.post(form.url, data=renamed, files={"file": ("a", b"%PDF-")}).status_code == 403
    assert names(bucket) == []


# -- resumable sessions -------------------------------------------------------------------------


def test_a_resumable_session_takes_a_browser_upload_in_chunks(bucket: storage.Bucket) -> None:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "s" * 32
    store = Storage(app, bucket=bucket.name, client=bucket.client)
    upload = store.resumable_upload(
        "clip.mp4", "video/mp4", len(MP4), origin="https://app.example", purpose=PURPOSE
    )
    assert upload.method == "PUT" and upload.fields == {}
    half = 256 * KiB
    first = requests.put(
        upload.url, data=MP4[:half], headers={"Content-Range": f"bytes 0-{half - 1}/*"}
    )
    assert first.status_code == 308
    last = requests.put(
        upload.url,
        data=MP4[half:],
        headers={"Content-Range": f"bytes {half}-{len(MP4) - 1}/{len(MP4)}"},
    )
    assert last.status_code in {200, 201}
    record = store.finalize(upload.ticket, purpose=PURPOSE)
    assert (record.size, record.content_type, record.original_filename) == (
        len(MP4),
        "video/mp4",
        "clip.mp4",
    )
    assert bucket.blob(record.name).download_as_bytes() == MP4


def test_a_resumable_upload_of_the_wrong_kind_is_deleted_at_finalize(
    bucket: storage.Bucket,
) -> None:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "s" * 32
    store = Storage(app, bucket=bucket.name, client=bucket.client)
    data = os.urandom(2000)
    upload = store.resumable_upload("clip.mp4", "video/mp4", len(data), purpose=PURPOSE)
    requests.put(upload.url, data=data, headers={"Content-Range": "bytes 0-1999/2000"})
    assert names(bucket) == [upload.object_name]
    with pytest.raises(FileTypeRejected):
        store.finalize(upload.ticket, purpose=PURPOSE)
    assert names(bucket) == []


# -- IAM signBlob, and signed downloads ----------------------------------------------------------


class FakeIAM:
    """IAM Credentials' signBlob, answered here (the test never reaches Google).

    It is the ``google.auth.transport.Request`` that ``google.auth.iam.Signer`` calls, and
    signs with the throw-away key, as IAM signs with the account's Google-held key.
    """

    def __init__(self, key: rsa.RSAPrivateKey, status: int = 200) -> None:
        self.key = key
        self.status = status
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        **_: t.Any,
    ) -> t.Any:
        self.calls.append((method, url, dict(headers or {})))
        if self.status != 200:
            payload = b'{"error": {"code": 403, "status": "PERMISSION_DENIED"}}'
            return _Response(self.status, payload)
        message = base64.b64decode(json.loads(body or b"{}")["payload"])
        signature = self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        answer = {"keyId": "google-held", "signedBlob": base64.b64encode(signature).decode()}
        return _Response(200, json.dumps(answer).encode())


class _Response:
    def __init__(self, status: int, data: bytes) -> None:
        self.status = status
        self.data = data
        self.headers: dict[str, str] = {"content-type": "application/json"}


def test_without_a_key_urls_are_signed_through_iam_sign_blob(
    bucket: storage.Bucket, gate: SignatureGate, private_key: rsa.RSAPrivateKey
) -> None:
    iam = FakeIAM(private_key)
    store = make_storage(
        bucket,
        gate,
        service_account_email=EMAIL,
        iam_credentials=oauth2_credentials.Credentials(token="runtime-access-token"),
        iam_request=iam,
    )
    upload = store.signed_upload_url("a.png", "image/png", len(PNG), purpose=PURPOSE)
    method, url, headers = iam.calls[0]
    assert method == "POST"
    assert (
        url
        == f"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{EMAIL}:signBlob"
    )
    assert headers["authorization"] == "Bearer runtime-access-token"
    assert browser_put(upload, PNG).status_code == 200
    form = store.signed_upload_form("b.png", "image/png", purpose=PURPOSE)
    posted = requests.post(form.url, data=form.fields, files={"file": ("b.png", PNG)}, timeout=30)
    assert posted.status_code == 201
    assert len(names(bucket)) == 2


def test_a_refused_sign_blob_names_the_role_to_grant(
    bucket: storage.Bucket, gate: SignatureGate, private_key: rsa.RSAPrivateKey
) -> None:
    store = make_storage(
        bucket,
        gate,
        service_account_email=EMAIL,
        iam_credentials=oauth2_credentials.Credentials(token="runtime-access-token"),
        iam_request=FakeIAM(private_key, status=403),
    )
    with pytest.raises(SigningError) as caught:
        store.signed_upload_url("a.png", "image/png", purpose=PURPOSE)
    message = str(caught.value)
    assert EMAIL in message
    assert "roles/iam.serviceAccountTokenCreator" in message
    assert "iamcredentials.googleapis.com" in message


def test_a_signed_download_url_serves_a_private_object_with_a_safe_name(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    upload = store.signed_upload_url('x"y.png', "image/png", len(PNG), purpose=PURPOSE)
    browser_put(upload, PNG)
    record = store.finalize(upload.ticket, purpose=PURPOSE)
    url = store.download_url(record, expires=300)
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["Content-Disposition"] == 'attachment; filename="x_y.png"'
    inline = requests.get(store.download_url(record, as_attachment=False), timeout=30)
    assert inline.headers["Content-Disposition"] == 'inline; filename="x_y.png"'
    gate.skew = datetime.timedelta(seconds=301)
    assert requests.get(url, timeout=30).text == "ExpiredToken"
    with pytest.raises(ValueError, match="7 days"):
        store.download_url(record, expires=datetime.timedelta(days=8))


# -- what finalize trusts (issue 17, points 3 and 4) ---------------------------------------------


def forged_ticket(key: str, **fields: t.Any) -> str:
    """A ticket signed with ``key``: what someone holding a leaked or retired key can make."""
    from gae.storage.signing import ticket_serializer

    body = {"t": "image/png", "f": "x.png", "m": MiB, "a": None, "e": False, "c": "crc32c"}
    return str(ticket_serializer(key).dumps({**body, **fields}))


def test_finalize_reads_and_deletes_nothing_a_forged_ticket_names(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    # The key that signs is still trusted as a fallback after a rotation (or it leaked).
    retired = "retired-key-" + "r" * 20
    store.app.config["SECRET_KEY_FALLBACKS"] = [retired]  # type: ignore[union-attr]
    other = bucket.client.bucket("another-bucket")
    other.create()
    other.blob("payroll.csv").upload_from_string(b"secret", content_type="text/csv")
    bucket.blob("backups/db.dump").upload_from_string(b"\0db", content_type="image/png")
    # A generated-looking name the app never handed out (an upload through the app, say).
    through_app = "uploads/" + "ab" * 16
    bucket.blob(through_app).upload_from_string(b"not a png", content_type="text/plain")
    cases = [
        (forged_ticket(retired, b="another-bucket", o="payroll.csv"), 400, "another-bucket"),
        (forged_ticket(retired, b=bucket.name, o="backups/db.dump"), 400, "backups/db.dump"),
        (forged_ticket(retired, b=bucket.name, o="uploads/../backups/db.dump"), 400, "uploads/"),
        (forged_ticket(retired, b=bucket.name, o=through_app), 409, "never handed it out"),
    ]
    for ticket, status, words in cases:
        with pytest.raises((BadUpload, UploadConflict)) as caught:
            store.finalize(ticket, purpose=PURPOSE)
        assert caught.value.code == status
        assert words in str(caught.value.description)
        assert "nothing was read or deleted" in str(caught.value.description)
    # Everything is still there, untouched.
    assert other.get_blob("payroll.csv").download_as_bytes() == b"secret"
    assert names(bucket) == ["backups/db.dump", through_app]
    other.delete(force=True)


def test_finalize_needs_the_purpose_the_upload_was_handed_out_for(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    upload = store.signed_upload_url("a.png", "image/png", len(PNG), purpose="post:1:user:alice")
    assert browser_put(upload, PNG).status_code == 200
    for wrong in ("post:2:user:alice", "post:1:user:mallory", ""):
        with pytest.raises(UploadForbidden) as caught:
            store.finalize(upload.ticket, purpose=wrong)
        assert caught.value.code == 403
    assert names(bucket) == [upload.object_name]
    record = store.finalize(upload.ticket, purpose="post:1:user:alice")
    assert record.name == upload.object_name
    with pytest.raises(TypeError, match="purpose"):
        store.signed_upload_url("a.png", "image/png")  # type: ignore[call-arg]


def test_concurrent_finalizes_of_one_ticket_record_it_once(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    upload = store.signed_upload_url("a.png", "image/png", len(PNG), purpose=PURPOSE)
    assert browser_put(upload, PNG).status_code == 200
    threads = 8
    start = threading.Barrier(threads)
    results: list[t.Any] = []
    lock = threading.Lock()

    def finalize() -> None:
        start.wait()
        try:
            outcome: t.Any = store.finalize(upload.ticket, purpose=PURPOSE)
        except Exception as error:  # collected and asserted below
            outcome = error
        with lock:
            results.append(outcome)

    workers = [threading.Thread(target=finalize) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    records = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(results) == threads
    assert len(records) == 1, results
    assert all(isinstance(r, UploadConflict) and r.code == 409 for r in refused), refused
    assert names(bucket) == [upload.object_name]


def test_a_finalize_before_the_upload_leaves_the_ticket_usable(
    bucket: storage.Bucket, gate: SignatureGate, signer: service_account.Credentials
) -> None:
    store = make_storage(bucket, gate, signing_credentials=signer)
    upload = store.signed_upload_url("a.png", "image/png", len(PNG), purpose=PURPOSE)
    with pytest.raises(UploadNotFound):
        store.finalize(upload.ticket, purpose=PURPOSE)
    assert browser_put(upload, PNG).status_code == 200
    assert store.finalize(upload.ticket, purpose=PURPOSE).size == len(PNG)
    # A rejected upload's ticket is spent too: the object is gone, and so is the record.
    bad = store.signed_upload_url("b.png", "image/png", purpose=PURPOSE)
    assert browser_put(bad, b"GIF89a" + b"\0" * 20).status_code == 200
    with pytest.raises(FileTypeRejected):
        store.finalize(bad.ticket, purpose=PURPOSE)
    with pytest.raises(UploadConflict):
        store.finalize(bad.ticket, purpose=PURPOSE)


# -- unfinalized uploads are cleaned up (issue 17, point 6) --------------------------------------


def test_cleanup_deletes_only_unfinalized_uploads_once_they_expire(bucket: storage.Bucket) -> None:
    from gae.storage import cleanup_uploads

    app = Flask(__name__)
    app.config["SECRET_KEY"] = "s" * 32
    store = Storage(app, bucket=bucket.name, client=bucket.client)

    def uploaded(name: str) -> DirectUpload:
        upload = store.resumable_upload(name, "image/png", len(PNG), purpose=PURPOSE)
        requests.put(upload.url, data=PNG, timeout=30).raise_for_status()
        return upload

    abandoned = uploaded("abandoned.png")
    kept = uploaded("kept.png")
    record = store.finalize(kept.ticket, purpose=PURPOSE)
    never_sent = store.resumable_upload("never.png", "image/png", len(PNG), purpose=PURPOSE)
    assert names(bucket) == sorted([abandoned.object_name, kept.object_name])
    # While its session or ticket may still be used, an upload is left alone.
    assert cleanup_uploads(store) == (0, True)
    assert cleanup_uploads(store, now=datetime.datetime.now(datetime.UTC)) == (0, True)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=8)
    assert cleanup_uploads(store, now=later, batch_size=1) == (2, True)
    assert names(bucket) == [record.name]  # the finalized object stays
    assert cleanup_uploads(store, now=later) == (0, True)
    with pytest.raises(UploadConflict):  # its record is gone: the ticket is spent
        store.finalize(abandoned.ticket, purpose=PURPOSE)
    with pytest.raises(UploadConflict):
        store.finalize(never_sent.ticket, purpose=PURPOSE)


def test_the_cleanup_url_is_cron_only_and_deletes_expired_uploads(bucket: storage.Bucket) -> None:
    from gae.headers import TRUSTED_KEY
    from gae.ndb import ensure_context
    from gae.storage import markers

    app = Flask(__name__)
    app.config["SECRET_KEY"] = "s" * 32
    Storage(app, bucket=bucket.name, client=bucket.client)
    name = "uploads/" + "cd" * 16
    bucket.blob(name).upload_from_string(PNG, content_type="image/png")
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=9)
    with ensure_context():
        markers.open_record(bucket.name, name, PURPOSE, past, past + datetime.timedelta(days=1))
    client = app.test_client()
    assert client.get("/tasks/upload-cleanup").status_code == 403
    forged = client.get("/tasks/upload-cleanup", headers={"X-Appengine-Cron": "true"})
    assert forged.status_code == 403  # off App Engine the header is anyone's
    assert names(bucket) == [name]
    # On App Engine (the adapter marks its own headers trusted), as Cron calls it:
    cron = {TRUSTED_KEY: True, "HTTP_X_APPENGINE_CRON": "true"}
    response = client.get("/tasks/upload-cleanup", environ_overrides=cron)
    assert response.get_json() == {"deleted": 1, "finished": True}
    assert names(bucket) == []
    assert "gae_storage_cleanup" in app.view_functions
