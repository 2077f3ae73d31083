"""Fixtures the Cloud Storage tests share: clients and freshly emptied buckets."""

from __future__ import annotations

import typing as t

import pytest
from google.cloud import storage

from gae.emulators import StorageEmulator
from gae.storage.client import anonymous_client


@pytest.fixture(scope="module")
def storage_client(gcs_emulator: StorageEmulator) -> storage.Client:
    # Built from the emulator's URL, not the environment: other fixtures may point
    # STORAGE_EMULATOR_HOST at another emulator during the session.
    return t.cast(storage.Client, anonymous_client(gcs_emulator.project, gcs_emulator.url))


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
    client = anonymous_client(fake_gcs_emulator.project, fake_gcs_emulator.url)
    return t.cast(storage.Bucket, client.bucket(fake_gcs_emulator.bucket))
