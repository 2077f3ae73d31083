"""Cloud Storage for user files: through the app up to 32 MiB, straight to the bucket above.

::

    from gae.storage import Storage, UploadPolicy

    storage = Storage(app, policy=UploadPolicy(allowed_types={"image/*"}))

    @app.post("/photos")
    def upload():
        photo = storage.receive()[0]          # streamed into the bucket while read
        Photo(title=request.form["title"], **photo.to_dict()).put()
        return {"id": photo.name}, 201

:meth:`Storage.receive` streams the request's file parts into Cloud Storage (memory stays
at one chunk whatever the size), enforces the :class:`UploadPolicy` as bytes arrive,
names objects ``prefix + UUID``, verifies size and checksum against what Cloud Storage
reports, and returns :class:`StoredFile` records. A rejected, truncated or failed upload,
or a request that ends with an error response, leaves no object behind.

For files over App Engine's 32 MiB request limit the browser uploads straight to the bucket
(:meth:`Storage.signed_upload_url`, :meth:`Storage.signed_upload_form`,
:meth:`Storage.resumable_upload`) and the app then checks and records the object with
:meth:`Storage.finalize`. :meth:`Storage.download_url` and :meth:`Storage.send` serve
private objects. See ``docs/storage.md`` for the guide, IAM roles and bucket CORS.

``google.cloud.storage`` is imported on first use; the client is created lazily, once per
process (:func:`get_client`), with anonymous credentials when ``STORAGE_EMULATOR_HOST`` is
set, and can be replaced with ``Storage(client=...)`` or :func:`set_client_factory`.
"""

from __future__ import annotations

from .cleanup import cleanup_uploads
from .client import DEFAULT_DIRECT_POLICY, get_client, set_client_factory
from .extension import Storage
from .policy import (
    APP_ENGINE_REQUEST_LIMIT,
    BadUpload,
    FileTooLarge,
    FileTypeRejected,
    GiB,
    KiB,
    MiB,
    StorageUnavailable,
    StoredFile,
    UploadConflict,
    UploadForbidden,
    UploadNotFound,
    UploadPolicy,
    UploadRejected,
)
from .signing import DirectUpload, SigningError

__all__ = [
    "APP_ENGINE_REQUEST_LIMIT",
    "DEFAULT_DIRECT_POLICY",
    "BadUpload",
    "DirectUpload",
    "FileTooLarge",
    "FileTypeRejected",
    "GiB",
    "KiB",
    "MiB",
    "SigningError",
    "Storage",
    "StorageUnavailable",
    "StoredFile",
    "UploadConflict",
    "UploadForbidden",
    "UploadNotFound",
    "UploadPolicy",
    "UploadRejected",
    "cleanup_uploads",
    "get_client",
    "set_client_factory",
]
