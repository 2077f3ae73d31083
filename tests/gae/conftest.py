"""Fixtures the Cloud Storage tests share: clients and freshly emptied buckets."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest
from google.cloud import storage

import gae.ndb
from gae.emulators import DatastoreEmulator, StorageEmulator
from gae.settings import reload_settings
from gae.storage.client import anonymous_client


@pytest.fixture
def upload_records(datastore_emulator: DatastoreEmulator) -> Iterator[None]:
    """An emptied Datastore for the records of direct uploads (gae.storage.markers)."""
    reload_settings()
    gae.ndb.set_client_factory(None)
    datastore_emulator.reset()
    yield
    gae.ndb.set_client_factory(None)


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
