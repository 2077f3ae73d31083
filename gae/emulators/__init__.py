"""The Datastore and Cloud Storage emulators, started for local runs and tests.

``Emulators`` starts the Cloud Datastore emulator (or the Firestore emulator in Datastore
mode) and a Cloud Storage emulator on free loopback ports, waits until each answers its
health check, and exposes the environment variables the Google client libraries read::

    with Emulators(project="demo", bucket="uploads") as emulators:
        os.environ.update(emulators.env)
        ...

Data lives in memory unless ``data_dir`` is given; then it persists across restarts (the
Datastore emulator saves as it exits, which fails if a write arrives meanwhile: stop the
app before the emulators; see :meth:`DatastoreEmulator.stop`). Every process started here
is stopped by pid on exit and dies with its parent if that is killed.
"""

from __future__ import annotations

from gae.sdk import find_sdk_root

from .datastore import DatastoreEmulator, find_java
from .group import Emulators, local_emulators
from .processes import EmulatorError, free_port
from .storage import StorageEmulator

__all__ = [
    "DatastoreEmulator",
    "EmulatorError",
    "Emulators",
    "StorageEmulator",
    "find_java",
    "find_sdk_root",
    "free_port",
    "local_emulators",
]
