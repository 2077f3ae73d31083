"""Fixtures the Cloud Storage tests share: clients and freshly emptied buckets."""

from __future__ import annotations

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from gae.emulators import StorageEmulator


@pytest.fixture(scope="module")
def storage_client(gcs_emulator: StorageEmulator) -> storage.Client:
    # Built from the emulator's URL, not the environment: other fixtures may point
    # STORAGE_EMULATOR_HOST at another emulator during the session.
    return storage.Client(
        project=gcs_emulator.project,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": gcs_emulator.url},
    )


@pytest.fixture
def bucket(gcs_emulator: StorageEmulator, storage_client: storage.Client) -> storage.Bucket:
    """The emulator's bucket, emptied."""
    gcs_emulator.reset()
    return storage_client.bucket(gcs_emulator.bucket)


@pytest.fixture
def fake_bucket(fake_gcs_emulator: StorageEmulator) -> storage.Bucket:
    """fake-gcs-server's bucket, emptied (it keeps connections alive and checks
    generation preconditions, which gcp-storage-emulator does not)."""
    fake_gcs_emulator.reset()
    client = storage.Client(
        project=fake_gcs_emulator.project,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": fake_gcs_emulator.url},
    )
    return client.bucket(fake_gcs_emulator.bucket)
