"""Emulators stopped in the middle of a load run on the production command line.

* Datastore down: requests that need it get a clear 503 quickly (never a 500, never a
  hang), ``/healthz`` and static files keep answering 200 to logged-in browsers, the app
  recovers by itself once the emulator is back, and every acknowledged post, attachment
  and session is still there.
* Cloud Storage down: uploads fail with a clear 503 within the retry bound, everything
  else keeps working, no attachment record exists without its object (nor an object
  without its record), and uploads work again once the emulator is back.

Both emulators keep their data on disk here, as production Datastore and Cloud Storage
keep theirs: an in-memory emulator would lose everything on restart. The app reaches
Datastore through a link the test cuts before it stops the emulator (``link.py``): the
emulator saves its data only as it exits, and that save fails if a write arrives
meanwhile, which a load run makes likely (it lost a run's posts and sessions once in CI).
"""

from __future__ import annotations

import json
import time
import typing as t

import pytest

from .server import Stack, bucket_objects, get
from .users import Load, Sample, VirtualUser

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.emulator]

#: No request may take longer than this, whatever fails. ndb retries an app's Datastore
#: call 3 times with up to 1 + 2 + 4 + 8 s of jittered back-off: a request caught by
#: the fault after its session was read can take up to ~15 s before its 503.
HANG_BOUND = 20.0
#: Requests that start while Datastore is down fail on the session read (one retry).
OUTAGE_503_BOUND = 10.0
#: The storage client retries one call for GCS_RETRY_SECONDS (10 s by default).
STORAGE_503_BOUND = 15.0
RECOVERY_BOUND = 30.0
DATASTORE_KINDS = {"page", "post-page", "create", "upload", "api"}


def wait_until(condition: t.Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"Timed out after {seconds:.0f} s waiting for {what}"
        time.sleep(0.1)


def started(load: Load, posts: int) -> None:
    """Wait until every user is signed up and ``posts`` posts were acknowledged."""
    wait_until(
        lambda: (
            all(u.csrf for u in load.all_users)
            and sum(len(u.acknowledged.posts) for u in load.users) >= posts
        ),
        60,
        f"sign-ups and {posts} acknowledged posts",
    )


def between(samples: list[Sample], start: float, end: float) -> list[Sample]:
    """Samples that started and ended within ``[start, end]``."""
    return [s for s in samples if s.started >= start and s.ended <= end]


def check_acknowledged(
    stack: Stack, users: list[VirtualUser], *, strict: bool
) -> tuple[int, int, int]:
    """Every acknowledged post and attachment is readable through the API, and every
    attachment listed downloads the bytes that were uploaded (its object exists).

    ``strict``: a post has an attachment exactly when its upload was acknowledged. Without
    it, an upload answered 503 may still have been stored, complete (its record and object
    were written; a later step such as the session write failed). Returns ``(posts,
    attachments, stored though unacknowledged)``.
    """
    posts = attachments = unacknowledged = 0
    for user in users:
        sent = user.acknowledged.uploads_sent
        for post_id, title in list(user.acknowledged.posts.items()):
            status, body = get(stack.port, f"/api/posts/{post_id}")
            assert status == 200, (post_id, body[:300])
            post = json.loads(body)
            assert post["title"] == title
            acknowledged = post_id in user.acknowledged.attachments
            listed = len(post["attachments"])
            if strict or acknowledged:
                assert listed == acknowledged, (post_id, post)
            else:
                assert listed <= 1, (post_id, post)
                unacknowledged += listed
            for attachment in post["attachments"]:
                status, content = get(stack.port, attachment["download"])
                assert (status, content) == (200, sent.get(post_id)), (post_id, attachment)
            posts += 1
            attachments += listed
    return posts, attachments, unacknowledged


def test_datastore_outage_gives_503s_keeps_the_rest_and_loses_nothing(
    persistent_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = persistent_stack
    load = Load(stack.port, users=6, bystanders=1, max_requests=100_000)
    load.start()
    try:
        started(load, posts=12)
        assert stack.datastore_link is not None
        stopped = time.monotonic()
        # Gone for the app at once; the emulator stops once writes already inside it are
        # done, since it saves its data only as it exits and that fails under a write.
        stack.datastore_link.cut()
        time.sleep(1.0)
        stack.datastore.stop()
        assert stack.datastore.saved, f"The emulator lost its data: {stack.datastore.log_path}"
        time.sleep(9.0)
        restarting = time.monotonic()
        stack.datastore.start()  # same port, same data folder
        stack.datastore_link.restore()
        restarted = time.monotonic()

        def recovered() -> bool:
            # Answering for a second on end: just after it first answers, the restarted
            # emulator has been seen to refuse a request (one 503 among the load's).
            until = time.monotonic() + 1.0
            while time.monotonic() < until:
                if get(stack.port, "/api/posts")[0] != 200:
                    return False
                time.sleep(0.1)
            return True

        wait_until(recovered, RECOVERY_BOUND, "the app to read Datastore again")
        recovered_at = time.monotonic()
        time.sleep(4.0)  # load on the recovered app
    finally:
        load.stop()
        load.join()
    samples = load.recorder.snapshot()

    # Never a 500, never a dropped connection or a client timeout; 503 only for requests
    # that need Datastore.
    unexpected = [
        s for s in samples if not s.ok and not (s.status == 503 and s.kind in DATASTORE_KINDS)
    ]
    assert not unexpected, unexpected[:5]
    slowest = max(s.seconds for s in samples)
    assert slowest < HANG_BOUND
    assert all(s.ok for s in samples if s.ended < stopped)

    failed = [s for s in samples if s.status == 503]
    assert all("Datastore" in s.detail for s in failed), {s.detail for s in failed}
    # While it is down: everything that needs Datastore gets its 503 quickly...
    outage = [s for s in between(samples, stopped + 1.0, restarting) if s.kind in DATASTORE_KINDS]
    # (Few: users caught by the fault mid-request spend up to ~15 s in ndb's retries.)
    assert len(outage) >= 3
    assert all(s.status == 503 for s in outage), [s for s in outage if s.status != 503][:5]
    outage_503_max = max(s.seconds for s in outage)
    assert outage_503_max < OUTAGE_503_BOUND
    # ...and a logged-in browser still gets /healthz and static files.
    watched = [s for s in between(samples, stopped, restarting) if s.kind in {"health", "static"}]
    assert len(watched) >= 20
    assert all(s.status == 200 for s in watched)

    # Recovered by itself: everything started after the first success works.
    after = [s for s in samples if s.started >= recovered_at]
    assert all(s.ok for s in after), [s for s in after if not s.ok][:5]
    assert any(s.kind == "create" for s in after)

    # Nothing acknowledged was lost: posts, attachments, and each user's session.
    acknowledged_before = sum(1 for s in samples if s.kind == "create" and s.ended < stopped)
    posts, attachments, unacknowledged = check_acknowledged(stack, load.users, strict=False)
    # Objects nothing refers to may remain (uploads whose record write failed keep their
    # object: the record may have been committed anyway); never the reverse.
    unreferenced = len(bucket_objects(stack)) - attachments
    assert unreferenced >= 0
    for user in load.all_users:
        status, body = get(stack.port, "/api/session", cookie=user.cookie)
        assert status == 200
        assert json.loads(body)["user"] == user.name

    with capsys.disabled():
        print(
            f"\nDatastore outage: {len(failed)} x 503 (max {max(s.seconds for s in failed):.2f} s;"
            f" {outage_503_max:.2f} s for requests started while it was down), slowest request "
            f"{slowest:.2f} s, {len(watched)} health/static requests all 200; emulator back in "
            f"{restarted - restarting:.1f} s, app recovered {recovered_at - restarted:.1f} s "
            f"later; {acknowledged_before} posts acknowledged before the fault, {posts} posts, "
            f"{attachments} attachments and {len(load.all_users)} sessions checked after "
            f"({unacknowledged} uploads answered 503 were stored complete; {unreferenced} "
            "objects without a record)."
        )


def test_storage_outage_fails_uploads_clearly_leaves_no_orphans_and_recovers(
    persistent_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = persistent_stack
    load = Load(stack.port, users=6, max_requests=100_000)
    load.start()
    try:
        started(load, posts=12)
        stopped = time.monotonic()
        stack.storage.stop()
        # Longer than the client's retry window, so uploads started early in it give up.
        time.sleep(15.0)
        restarting = time.monotonic()
        stack.storage.start()  # same port, same data folder; the bucket is still there
        restarted = time.monotonic()

        def uploaded() -> bool:
            snapshot = load.recorder.snapshot()
            return any(s.kind == "upload" and s.ok and s.started > restarted for s in snapshot)

        wait_until(uploaded, RECOVERY_BOUND, "an upload to succeed again")
        recovered_at = time.monotonic()
        time.sleep(3.0)
    finally:
        load.stop()
        load.join()
    samples = load.recorder.snapshot()

    # Only uploads fail, with a 503 that says what happened, within the retry bound.
    unexpected = [s for s in samples if not s.ok and not (s.status == 503 and s.kind == "upload")]
    assert not unexpected, unexpected[:5]
    failed = [s for s in samples if s.status == 503]
    assert len(failed) >= 3
    assert all("Cloud Storage" in s.detail for s in failed), {s.detail for s in failed}
    upload_503_max = max(s.seconds for s in failed)
    assert upload_503_max < STORAGE_503_BOUND
    slowest = max(s.seconds for s in samples)
    assert slowest < HANG_BOUND
    # Pages, posts and the API kept working during the outage.
    others = [s for s in between(samples, stopped, restarting) if s.kind != "upload"]
    assert len(others) >= 10
    assert all(s.ok for s in others)
    # Recovered at once: every upload started after the restart worked.
    assert all(s.ok for s in samples if s.started >= restarted)

    # No orphans: each post has an attachment exactly when its upload was acknowledged,
    # each attachment's object downloads, and the bucket holds nothing else.
    posts, attachments, _ = check_acknowledged(stack, load.users, strict=True)
    assert len(bucket_objects(stack)) == attachments

    with capsys.disabled():
        print(
            f"\nCloud Storage outage: {len(failed)} uploads answered 503 (max "
            f"{upload_503_max:.2f} s), slowest request {slowest:.2f} s; emulator back in "
            f"{restarted - restarting:.1f} s, first upload succeeded "
            f"{recovered_at - restarted:.1f} s later; {posts} posts, {attachments} "
            f"attachments = {attachments} objects, no orphans."
        )
