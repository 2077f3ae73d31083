"""Who is logged in, read from the session without a Datastore call on every page.

At login the session gets the account's id (the key name) and its username, which is all
a page needs (``g.user.key`` to recognise the author, ``g.user.username`` for the menu).
Reading the account for every request cost a Datastore lookup, 1-2 ms of CPU, on every
page a logged-in user opened.

The account itself is still read, and its username refreshed in the session, when:

* the request may change something (``POST``, ``PUT``, ``PATCH``, ``DELETE``), so an
  account deleted since the login cannot post, edit or delete anything;
* the session predates this module (it holds the id only).

Usernames never change (the account's key name is the lower-cased username), so the name
in the session stays right for as long as the session lives.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

from framework import request, session

from .models import User

USER_ID = "user_id"
USERNAME = "username"
#: Methods for which the account is read from Datastore (see the module documentation).
CHECKED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user as the session knows it: what ``g.user`` holds."""

    key: t.Any  # ndb.Key of the User
    username: str


def remember(user: User) -> None:
    """Record ``user`` as logged in (after the session id was regenerated)."""
    session[USER_ID] = user.key.id()
    session[USERNAME] = user.username


def current_user() -> CurrentUser | None:
    """The logged-in user, or None (no session, or the account is gone)."""
    user_id = session.get(USER_ID)
    if not user_id:
        return None
    username = session.get(USERNAME)
    if isinstance(username, str) and username and request.method not in CHECKED_METHODS:
        return CurrentUser(ndb.Key(User, user_id), username)
    user = User.get_by_id(user_id)
    if user is None:
        return None
    if username != user.username:
        session[USERNAME] = user.username
    return CurrentUser(user.key, user.username)
