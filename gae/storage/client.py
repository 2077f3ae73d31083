"""The storage client, and the configuration every part of :class:`gae.storage.Storage` reads.

Part of :mod:`gae.storage`. ``google.cloud.storage`` is imported on first use, and the
client is created once per process (:func:`get_client`), with anonymous credentials when
``STORAGE_EMULATOR_HOST`` is set: real credentials would try to fetch a token, and hang,
against the emulator. ``Storage(client=...)``, ``Storage(client_factory=...)`` and
:func:`set_client_factory` replace it.
"""

from __future__ import annotations

import datetime
import os
import typing as t
import uuid

from framework import current_app, has_app_context
from gae.errors import ConfigurationError
from gae.lazy_client import LazyClient
from gae.settings import Settings, get_settings

from .policy import GiB, KiB, MiB, UploadPolicy
from .signing import SignerResolver

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from google.auth.credentials import Credentials, Signing

    from framework import Flask

#: Policy for uploads straight to the bucket: App Engine's request limit does not apply.
DEFAULT_DIRECT_POLICY = UploadPolicy(max_file_size=5 * GiB, max_request_size=None, max_files=1)

#: Bytes per resumable-upload request: the memory one upload through the app holds at
#: most. Each request is a round trip, and emulators copy the partial object on every
#: one, so fewer, larger chunks are faster; a file that fits (on App Engine every file:
#: requests stop at 32 MiB) goes up in one request.
DEFAULT_CHUNK_SIZE = 48 * MiB
#: Bytes per ranged read of a streamed download: the memory one download holds.
DEFAULT_DOWNLOAD_CHUNK_SIZE = 16 * MiB
_CHUNK_MULTIPLE = 256 * KiB

#: Seconds google-cloud-storage may spend retrying one call of an upload through the app
#: or of a download (its own default is 120 s: a request would hang that long while Cloud
#: Storage is down).
DEFAULT_RETRY_SECONDS = 10.0

#: google-cloud-storage (3.x) starts a thread on the first call per bucket that fetches
#: the bucket's metadata for OpenTelemetry span attributes, traces enabled or not: one
#: more request (needing ``storage.buckets.get``, which an app that only reads and writes
#: objects lacks) and, while Cloud Storage is down, a thread retrying for up to two
#: minutes after the request that started it has answered. Off unless the environment
#: says otherwise.
_BUCKET_METADATA_SWITCH = "DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA"


def set_client_factory(factory: Callable[[], t.Any] | None) -> None:
    """Build the process's client with ``factory`` from now on (drops the current one)."""
    _clients.set_factory(factory)


def anonymous_client(project: str | None, api_endpoint: str | None = None) -> t.Any:
    """A ``google.cloud.storage.Client`` without credentials, for an emulator.

    ``api_endpoint`` (the emulator's URL) wins over ``STORAGE_EMULATOR_HOST``. Real
    credentials would try to fetch a token, and hang, against the emulator.
    """
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage  # type: ignore[import-untyped, attr-defined, unused-ignore]

    _no_bucket_metadata_thread()
    credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    options = {"api_endpoint": api_endpoint} if api_endpoint else None
    return storage.Client(
        project=project or "local", credentials=credentials, client_options=options
    )


def _default_client() -> t.Any:
    settings = get_settings()
    if settings.storage_emulator_host:
        return anonymous_client(settings.project)
    from google.cloud import storage  # type: ignore[import-untyped, attr-defined, unused-ignore]

    _no_bucket_metadata_thread()
    return storage.Client(project=settings.project)


def _no_bucket_metadata_thread() -> None:
    """Switch off the library's bucket-metadata thread (see ``_BUCKET_METADATA_SWITCH``),
    unless the environment already decides; the library reads it at every call."""
    os.environ.setdefault(_BUCKET_METADATA_SWITCH, "true")


_clients = LazyClient(_default_client)


def get_client() -> t.Any:
    """The process's ``google.cloud.storage.Client``, created on first use (thread-safe)."""
    return _clients.get()


def uuid_name(policy: UploadPolicy) -> str:
    """The default object name: the policy's prefix and a random UUID, nothing from the user."""
    return f"{policy.prefix}{uuid.uuid4().hex}"


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class StorageCore:
    """Client, bucket, policies and signing shared by uploads and downloads.

    See :class:`gae.storage.Storage` for the arguments and settings.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        bucket: str | None = None,
        client: t.Any = None,
        client_factory: Callable[[], t.Any] | None = None,
        policy: UploadPolicy | None = None,
        direct_policy: UploadPolicy | None = None,
        object_namer: Callable[[UploadPolicy], str] | None = None,
        signing_credentials: Signing | None = None,
        service_account_email: str | None = None,
        iam_credentials: Credentials | None = None,
        iam_request: Callable[..., t.Any] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self._bucket_name = bucket
        self._client = client
        #: The instance's own client, when it was given a factory (else the process's).
        self._own_client = LazyClient(client_factory) if client_factory is not None else None
        self.policy = policy or UploadPolicy()
        self.direct_policy = direct_policy or DEFAULT_DIRECT_POLICY
        self.object_namer = object_namer or uuid_name
        self._signing_options: dict[str, t.Any] = {
            "signing_credentials": signing_credentials,
            "service_account_email": service_account_email,
            "iam_credentials": iam_credentials,
            "iam_request": iam_request,
        }
        self._signer: SignerResolver | None = None
        self._settings = settings
        self.app: Flask | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        self.app = app

    @property
    def settings(self) -> Settings:
        """The environment's facts (``gae.settings``), or the ones given for tests."""
        return self._settings if self._settings is not None else get_settings()

    def config(self, key: str, default: t.Any = None) -> t.Any:
        """A setting from the current app's config (else the app given to ``init_app``)."""
        app = current_app if has_app_context() else self.app
        return app.config.get(key, default) if app is not None else default

    @property
    def client(self) -> t.Any:
        """The ``google.cloud.storage.Client`` in use (created on first use)."""
        if self._client is not None:
            return self._client
        if self._own_client is None:
            return get_client()
        return self._own_client.get()

    @property
    def bucket_name(self) -> str:
        """``Storage(bucket=)``, else ``GCS_BUCKET`` (config, then environment)."""
        name = self._bucket_name or self.config("GCS_BUCKET") or self.settings.bucket
        if not name:
            raise ConfigurationError(
                "No Cloud Storage bucket is configured: pass Storage(bucket=...), set "
                "GCS_BUCKET in the app config or the environment, or set "
                "GOOGLE_CLOUD_PROJECT so the default '<project>.appspot.com' is used."
            )
        return str(name)

    def bucket(self, name: str | None = None) -> t.Any:
        """A ``google.cloud.storage.Bucket`` handle (no request is made)."""
        return self.client.bucket(name or self.bucket_name)

    @property
    def chunk_size(self) -> int:
        """Bytes per resumable-upload request (``GCS_UPLOAD_CHUNK_SIZE``; memory per upload)."""
        size = int(self.config("GCS_UPLOAD_CHUNK_SIZE", DEFAULT_CHUNK_SIZE))
        if size <= 0 or size % _CHUNK_MULTIPLE:
            raise ValueError(
                f"GCS_UPLOAD_CHUNK_SIZE is {size}; Cloud Storage needs a positive multiple "
                f"of 256 KiB ({_CHUNK_MULTIPLE} bytes), e.g. {DEFAULT_CHUNK_SIZE} (48 MiB)."
            )
        return size

    @property
    def download_chunk_size(self) -> int:
        """Bytes per ranged read of a download (``GCS_DOWNLOAD_CHUNK_SIZE``; memory each)."""
        size = int(self.config("GCS_DOWNLOAD_CHUNK_SIZE", DEFAULT_DOWNLOAD_CHUNK_SIZE))
        if size <= 0:
            raise ValueError(
                f"GCS_DOWNLOAD_CHUNK_SIZE is {size}; set a positive number of bytes, e.g. "
                f"{DEFAULT_DOWNLOAD_CHUNK_SIZE} (16 MiB)."
            )
        return size

    @property
    def retry_seconds(self) -> float:
        """``GCS_RETRY_SECONDS`` (default 10): how long one Cloud Storage call of an upload
        or a download may be retried, and how long a download waits for a reply."""
        seconds = float(self.config("GCS_RETRY_SECONDS", DEFAULT_RETRY_SECONDS))
        if not seconds > 0:
            raise ValueError(
                f"GCS_RETRY_SECONDS is {seconds}; give the seconds Cloud Storage calls may "
                f"spend retrying, a positive number such as {DEFAULT_RETRY_SECONDS:g}."
            )
        return seconds

    @property
    def retry(self) -> t.Any:
        """google-cloud-storage's retry policy, bounded to ``GCS_RETRY_SECONDS`` (10 s)."""
        from google.cloud.storage.retry import (  # type: ignore[import-untyped, unused-ignore]
            DEFAULT_RETRY,
        )

        seconds = self.retry_seconds
        # with_timeout since google-api-core 2.16; with_deadline before (same meaning).
        bound = getattr(DEFAULT_RETRY, "with_timeout", None) or DEFAULT_RETRY.with_deadline
        return bound(seconds)

    def signing_credentials(self) -> Signing:
        """The credentials URLs are signed with; :class:`SigningError` says why if none."""
        if self._signer is None:
            options = dict(self._signing_options)
            options["service_account_email"] = options["service_account_email"] or self.config(
                "GCS_SIGNING_SERVICE_ACCOUNT"
            )
            self._signer = SignerResolver(
                key_file=self.config("GCS_SIGNING_KEY_FILE"),
                use_runtime_credentials=self.settings.on_app_engine,
                **options,
            )
        return self._signer.get()

    def signed_url_endpoint(self) -> str | None:
        """Where signed URLs point: ``GCS_SIGNED_URL_ENDPOINT``, else the client's API."""
        endpoint = self.config("GCS_SIGNED_URL_ENDPOINT")
        return str(endpoint).rstrip("/") if endpoint else None

    def expiry(self, expires: datetime.timedelta | int | None) -> datetime.timedelta:
        """A signed URL's lifetime: given, else ``GCS_SIGNED_URL_EXPIRES`` (900 s)."""
        if expires is None:
            expires = int(self.config("GCS_SIGNED_URL_EXPIRES", 900))
        if isinstance(expires, int):
            expires = datetime.timedelta(seconds=expires)
        if not datetime.timedelta(0) < expires <= datetime.timedelta(days=7):
            raise ValueError(
                f"A signed URL must expire within 7 days (V4 signing's limit), not {expires}."
            )
        return expires
