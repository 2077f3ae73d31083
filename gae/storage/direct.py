"""Uploads that go from the browser straight to the bucket, and their finalize step.

Part of :mod:`gae.storage` (these are methods of :class:`gae.storage.Storage`). App Engine
caps request bodies at 32 MiB, so larger files bypass the app: it hands the browser a V4
signed ``PUT`` URL, a signed POST policy for a plain HTML form, or a resumable session URI,
each allowing one new object with a generated name, a fixed content type and a size
limit, plus a *ticket* (signed with ``SECRET_KEY``) naming that object and the policy.
When the browser reports the upload done, :meth:`DirectUploads.finalize` looks at what
Cloud Storage holds, applies the same checks as uploads through the app (size, declared
type, first bytes), and either records the object or deletes it.
"""

from __future__ import annotations

import datetime
import typing as t

from .client import StorageCore, utcnow
from .objects import FILENAME_METADATA, delete_quietly, filename_metadata
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
        policy: UploadPolicy | None = None,
        expires: datetime.timedelta | int | None = None,
    ) -> DirectUpload:
        """A V4 signed ``PUT`` URL for one new object (send ``headers`` exactly as given).

        Signed conditions: the content type, the size (exactly ``size``, else up to the
        policy's limit: ``x-goog-content-length-range``) and create-only
        (``x-goog-if-generation-match: 0``).
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
        policy: UploadPolicy | None = None,
        expires: datetime.timedelta | int | None = None,
    ) -> DirectUpload:
        """A V4 signed POST policy for a plain HTML form (``<input type=file name=file>``).

        The form posts ``fields`` then the file to ``url``; the policy fixes the object
        name and content type and limits the size. Cloud Storage answers 201.
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
        origin: str | None = None,
        policy: UploadPolicy | None = None,
    ) -> DirectUpload:
        """A resumable upload session URI for one new object of exactly ``size`` bytes.

        The app opens the session with its own credentials (no signing needed); the
        browser ``PUT``s the file (in pieces with ``Content-Range`` if it likes) to
        ``url``. Cloud Storage enforces the size, the type and create-only; ``origin``
        (e.g. ``request.origin``) is the page allowed to upload, for CORS. A session
        lasts up to a week.
        """
        policy, declared, blob, ticket = self._prepare(filename, content_type, size, policy)
        blob.metadata = filename_metadata(sanitize_filename(filename))
        url = blob.create_resumable_upload_session(
            content_type=declared, size=size, origin=origin, if_generation_match=0
        )
        return DirectUpload(
            method="PUT",
            url=url,
            headers={},
            fields={},
            bucket=blob.bucket.name,
            object_name=blob.name,
            expires_at=utcnow() + datetime.timedelta(days=7),
            ticket=ticket,
        )

    def finalize(self, ticket: str) -> StoredFile:
        """Check a direct upload against its policy and record it; delete it if it fails.

        ``ticket`` comes from the :class:`DirectUpload`. Raises :class:`UploadNotFound`
        (404) when nothing was uploaded yet, :class:`BadUpload` for a bad ticket, and
        413/415/400 when the object breaks the policy (then the object is deleted).
        Calling it again for the same ticket returns the same record.
        """
        data = self._load_ticket(ticket)
        return finalize_object(self.client.bucket(data["b"]), data)

    def _serializer(self) -> t.Any:
        return ticket_serializer(
            self.config("SECRET_KEY"), self.config("SECRET_KEY_FALLBACKS") or ()
        )

    def _load_ticket(self, ticket: str) -> dict[str, t.Any]:
        from itsdangerous import BadData, SignatureExpired

        max_age = int(self.config("GCS_UPLOAD_TICKET_MAX_AGE", 86400))
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
        return t.cast(dict[str, t.Any], data)


def finalize_object(bucket: t.Any, ticket: t.Mapping[str, t.Any]) -> StoredFile:
    """Check the object a ticket names; its record, or a 4xx after deleting it."""
    name, declared, filename = ticket["o"], ticket["t"], ticket["f"]
    allowed = ticket["a"]
    policy = UploadPolicy(
        max_file_size=ticket["m"],
        max_request_size=None,
        allowed_types=frozenset(allowed) if allowed is not None else None,
        allow_empty=ticket["e"],
        checksum=ticket["c"],
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
    if metadata.get(FILENAME_METADATA) != filename_metadata(filename)[FILENAME_METADATA]:
        metadata.update(filename_metadata(filename))
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
