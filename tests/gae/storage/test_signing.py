"""How Storage finds credentials to sign with, and what it says when there are none.

No request leaves the machine: the IAM path is exercised with injected credentials, and the
end-to-end IAM signing (through a loopback stand-in for signBlob) is in
test_direct.py.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.cloud import storage
from google.oauth2 import credentials as oauth2_credentials

from framework import Flask
from gae.settings import Settings
from gae.storage import SigningError, Storage
from gae.storage.client import anonymous_client as anonymous_storage_client

EMAIL = "signer@test-project.iam.gserviceaccount.com"
LOCAL = Settings.from_environ({"GOOGLE_CLOUD_PROJECT": "test-project"})
ON_GAE = Settings.from_environ({"GAE_ENV": "standard", "GOOGLE_CLOUD_PROJECT": "test-project"})


def offline_client() -> storage.Client:
    # Anonymous and pointed at a closed port: signing never talks to the storage API.
    return anonymous_storage_client("test-project", "http://127.0.0.1:9")


def make_storage(settings: Settings = LOCAL, **options: object) -> Storage:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="s" * 32)
    app.config.update({k: v for k, v in options.items() if k.isupper()})
    kwargs = {k: v for k, v in options.items() if not k.isupper()}
    return Storage(app, bucket="b", client=offline_client(), settings=settings, **kwargs)  # type: ignore[arg-type]


def write_key(path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "throwaway",
        "private_key": pem,
        "client_email": EMAIL,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    return path


def test_without_a_key_or_iam_the_error_says_what_to_configure() -> None:
    store = make_storage()
    with pytest.raises(SigningError) as caught:
        store.signed_upload_url("a.png", "image/png", purpose="test")
    message = str(caught.value)
    assert "GCS_SIGNING_KEY_FILE" in message
    assert "GCS_SIGNING_SERVICE_ACCOUNT" in message
    assert "roles/iam.serviceAccountTokenCreator" in message


def test_a_key_file_setting_signs_urls(tmp_path: Path, upload_records: None) -> None:
    key_file = write_key(tmp_path / "key.json")
    store = make_storage(GCS_SIGNING_KEY_FILE=str(key_file))
    url = store.signed_upload_url("a.png", "image/png", 100, purpose="test").url
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["X-Goog-Credential"].startswith(f"{EMAIL}/")
    assert query["X-Goog-SignedHeaders"] == (
        "content-type;host;x-goog-content-length-range;x-goog-if-generation-match"
    )
    assert int(query["X-Goog-Expires"]) == 900
    assert len(query["X-Goog-Signature"]) == 512  # RSA-2048, hex


def test_a_missing_key_file_is_named_in_the_error(tmp_path: Path) -> None:
    store = make_storage(GCS_SIGNING_KEY_FILE=str(tmp_path / "nope.json"))
    with pytest.raises(SigningError, match=r"nope\.json"):
        store.download_url("uploads/x")


def test_on_app_engine_credentials_without_a_service_account_are_explained() -> None:
    # A bare access token: no service-account email, and it cannot be refreshed to learn one.
    store = make_storage(ON_GAE, iam_credentials=oauth2_credentials.Credentials(token="a-token"))
    with pytest.raises(SigningError) as caught:
        store.signed_upload_form("a.png", "image/png", purpose="test")
    message = str(caught.value)
    assert "IAM signBlob" in message
    assert "GCS_SIGNING_SERVICE_ACCOUNT" in message


def test_the_service_account_setting_selects_iam_signing() -> None:
    store = make_storage(
        GCS_SIGNING_SERVICE_ACCOUNT=EMAIL,
        iam_credentials=oauth2_credentials.Credentials(token="a-token"),
        iam_request=lambda **_: None,
    )
    credentials = store.signing_credentials()
    assert credentials.signer_email == EMAIL
    assert store.signing_credentials() is credentials  # resolved once


def test_signed_url_lifetimes_are_bounded() -> None:
    store = make_storage()
    with pytest.raises(ValueError, match="7 days"):
        store.expiry(8 * 24 * 3600)
    with pytest.raises(ValueError, match="7 days"):
        store.expiry(0)
