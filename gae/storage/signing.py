"""V4 signing for Cloud Storage URLs and POST policies, with or without a key file.

Part of :mod:`gae.storage`. Two ways to sign, tried in this order:

1. A service-account key: ``Storage(signing_credentials=...)`` (any
   :class:`google.auth.credentials.Signing`) or the ``GCS_SIGNING_KEY_FILE`` setting.
2. IAM ``signBlob`` as a service account, with an access token: what App Engine offers
   without any key file. The runtime credentials (``google.auth.default()``) supply the
   token and the runtime service account's email; ``GCS_SIGNING_SERVICE_ACCOUNT`` names
   another account. The caller needs ``roles/iam.serviceAccountTokenCreator`` on the
   account that signs (on App Engine: the runtime service account, on itself).

When neither is possible :class:`SigningError` says which setting or permission is
missing. ``google.auth`` is imported only when something is signed.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
import typing as t

from gae.errors import ConfigurationError

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from google.auth.credentials import Credentials, Signing

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

_IAM_HELP = (
    "Grant the account that signs the role roles/iam.serviceAccountTokenCreator on itself "
    "(gcloud iam service-accounts add-iam-policy-binding {email} "
    "--member=serviceAccount:{email} --role=roles/iam.serviceAccountTokenCreator) and "
    "enable the IAM Service Account Credentials API (iamcredentials.googleapis.com)."
)


class SigningError(ConfigurationError):
    """Cloud Storage URLs cannot be signed with this configuration (a server-side problem)."""


@dataclasses.dataclass(frozen=True)
class DirectUpload:
    """How a browser uploads one file straight to Cloud Storage, and how to finish it.

    ``method`` is ``"PUT"`` (send the file as the body to ``url`` with ``headers``; a
    signed URL or a resumable session URI) or ``"POST"`` (an HTML form: ``fields`` as
    hidden inputs, then the file input named ``file``, posted to ``url``). After the
    upload the browser sends ``ticket`` back to the app, which calls
    :meth:`gae.storage.Storage.finalize` with it.
    """

    method: str
    url: str
    headers: dict[str, str]
    fields: dict[str, str]
    bucket: str
    object_name: str
    expires_at: datetime.datetime
    ticket: str

    def to_dict(self) -> dict[str, t.Any]:
        """A JSON-ready dict for the browser (``expires_at`` as ISO 8601)."""
        data = dataclasses.asdict(self)
        data["expires_at"] = self.expires_at.isoformat()
        return data


class SignerResolver:
    """Finds, once per process, the credentials that sign URLs (see the module docs).

    ``iam_credentials`` and ``iam_request`` replace the runtime credentials and the HTTP
    transport used for IAM signBlob (tests inject a token and a loopback IAM service).
    """

    def __init__(
        self,
        *,
        signing_credentials: Signing | None = None,
        key_file: str | None = None,
        service_account_email: str | None = None,
        iam_credentials: Credentials | None = None,
        iam_request: Callable[..., t.Any] | None = None,
        use_runtime_credentials: bool = False,
    ) -> None:
        self.signing_credentials = signing_credentials
        self.key_file = key_file
        self.service_account_email = service_account_email
        self.iam_credentials = iam_credentials
        self.iam_request = iam_request
        self.use_runtime_credentials = use_runtime_credentials
        self._lock = threading.Lock()
        self._resolved: Signing | None = None

    def get(self) -> Signing:
        """The signing credentials; raises :class:`SigningError` if there are none."""
        resolved = self._resolved
        if resolved is None:
            with self._lock:
                if self._resolved is None:
                    self._resolved = self._resolve()
                resolved = self._resolved
        return resolved

    def _resolve(self) -> Signing:
        if self.signing_credentials is not None:
            return self.signing_credentials
        if self.key_file:
            return _from_key_file(self.key_file)
        wants_iam = (
            self.iam_credentials is not None
            or self.service_account_email is not None
            or self.use_runtime_credentials
        )
        if not wants_iam:
            raise SigningError(
                "Cannot sign Cloud Storage URLs: no service-account key is configured "
                "(Storage(signing_credentials=...) or GCS_SIGNING_KEY_FILE) and IAM signBlob "
                "is not set up (it is used automatically on App Engine, or when "
                "GCS_SIGNING_SERVICE_ACCOUNT names the account to sign as). On App Engine "
                "nothing else is needed but the permission: "
                + _IAM_HELP.format(email="PROJECT@appspot.gserviceaccount.com")
            )
        return self._iam()

    def _iam(self) -> Signing:
        from google.auth.exceptions import DefaultCredentialsError, RefreshError, TransportError

        request = self.iam_request or _default_request()
        credentials = self.iam_credentials
        if credentials is None:
            import google.auth

            try:
                credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
            except DefaultCredentialsError as error:
                raise SigningError(
                    "Cannot sign Cloud Storage URLs through IAM signBlob: no runtime "
                    f"credentials were found ({error}). On App Engine they always exist; "
                    "elsewhere run 'gcloud auth application-default login' or configure a "
                    "service-account key with GCS_SIGNING_KEY_FILE."
                ) from error
        email = self.service_account_email or _email_of(credentials)
        if email is None:
            # Compute Engine / App Engine credentials learn their email on refresh.
            try:
                credentials.refresh(request)  # type: ignore[no-untyped-call]
            except (RefreshError, TransportError) as error:
                raise SigningError(
                    "Cannot sign Cloud Storage URLs through IAM signBlob: the runtime "
                    f"credentials could not get an access token ({error}). Set "
                    "GCS_SIGNING_SERVICE_ACCOUNT to the service account to sign as, or "
                    "configure GCS_SIGNING_KEY_FILE."
                ) from error
            email = _email_of(credentials)
        if email is None:
            raise SigningError(
                "Cannot sign Cloud Storage URLs through IAM signBlob: the runtime "
                f"credentials ({type(credentials).__name__}) do not belong to a service "
                "account. Set GCS_SIGNING_SERVICE_ACCOUNT to the service account to sign as "
                "(and give your identity roles/iam.serviceAccountTokenCreator on it), or "
                "configure GCS_SIGNING_KEY_FILE."
            )
        return _iam_signing(request, credentials, email)


def _email_of(credentials: t.Any) -> str | None:
    email = getattr(credentials, "service_account_email", None) or getattr(
        credentials, "signer_email", None
    )
    # Compute Engine credentials say "default" until refreshed.
    return email if isinstance(email, str) and "@" in email else None


def _default_request() -> Callable[..., t.Any]:
    from google.auth.transport.requests import Request

    return Request()


def _from_key_file(path: str) -> Signing:
    from google.oauth2 import service_account

    try:
        return service_account.Credentials.from_service_account_file(  # type: ignore[no-any-return, no-untyped-call]
            path, scopes=[CLOUD_PLATFORM_SCOPE]
        )
    except (OSError, ValueError, KeyError) as error:
        raise SigningError(
            f"GCS_SIGNING_KEY_FILE is {path!r}, which is not a readable service-account key "
            f"({type(error).__name__}: {error}). Point it at the JSON key file, or unset it "
            "to sign through IAM signBlob."
        ) from error


_iam_class: type[t.Any] | None = None


def _iam_signing(request: Callable[..., t.Any], credentials: Credentials, email: str) -> Signing:
    """Signing credentials backed by IAM signBlob (defined on first use: lazy imports)."""
    global _iam_class
    if _iam_class is None:
        from google.auth import credentials as auth_credentials
        from google.auth import iam
        from google.auth.exceptions import RefreshError, TransportError

        class IAMSigningCredentials(auth_credentials.Signing):
            """Signs with IAM signBlob as ``email``, authenticated by ``credentials``."""

            def __init__(self, request: t.Any, credentials: Credentials, email: str) -> None:
                self._email = email
                self._signer = iam.Signer(request, credentials, email)  # type: ignore[no-untyped-call]

            def sign_bytes(self, message: bytes) -> bytes:
                try:
                    return t.cast(bytes, self._signer.sign(message))
                except (TransportError, RefreshError) as error:
                    raise SigningError(
                        f"IAM signBlob refused to sign as {self._email} ({error}). "
                        + _IAM_HELP.format(email=self._email)
                    ) from error

            @property
            def signer_email(self) -> str:
                return self._email

            @property
            def signer(self) -> t.Any:
                return self._signer

        _iam_class = IAMSigningCredentials
    return t.cast("Signing", _iam_class(request, credentials, email))


# -- upload tickets ------------------------------------------------------------------------

TICKET_SALT = "gae.storage.direct-upload"


def ticket_serializer(secret_key: t.Any, fallbacks: t.Sequence[t.Any] = ()) -> t.Any:
    """itsdangerous' timed serializer over ``SECRET_KEY`` (fallback keys still verify)."""
    if not secret_key:
        raise ConfigurationError(
            "gae.storage signs direct-upload tickets with the app's SECRET_KEY, which is not "
            "set: set app.config['SECRET_KEY'] (from Secret Manager in production)."
        )
    from itsdangerous import URLSafeTimedSerializer

    # itsdangerous signs with the last key and accepts all of them.
    keys = [*fallbacks, secret_key]
    return URLSafeTimedSerializer(keys, salt=TICKET_SALT)
