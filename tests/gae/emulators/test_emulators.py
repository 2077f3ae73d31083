"""The emulator harness against the real emulators: data, resets, persistence, errors."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from google.api_core.exceptions import PreconditionFailed
from google.cloud import ndb, storage

from gae.emulators import (
    DatastoreEmulator,
    EmulatorError,
    Emulators,
    StorageEmulator,
    find_java,
)
from gae.emulators.processes import pid_alive
from gae.ndb import anonymous_client as anonymous_ndb_client
from gae.storage.client import anonymous_client as anonymous_storage_client


class Note(ndb.Model):
    text = ndb.StringProperty()
    rank = ndb.IntegerProperty()


def test_put_get_query_and_transaction(ndb_context: ndb.Context) -> None:
    keys = [Note(text=f"n{i}", rank=i).put() for i in range(5)]
    assert keys[2].get().text == "n2"
    ranks = [n.rank for n in Note.query(Note.rank >= 2).order(-Note.rank)]
    assert ranks == [4, 3, 2]

    @ndb.transactional()
    def bump(key: ndb.Key) -> None:
        note = key.get()
        note.rank += 10
        note.put()

    bump(keys[0])
    assert keys[0].get().rank == 10


def test_each_test_starts_with_an_empty_datastore(ndb_context: ndb.Context) -> None:
    assert Note.query().count() == 0
    Note(text="left behind").put()


def test_and_the_next_one_too(ndb_context: ndb.Context) -> None:
    assert Note.query().count() == 0


def test_upload_download_and_list(gcs_bucket: storage.Bucket) -> None:
    blob = gcs_bucket.blob("notes/a.txt")
    blob.upload_from_string(b"hello", content_type="text/plain")
    assert gcs_bucket.blob("notes/a.txt").download_as_bytes() == b"hello"
    assert [b.name for b in gcs_bucket.client.list_blobs(gcs_bucket.name)] == ["notes/a.txt"]


def test_bucket_is_empty_again(gcs_bucket: storage.Bucket) -> None:
    assert list(gcs_bucket.client.list_blobs(gcs_bucket.name)) == []


def test_environment_points_clients_at_the_emulators(
    datastore_emulator: DatastoreEmulator, gcs_emulator: StorageEmulator
) -> None:
    assert os.environ["DATASTORE_EMULATOR_HOST"] == f"127.0.0.1:{datastore_emulator.port}"
    assert os.environ["STORAGE_EMULATOR_HOST"] == f"http://127.0.0.1:{gcs_emulator.port}"
    assert os.environ["GOOGLE_CLOUD_PROJECT"] == datastore_emulator.project


def test_fake_gcs_server_enforces_create_only_preconditions(
    fake_gcs_emulator: StorageEmulator,
) -> None:
    client = anonymous_storage_client(fake_gcs_emulator.project, fake_gcs_emulator.url)
    fake_gcs_emulator.reset()
    blob = client.bucket(fake_gcs_emulator.bucket).blob("once.txt")
    blob.upload_from_string(b"first", if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        blob.upload_from_string(b"second", if_generation_match=0)
    assert blob.download_as_bytes() == b"first"


def test_data_persists_across_restarts_with_a_data_dir(tmp_path: Path) -> None:
    def start() -> Emulators:
        group = Emulators("persist-demo", bucket="keep", data_dir=tmp_path)
        group.start()
        group.apply_env()
        return group

    group = start()
    try:
        client = anonymous_ndb_client("persist-demo")
        with client.context():
            key = Note(text="kept", rank=1).put()
        gcs = anonymous_storage_client("persist-demo")
        gcs.bucket("keep").blob("k.txt").upload_from_string(b"kept")
    finally:
        group.stop()
    assert group.datastore is not None and group.datastore.saved is True

    group = start()
    try:
        client = anonymous_ndb_client("persist-demo")
        with client.context():
            assert key.get().text == "kept"
        gcs = anonymous_storage_client("persist-demo")
        assert gcs.bucket("keep").blob("k.txt").download_as_bytes() == b"kept"
    finally:
        group.stop()


def test_a_datastore_emulator_that_failed_to_save_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The emulator saves only as it exits, and that fails when a write arrives meanwhile
    # (seen under load). Its log then holds a trace through its stop, as appended here:
    # the race itself cannot be produced on demand.
    emulator = DatastoreEmulator("lost-demo", data_dir=tmp_path / "data", log_dir=tmp_path)
    emulator.start()
    with open(emulator.log_path, "ab") as log:
        log.write(
            b'Exception in thread "Thread-1" java.util.ConcurrentModificationException\n'
            b"\tat com.google.cloud.datastore.emulator.impl.LocalDatastoreFileStub"
            b".stopInternal(LocalDatastoreFileStub.java:175)\n"
        )
    with caplog.at_level(logging.WARNING, logger="gae.emulators"):
        emulator.stop()
    assert emulator.saved is False
    assert "did not save its data" in caplog.text
    assert "Stop the app before the emulators" in caplog.text

    # The next run reads only its own lines: a clean stop is a save again.
    emulator.start()
    emulator.stop()
    assert emulator.saved is True


def test_stop_leaves_no_process_and_restores_environment() -> None:
    before = os.environ.get("STORAGE_EMULATOR_HOST")
    group = Emulators("stop-demo", datastore=False)
    group.start()
    group.apply_env()
    pid = group.storage.pid if group.storage else None
    assert pid is not None and pid_alive(pid)
    group.stop()
    assert not pid_alive(pid)
    assert os.environ.get("STORAGE_EMULATOR_HOST") == before


def test_firestore_emulator_in_datastore_mode(tmp_path: Path) -> None:
    emulator = DatastoreEmulator("fs-demo", mode="firestore", log_dir=tmp_path)
    emulator.start()
    try:
        previous = os.environ.get("DATASTORE_EMULATOR_HOST")
        os.environ["DATASTORE_EMULATOR_HOST"] = emulator.env["DATASTORE_EMULATOR_HOST"]
        try:
            client = anonymous_ndb_client("fs-demo")
            with client.context():
                key = Note(text="fs", rank=7).put()
                assert key.get().rank == 7
            emulator.reset()
            with client.context():
                assert key.get() is None
        finally:
            if previous is None:
                os.environ.pop("DATASTORE_EMULATOR_HOST", None)
            else:
                os.environ["DATASTORE_EMULATOR_HOST"] = previous
    finally:
        emulator.stop()


def test_missing_cloud_cli_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDSDK_ROOT_DIR", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    # The harness's own error (what the pytest plugin turns into a skip or a CI failure).
    with pytest.raises(EmulatorError, match="apt-get install google-cloud-cli"):
        DatastoreEmulator().start()


def test_missing_java_names_a_jdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EmulatorError, match="JDK"):
        find_java()


def test_missing_emulator_component_names_the_package(tmp_path: Path) -> None:
    (tmp_path / "platform").mkdir()
    os.environ["CLOUDSDK_ROOT_DIR"] = str(tmp_path)
    try:
        with pytest.raises(EmulatorError, match="google-cloud-cli-datastore-emulator"):
            DatastoreEmulator().start()
    finally:
        del os.environ["CLOUDSDK_ROOT_DIR"]


def test_firestore_mode_refuses_a_data_dir(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError, match="in memory only"):
        DatastoreEmulator(mode="firestore", data_dir=tmp_path).start()
