"""Uploads that go from the browser straight to the bucket, and their finalize step.

Part of :mod:`gae.storage` (these are methods of :class:`gae.storage.Storage`). App Engine
caps request bodies at 32 MiB, so larger files bypass the app: it hands the browser a V4
signed ``PUT`` URL, a signed POST policy for a plain HTML form, or a resumable session URI,
each allowing one new object with a generated name, a fixed content type and a size
limit, plus a *ticket* (signed with ``SECRET_KEY``) naming that object and the policy.
When the browser reports the upload done, :meth:`DirectUploads.finalize` looks at what
Cloud Storage holds, applies the same checks as uploads through the app (size, declared
type, first bytes), and either records the object or deletes it.

Each upload handed out is also recorded in Datastore (:mod:`gae.storage.markers`) with
the caller's ``purpose``. Finalize trusts nothing the ticket names that the app can check
itself: the bucket must be the configured one, the object name must have the policy's
prefix and the shape of a generated name, the record must exist (the app handed this
upload out and nobody finalized it yet) and carry the same purpose. Only then is the
object read, and possibly deleted; the record is claimed in a transaction first, so a
ticket finalizes once.
"""

from __future__ import annotations

import datetime
import logging
import re
import typing as t

from . import markers
from .client import StorageCore, utcnow, uuid_name
from .objects import FILENAME_METADATA, delete_quietly
from .policy import (
    BadUpload,
    FileTooLarge,
    FileTypeRejected,
    StoredFile,
    UploadNotFound,
    UploadPolicy,
    UploadRejected,
    describe_size,
    normalize_type,
    sanitize_filename,
)
from .signing import DirectUpload, ticket_serializer
from .sniff import SNIFF_BYTES

logger = logging.getLogger("gae.storage")

#: What :func:`gae.storage.client.uuid_name` appends to the policy's prefix.
_UUID_NAME = re.compile(r"[0-9a-f]{32}")
#: How long a resumable upload session stays open (Cloud Storage's limit).
RESUMABLE_SESSION_LIFETIME = datetime.timedelta(days=7)


class DirectUploads(StorageCore):
    """The direct-upload half of :class:`gae.storage.Storage`."""

    def _prepare(
        self, filename: str, content_type: str, size: int | None, policy: UploadPolicy | None
    ) -> tuple[UploadPolicy, str, t.Any, str]:
        policy = policy or self.direct_policy
        declared = normalize_type(content_type)
        policy.check_declared(filename, declared)
        if size is not None:
            if size > policy.max_file_size:
                raise FileTooLarge(
                    f"The file {sanitize_filename(filename)!r} is {describe_size(size)}, over "
                    f"the limit of {describe_size(policy.max_file_size)}. Choose a smaller file."
                )
            if size <= 0 and not policy.allow_empty:
                raise BadUpload(f"The file {sanitize_filename(filename)!r} is empty.")
        blob = self.bucket().blob(self.object_namer(policy))
        ticket = self._serializer().dumps(
            {
                "b": blob.bucket.name,
                "o": blob.name,
                "t": declared,
                "f": sanitize_filename(filename),
                "m": policy.max_file_size,
                "a": sorted(policy.allowed_types) if policy.allowed_types is not None else None,
                "e": policy.allow_empty,
                "c": policy.checksum,
            }
        )
        return policy, declared, blob, ticket

    def _open_record(self, blob: t.Any, purpose: str, window: datetime.timedelta) -> None:
        """Record the upload handed out (see :mod:`gae.storage.markers`).

        It expires once neither the upload (``window``) nor its ticket can be used any
        more: then :func:`gae.storage.cleanup_uploads` may delete an unfinalized object.
        """
        if not isinstance(purpose, str):
            raise TypeError(
                f"purpose must be a string saying what the upload is for (e.g. "
                f"f'post:{{post_id}}:user:{{user_id}}'), not {type(purpose).__name__}."
            )
        now = utcnow()
        lasts = max(window, datetime.timedelta(seconds=self.ticket_max_age))
        markers.open_record(blob.bucket.name, blob.name, purpose, now, now + lasts)

    @property
    def ticket_max_age(self) -> int:
        """Seconds an upload ticket may be finalized (``GCS_UPLOAD_TICKET_MAX_AGE``, a day)."""
        return int(self.config("GCS_UPLOAD_TICKET_MAX_AGE", 86400))

    def _length_range(self, policy: UploadPolicy, size: int | None) -> tuple[int, int]:
        if size is not None:
            return size, size
        return (0 if policy.allow_empty else 1), policy.max_file_size

    def signed_upload_url(
        self,
        filename: str,
        content_type: str,
        size: int | None = None,
        *,
        purpose: str,
        policy: UploadPolicy | None = None,
        expires: datetime.timedelta | int | None = None,
    ) -> DirectUpload:
        """A V4 signed ``PUT`` URL for one new object (send ``headers`` exactly as given).

        Signed conditions: the content type, the size (exactly ``size``, else up to the
        policy's limit: ``x-goog-content-length-range``) and create-only
        (``x-goog-if-generation-match: 0``). ``purpose`` says what the upload is for (an
        opaque string such as ``f"post:{post_id}:user:{user_id}"``); :meth:`finalize` must
        be given the same one.
        """
        policy, declared, blob, ticket = self._prepare(filename, content_type, size, policy)
        low, high = self._length_range(policy, size)
        extra = {"x-goog-content-length-range": f"{low},{high}", "x-goog-if-generation-match": "0"}
        lifetime = self.expiry(expires)
        url = blob.generate_signed_url(
            version="v4",
            expiration=lifetime,
            method="PUT",
            content_type=declared,
            headers=extra,
            credentials=self.signing_credentials(),
            api_access_endpoint=self.signed_url_endpoint(),
        )
        self._open_record(blob, purpose, lifetime)
        return DirectUpload(
            method="PUT",
            url=url,
            headers={"Content-Type": declared, **extra},
            fields={},
            bucket=blob.bucket.name,
            object_name=blob.name,
            expires_at=utcnow() + lifetime,
            ticket=ticket,
        )

    def signed_upload_form(
        self,
        filename: str,
        content_type: str,
        size: int | None = None,
        *,
        purpose: str,
        policy: UploadPolicy | None = None,
        expires: datetime.timedelta | int | None = None,
    ) -> DirectUpload:
        """A V4 signed POST policy for a plain HTML form (``<input type=file name=file>``).

        The form posts ``fields`` then the file to ``url``; the policy fixes the object
        name and content type and limits the size. Cloud Storage answers 201.
        ``purpose``: as for :meth:`signed_upload_url`.
        """
        policy, declared, blob, ticket = self._prepare(filename, content_type, size, policy)
        low, high = self._length_range(policy, size)
        lifetime = self.expiry(expires)
        signed = self.client.generate_signed_post_policy_v4(
            blob.bucket.name,
            blob.name,
            expiration=lifetime,
            conditions=[["content-length-range", low, high]],
            fields={"Content-Type": declared, "success_action_status": "201"},
            credentials=self.signing_credentials(),
        )
        url = signed["url"]
        endpoint = self.signed_url_endpoint()
        if endpoint:
            # The policy's signature does not cover the URL: only the form's target moves.
            url = f"{endpoint}/{blob.bucket.name}/"
        self._open_record(blob, purpose, lifetime)
        return DirectUpload(
            method="POST",
            url=url,
            headers={},
            fields=dict(signed["fields"]),
            bucket=blob.bucket.name,
            object_name=blob.name,
            expires_at=utcnow() + lifetime,
            ticket=ticket,
        )

    def resumable_upload(
        self,
        filename: str,
        content_type: str,
        size: int,
        *,
        purpose: str,
        origin: str | None = None,
        policy: UploadPolicy | None = None,
    ) -> DirectUpload:
        """A resumable upload session URI for one new object of exactly ``size`` bytes.

        The app opens the session with its own credentials (no signing needed); the
        browser ``PUT``s the file (in pieces with ``Content-Range`` if it likes) to
        ``url``. Cloud Storage enforces the size, the type and create-only; ``origin``
        (e.g. ``request.origin``) is the page allowed to upload, for CORS. A session
        lasts up to a week. ``purpose``: as for :meth:`signed_upload_url`.
        """
        policy, declared, blob, ticket = self._prepare(filename, content_type, size, policy)
        blob.metadata = {FILENAME_METADATA: sanitize_filename(filename)}
        url = blob.create_resumable_upload_session(
            content_type=declared, size=size, origin=origin, if_generation_match=0
        )
        self._open_record(blob, purpose, RESUMABLE_SESSION_LIFETIME)
        return DirectUpload(
            method="PUT",
            url=url,
            headers={},
            fields={},
            bucket=blob.bucket.name,
            object_name=blob.name,
            expires_at=utcnow() + RESUMABLE_SESSION_LIFETIME,
            ticket=ticket,
        )

    def finalize(
        self, ticket: str, *, purpose: str, policy: UploadPolicy | None = None
    ) -> StoredFile:
        """Check a direct upload against its policy and record it; delete it if it fails.

        ``ticket`` comes from the :class:`DirectUpload`; ``purpose`` must be the one the
        upload was handed out for, and ``policy`` the one it was handed out under
        (default :attr:`direct_policy`). Before anything is read from Cloud Storage the
        ticket must name the configured bucket and a generated object name under the
        policy's prefix (else 400), the upload must be one this app handed out and nobody
        finalized yet (else 409), for this purpose (else 403). Then: 404
        (:class:`UploadNotFound`) when nothing was uploaded yet (finalize may be called
        again), 413/415/400 when the object breaks the policy (it is deleted). A ticket
        finalizes once: a second call gets a 409, even while the first is running.
        """
        policy = policy or self.direct_policy
        data = self._load_ticket(ticket)
        bucket_name, name = str(data.get("b")), str(data.get("o"))
        if bucket_name != self.bucket_name:
            raise BadUpload(
                f"The upload ticket names the bucket {bucket_name!r}, but this app's uploads "
                f"go to {self.bucket_name!r}: nothing was read or deleted. Send the ticket "
                "returned with the upload URL."
            )
        if not self.is_upload_name(policy, name):
            raise BadUpload(
                f"The upload ticket names the object {name!r}, which is not a name this app "
                f"generates for uploads (under {policy.prefix!r}): nothing was read or "
                "deleted. Send the ticket returned with the upload URL."
            )
        markers.claim(bucket_name, name, purpose, utcnow())
        try:
            record = finalize_object(self.bucket(), data, policy)
        except UploadRejected as error:
            if isinstance(error, UploadNotFound):
                _give_back(bucket_name, name)  # not uploaded yet: may come later
            else:
                markers.close(bucket_name, name)  # the object was deleted
            raise
        except BaseException:
            _give_back(bucket_name, name)  # Cloud Storage failed: finalize may be retried
            raise
        markers.close(bucket_name, name)
        return record

    def is_upload_name(self, policy: UploadPolicy, name: str) -> bool:
        """Whether ``name`` is one :attr:`object_namer` could have made under ``policy``.

        With the default namer: the prefix and 32 hex digits. With your own namer, the
        prefix and a non-empty rest without ``..``; override this to be exact.
        """
        if not name.startswith(policy.prefix):
            return False
        rest = name[len(policy.prefix) :]
        if self.object_namer is uuid_name:
            return _UUID_NAME.fullmatch(rest) is not None
        return bool(rest) and ".." not in rest.split("/")

    def _serializer(self) -> t.Any:
        return ticket_serializer(
            self.config("SECRET_KEY"), self.config("SECRET_KEY_FALLBACKS") or ()
        )

    def _load_ticket(self, ticket: str) -> dict[str, t.Any]:
        from itsdangerous import BadData, SignatureExpired

        max_age = self.ticket_max_age
        try:
            data = self._serializer().loads(ticket, max_age=max_age)
        except SignatureExpired as error:
            raise BadUpload(
                f"The upload ticket expired (tickets last {max_age} seconds); start the "
                "upload again."
            ) from error
        except BadData as error:
            raise BadUpload(
                "The upload ticket is not one this app issued (or it was altered); send the "
                "ticket returned with the upload URL unchanged."
            ) from error
        if not isinstance(data, dict):
            raise BadUpload("The upload ticket holds no upload; send the ticket unchanged.")
        return data


def _give_back(bucket: str, name: str) -> None:
    """Release a claim without hiding the error being raised; if Datastore fails too, the
    record stays claimed and the clean-up deletes the upload once it expires."""
    try:
        markers.release(bucket, name)
    except Exception:
        logger.warning("Could not release the claim on gs://%s/%s", bucket, name, exc_info=True)


def finalize_object(
    bucket: t.Any, ticket: t.Mapping[str, t.Any], app_policy: UploadPolicy
) -> StoredFile:
    """Check the object a ticket names; its record, or a 4xx after deleting it.

    The limits are the app's policy, narrowed (never widened) by what the ticket says
    the upload was signed for (an exact size, say).
    """
    name, declared = str(ticket.get("o")), normalize_type(str(ticket.get("t")))
    filename = sanitize_filename(str(ticket.get("f") or ""))
    try:
        signed_size = int(ticket["m"])
    except (KeyError, TypeError, ValueError):
        signed_size = app_policy.max_file_size
    policy = app_policy.replace(
        max_file_size=max(1, min(signed_size, app_policy.max_file_size)),
        max_request_size=None,
        allow_empty=app_policy.allow_empty and bool(ticket.get("e")),
    )
    blob = bucket.get_blob(name)
    if blob is None:
        raise UploadNotFound(
            f"Nothing has been uploaded for {filename!r} yet (object {name!r}). Finish the "
            "upload to the URL you were given, then finalize it."
        )
    # Every later request is pinned to this generation: checks, metadata and any
    # deletion all apply to the object that was looked at, never to a newer one.
    generation = blob.generation
    checksum = blob.crc32c if policy.checksum == "crc32c" else blob.md5_hash
    try:
        content_type = _check(blob, policy, declared, filename)
    except UploadRejected:
        # The object breaks the policy the URL was signed for: it must not stay.
        delete_quietly(blob, generation)
        raise
    metadata = dict(blob.metadata or {})
    if metadata.get(FILENAME_METADATA) != filename:
        metadata[FILENAME_METADATA] = filename
        blob.metadata = metadata
        blob.patch(if_generation_match=generation)
    return StoredFile(
        bucket=bucket.name,
        name=name,
        size=int(blob.size),
        content_type=content_type,
        checksum_algorithm=policy.checksum,
        checksum=checksum or "",
        original_filename=filename,
        generation=generation,
    )


def _check(blob: t.Any, policy: UploadPolicy, declared: str, filename: str) -> str:
    policy.check_declared(filename, declared)
    size = int(blob.size or 0)
    if size > policy.max_file_size:
        raise FileTooLarge(
            f"The uploaded file {filename!r} is {describe_size(size)}, over the limit of "
            f"{describe_size(policy.max_file_size)}; it was deleted. Upload a smaller file."
        )
    if size == 0 and not policy.allow_empty:
        raise BadUpload(f"The uploaded file {filename!r} is empty; it was deleted.")
    stored = normalize_type(blob.content_type)
    if stored != declared:
        raise FileTypeRejected(
            f"The uploaded file {filename!r} was stored as {stored!r}, but the upload was "
            f"allowed for {declared!r} only; it was deleted. Upload it with that type."
        )
    head = b""
    if size:
        # A separate handle: a download rewrites the properties of the blob it uses.
        reader = blob.bucket.blob(blob.name)
        head = reader.download_as_bytes(
            start=0,
            end=min(size, SNIFF_BYTES) - 1,
            checksum=None,
            if_generation_match=blob.generation,
        )
    try:
        return policy.check_content(filename, declared, head)
    except FileTypeRejected as error:
        raise FileTypeRejected(f"{error.description} The uploaded file was deleted.") from error
