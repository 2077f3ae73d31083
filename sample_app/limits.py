"""Login rate limits: counted before the password is checked, per account and client.

Every login attempt first *reserves* itself, in one transaction, in two counters:

* the (username, client) pair: :data:`PER_ACCOUNT` attempts per :data:`WINDOW`. Guessing
  at an account from one client stops there, and only that client is stopped: nobody can
  lock an account's owner out by failing logins on purpose from elsewhere;
* the client alone: :data:`PER_CLIENT` attempts per window across every username, so
  trying one password on many names (spraying) stops too.

Only an attempt that got its reservation has its password checked, so concurrent
requests cannot get more checks than the limits allow (a check-then-record limiter lets
every request in flight through). A successful login forgets its pair's attempts and
gives back its reservation of the client's.

The client is App Engine's ``X-Appengine-User-IP`` where that header can be trusted
(``request.appengine``), else the peer address; IPv6 clients count per /64, the block
one subscriber usually holds. Clients behind one address (an office, a carrier NAT) share
the client limit. Records carry an ``expires`` time and the cron URL
``/tasks/login-limits-cleanup`` deletes them afterwards (``cron.yaml``).
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import time
import typing as t
from datetime import timedelta

from google.api_core import exceptions as api_errors
from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

from framework import Blueprint, jsonify, request
from gae.headers import cron_only

from .models import LoginAttempts, utcnow

PER_ACCOUNT = 5
PER_CLIENT = 20
WINDOW = timedelta(minutes=15)
#: How long a cleanup request deletes expired records for (App Engine Cron gets 10 min).
CLEANUP_BUDGET = 20.0

bp = Blueprint("limits", __name__)


class Verdict(enum.Enum):
    """What a reservation decided."""

    ALLOWED = "allowed"
    #: The pair or the client used up its attempts for this window.
    BLOCKED = "blocked"
    #: Too many attempts of this pair or client at the same moment (contention): refused
    #: like a blocked one, the password unchecked.
    BUSY = "busy"


def client_id() -> str:
    """Who is trying, as far as the app can tell: see the module documentation."""
    info = getattr(request, "appengine", None)
    address = (info.user_ip if info is not None and info.trusted else None) or (
        request.remote_addr or ""
    )
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip)


def _key(*parts: str) -> t.Any:
    # A digest: any string the form receives makes a valid key name (Datastore refuses
    # names over 1,500 bytes and ones like "__x__"), and no address is stored in clear.
    text = "\x00".join(parts).encode("utf-8", "surrogatepass")
    return ndb.Key(LoginAttempts, hashlib.sha256(text).hexdigest())


def _keys(username: str, client: str) -> tuple[t.Any, t.Any]:
    return _key("account", username.strip().lower(), client), _key("client", client)


def _current(record: LoginAttempts | None, key: t.Any, now: t.Any) -> LoginAttempts:
    if record is None or record.window_start is None or now - record.window_start > WINDOW:
        return LoginAttempts(key=key, count=0, window_start=now, expires=now + WINDOW)
    return record


def reserve(username: str, client: str) -> Verdict:
    """Count one login attempt of ``username`` from ``client``, before its password is
    checked; whether it may go ahead."""
    keys = _keys(username, client)

    def count() -> Verdict:
        now = utcnow()
        records = ndb.get_multi(keys, use_cache=False)
        pair, whole = (_current(r, k, now) for r, k in zip(records, keys, strict=True))
        if pair.count >= PER_ACCOUNT or whole.count >= PER_CLIENT:
            return Verdict.BLOCKED
        pair.count += 1
        whole.count += 1
        ndb.put_multi([pair, whole])
        return Verdict.ALLOWED

    try:
        return t.cast(Verdict, ndb.transaction(count))
    except api_errors.RetryError as error:
        if isinstance(error.cause, api_errors.Aborted):
            return Verdict.BUSY  # still contended after ndb's retries
        raise  # Datastore unreachable: the app's 503


def succeeded(username: str, client: str) -> None:
    """After a correct password: forget the pair's attempts, give back the client's one."""
    pair_key, client_key = _keys(username, client)

    def refund() -> None:
        pair_key.delete()
        record = client_key.get(use_cache=False)
        if record is not None and record.count > 0:
            record.count -= 1
            record.put()

    ndb.transaction(refund)


def cleanup(*, batch_size: int = 500, time_budget: float = CLEANUP_BUDGET) -> tuple[int, bool]:
    """Delete expired records for at most ``time_budget`` seconds: ``(deleted, finished)``."""
    deadline = time.monotonic() + time_budget
    deleted = 0
    query = LoginAttempts.query(LoginAttempts.expires < utcnow())
    while time.monotonic() < deadline:
        keys = query.fetch(batch_size, keys_only=True)
        if not keys:
            return deleted, True
        ndb.delete_multi(keys)
        deleted += len(keys)
    return deleted, False


@bp.get("/tasks/login-limits-cleanup")
@cron_only
def cleanup_route() -> t.Any:
    """App Engine Cron's daily call (``cron.yaml``); anyone else gets 403."""
    deleted, finished = cleanup()
    return jsonify(deleted=deleted, finished=finished)
