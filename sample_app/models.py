"""Datastore models of the noticeboard (google-cloud-ndb)."""

from __future__ import annotations

import re
import typing as t
from datetime import UTC, datetime

from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

#: What a username may be. Datastore refuses key names like "__x__" (reserved) and ones over
#: 1,500 bytes: such names are never valid, so they never reach Datastore as a key.
USERNAME = re.compile(r"^(?!__.*__$)[A-Za-z0-9_.-]{3,30}$")
#: Retries of a sign-up's transaction: concurrent sign-ups of one name conflict, and each
#: loser needs one retry to see the winner's account.
SIGNUP_RETRIES = 5
#: Attachments a post page (and the API's post) lists, the oldest first.
MAX_ATTACHMENTS = 50


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


class User(ndb.Model):  # type: ignore[misc]
    """An account; the key id is the lower-cased username."""

    username = ndb.StringProperty(required=True)
    password_hash = ndb.TextProperty(required=True)
    created = ndb.DateTimeProperty(tzinfo=UTC, auto_now_add=True)

    @classmethod
    def lookup(cls, username: str) -> User | None:
        """The account called ``username`` (any case), or None; None for invalid names."""
        name = username.strip()
        if not USERNAME.match(name):
            return None
        return t.cast("User | None", cls.get_by_id(name.lower()))

    def create(self) -> bool:
        """Store this new account unless its name is taken; whether it was stored.

        Create-only, in a transaction: of concurrent sign-ups of one name exactly one
        commits, and the others see its account when Datastore retries them (nothing
        overwrites an existing account or its password).
        """

        def insert() -> bool:
            if self.key.get(use_cache=False) is not None:
                return False
            self.put()
            return True

        return bool(ndb.transaction(insert, retries=SIGNUP_RETRIES))


class Attachment(ndb.Model):  # type: ignore[misc]
    """A file stored in Cloud Storage, attached to a post (the post is its parent)."""

    bucket = ndb.TextProperty(required=True)
    object_name = ndb.StringProperty(required=True)
    filename = ndb.TextProperty()
    content_type = ndb.TextProperty()
    size = ndb.IntegerProperty(indexed=False)
    checksum = ndb.TextProperty()
    created = ndb.DateTimeProperty(tzinfo=UTC, auto_now_add=True)
    #: Set by the scan task (sample_app.jobs) after the upload: "ok" or what is wrong.
    scan = ndb.TextProperty()
    sha256 = ndb.TextProperty()


class Post(ndb.Model):  # type: ignore[misc]
    """A notice: title and text by one user."""

    author = ndb.KeyProperty(kind=User, required=True)
    author_name = ndb.TextProperty()
    title = ndb.TextProperty(required=True)
    text = ndb.TextProperty(required=True)
    created = ndb.DateTimeProperty(tzinfo=UTC, auto_now_add=True)
    updated = ndb.DateTimeProperty(tzinfo=UTC, auto_now=True, indexed=False)

    def attachments(self) -> list[Attachment]:
        """The post's attachments, oldest first (at most :data:`MAX_ATTACHMENTS`)."""
        return t.cast(
            "list[Attachment]",
            Attachment.query(ancestor=self.key).order(Attachment.created).fetch(MAX_ATTACHMENTS),
        )

    @classmethod
    def with_attachments(cls, post_id: int) -> tuple[Post, list[Attachment]] | None:
        """The post with id ``post_id`` and its attachments (as :meth:`attachments`), or
        None, in one Datastore call instead of two.

        An ancestor query without a kind returns the post itself and every entity under
        it: attachments (anything else stored under a post must be a model this app
        imports, or ndb cannot read it). Each Datastore call costs the instance 1-2 ms of
        CPU in ndb, gRPC and protobuf, more than the rest of a page. A post with more
        under it than a page lists falls back to the ordered query, so the page shows
        exactly the same attachments.
        """
        key = ndb.Key(cls, post_id)
        entities = ndb.Query(ancestor=key).fetch(MAX_ATTACHMENTS + 2)
        post = next((e for e in entities if e.key == key), None)
        if not isinstance(post, cls):
            return None
        if len(entities) > MAX_ATTACHMENTS + 1:
            return post, post.attachments()
        attachments = [e for e in entities if isinstance(e, Attachment)]
        attachments.sort(key=_attachment_order)
        return post, attachments

    def to_dict_public(self) -> dict[str, t.Any]:
        return {
            "id": self.key.id(),
            "title": self.title,
            "text": self.text,
            "author": self.author_name,
            "created": self.created.isoformat() if self.created else None,
        }


def _attachment_order(attachment: Attachment) -> tuple[datetime, int]:
    # Attachment.query(...).order(Attachment.created): by creation, then by key.
    return attachment.created or datetime.min.replace(tzinfo=UTC), attachment.key.id() or 0


class LoginAttempts(ndb.Model):  # type: ignore[misc]
    """Login attempts counted in one window, for one (username, client) pair or for one
    client (see :mod:`sample_app.limits`); the key name is a digest, never the name or
    address itself. ``expires`` (indexed) is when the record may be deleted."""

    count = ndb.IntegerProperty(default=0, indexed=False)
    window_start = ndb.DateTimeProperty(tzinfo=UTC, indexed=False)
    expires = ndb.DateTimeProperty(tzinfo=UTC)
