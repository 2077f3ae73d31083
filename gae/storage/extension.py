"""The :class:`Storage` extension: uploads through the app, direct uploads, downloads.

Part of :mod:`gae.storage` (import it from there).
"""

from __future__ import annotations

import typing as t

from framework import current_app, request
from gae.errors import ConfigurationError
from gae.request_class import add_request_mixin

from .cleanup import CLEANUP_ENDPOINT, CLEANUP_RULE, register_cleanup_route
from .direct import DirectUploads
from .downloads import Downloads
from .policy import FileTypeRejected, StoredFile, UploadForbidden, UploadPolicy
from .receiver import (
    ALLOW_ATTRIBUTE,
    POLICY_ATTRIBUTE,
    RECEIVER_KEY,
    Receiver,
    UploadRequestMixin,
    request_too_large,
)
from .stream import UploadTarget

if t.TYPE_CHECKING:
    from framework import Flask, Response

V = t.TypeVar("V", bound=t.Callable[..., t.Any])
#: An upload guard: called before the first byte of the body is read; it raises an
#: HTTP error (``abort(403)``) or returns ``False`` (a 403) to refuse the upload.
Guard = t.Callable[[], t.Any]


class Storage(DirectUploads, Downloads):
    """Cloud Storage uploads and downloads for an app: ``Storage(app)`` or ``init_app``.

    Everything is optional. ``bucket`` (else ``GCS_BUCKET`` from the app config or the
    environment, else ``<project>.appspot.com``); ``client`` or ``client_factory`` (else
    :func:`get_client`); ``policy`` for uploads through the app and ``direct_policy`` for
    uploads straight to the bucket; ``object_namer(policy) -> name``. Signing (see
    :mod:`gae.storage.signing`): ``signing_credentials`` (a service-account key), or IAM
    signBlob as ``service_account_email`` with ``iam_credentials`` and ``iam_request``.

    App config: ``GCS_BUCKET``, ``GCS_UPLOAD_CHUNK_SIZE`` (bytes, a multiple of 256 KiB,
    default 48 MiB), ``GCS_DOWNLOAD_CHUNK_SIZE`` (bytes per ranged read of a download,
    default 16 MiB), ``GCS_RETRY_SECONDS`` (how long one Cloud Storage call of an upload
    may be retried, default 10 s), ``GCS_SIGNING_KEY_FILE``, ``GCS_SIGNING_SERVICE_ACCOUNT``,
    ``GCS_SIGNED_URL_EXPIRES`` (seconds, default 900), ``GCS_SIGNED_URL_ENDPOINT``,
    ``GCS_UPLOAD_TICKET_MAX_AGE`` (seconds, default one day).

    Direct uploads keep a small Datastore record each until they are finalized
    (:mod:`gae.storage.markers`): they need Datastore, as sessions do.

    ``init_app`` also adds the cron-only URL :attr:`cleanup_rule` that deletes direct
    uploads nobody finalized (:func:`gae.storage.cleanup_uploads`); set the class
    attribute to ``None`` in a subclass to leave it out.
    """

    #: Where the clean-up of unfinalized direct uploads is served (App Engine Cron only).
    cleanup_rule: str | None = CLEANUP_RULE

    def init_app(self, app: Flask) -> None:
        """Register with ``app``: its request class learns to stream uploads."""
        super().init_app(app)
        app.extensions["gae.storage"] = self
        add_request_mixin(app, UploadRequestMixin, "Upload")
        app.after_request(self._after_request)
        app.teardown_request(self._teardown_request)
        if self.cleanup_rule and CLEANUP_ENDPOINT not in app.view_functions:
            register_cleanup_route(app, self, self.cleanup_rule)

    def receive(self, policy: UploadPolicy | None = None) -> list[StoredFile]:
        """Stream this request's files into Cloud Storage; their records, in form order.

        Call it before anything reads ``request.form`` or ``request.files`` (the body is
        read once), or mark the view with :meth:`accepts_uploads`; afterwards
        ``request.form`` holds the text fields. Raises a 4xx :class:`UploadRejected`
        (413, 415, 400, 409) with a message when the upload breaks the policy; in every
        failure case nothing is kept.
        """
        receiver = request.environ.get(RECEIVER_KEY)
        if not isinstance(receiver, Receiver):
            if not isinstance(request, UploadRequestMixin):
                raise ConfigurationError(
                    "storage.receive() needs the app's request class to come from "
                    "Storage.init_app(app); it was replaced afterwards. Call init_app after "
                    "changing app.request_class."
                )
            mimetype = request.mimetype
            if mimetype != "multipart/form-data":
                shown = repr(mimetype) if mimetype else "a request without a body"
                raise FileTypeRejected(
                    "Files must be sent as multipart/form-data (a form with "
                    f'enctype="multipart/form-data"), not {shown}.'
                )
            view = current_app.view_functions.get(request.endpoint or "")
            receiver = self.begin(policy or self.policy, allow=getattr(view, ALLOW_ATTRIBUTE, None))
        request.files  # noqa: B018 (parses the body into Cloud Storage, once)
        if not receiver.parser_made:
            raise ConfigurationError(
                "The request body was read before storage.receive() (request.form, "
                "request.files, request.get_data() or request.stream was used first, e.g. "
                "by a CSRF check), so the files are gone. Mark the view with "
                "@storage.accepts_uploads(), which streams the files whoever reads the form "
                "first, or call storage.receive() before reading the form."
            )
        receiver.claimed = True
        return receiver.records()

    def keep(self) -> None:
        """Keep this request's stored files even if it ends with an error.

        Call it when a record of the files may exist although the view fails: a Datastore
        write that raised may still have been committed (its answer was lost). An object
        that nothing refers to is only garbage; a record of a deleted object is a broken
        download.
        """
        receiver = request.environ.get(RECEIVER_KEY)
        if isinstance(receiver, Receiver):
            receiver.keep = True

    def accepts_uploads(
        self, policy: UploadPolicy | None = None, *, allow: Guard | None = None
    ) -> t.Callable[[V], V]:
        """Mark a view whose files go to Cloud Storage as soon as anything reads the form.

        With it, a ``before_request`` hook (a CSRF check, say) may read ``request.form``
        first; the files are streamed then, under ``policy`` (default :attr:`policy`), and
        :meth:`receive` in the view returns their records.

        ``allow`` is the upload's guard: called with the request context before the first
        byte of the body is read, whoever reads it (a hook, an error handler, the view).
        It checks what the view would (logged in, owner, CSRF token from a header or the
        query string) and refuses by raising an HTTP error (``abort(401)``, a redirect,
        a 404) or returning ``False`` (403). Without it, anything that reads the form of
        this view before the view's own checks makes the app store the files first.
        """

        def mark(view: V) -> V:
            setattr(view, POLICY_ATTRIBUTE, policy or self.policy)
            if allow is not None:
                setattr(view, ALLOW_ATTRIBUTE, allow)
            return view

        return mark

    def begin(self, policy: UploadPolicy, *, allow: Guard | None = None) -> Receiver:
        """Set this request up to stream its files under ``policy`` (before the body is read).

        ``allow`` (see :meth:`accepts_uploads`) runs first: a refused upload reads nothing.
        """
        if allow is not None and allow() is False:
            raise UploadForbidden(
                "This upload is not allowed for this request (the view's upload guard "
                "refused it); nothing was stored."
            )
        target = UploadTarget(
            bucket=self.bucket(),
            policy=policy,
            chunk_size=self.chunk_size,
            object_namer=self.object_namer,
            retry=self.retry,
        )
        receiver = Receiver(target)
        limit = policy.max_request_size
        if limit is not None:
            length = request.content_length
            if length is not None and length > limit:
                # Refused before a byte of the body is read.
                raise request_too_large(limit)
            request.max_content_length = limit
        request.environ[RECEIVER_KEY] = receiver
        return receiver

    def _after_request(self, response: Response) -> Response:
        receiver = request.environ.get(RECEIVER_KEY)
        # Files of a failed request, or that no view took from receive(), belong to
        # nothing: they go (unless the view asked to keep them).
        if not isinstance(receiver, Receiver) or receiver.keep:
            return response
        if response.status_code >= 400 or not receiver.claimed:
            receiver.abort()
        return response

    def _teardown_request(self, error: BaseException | None) -> None:
        receiver = request.environ.get(RECEIVER_KEY)
        if error is not None and isinstance(receiver, Receiver) and not receiver.keep:
            receiver.abort()
