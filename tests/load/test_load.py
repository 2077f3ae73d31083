"""A short run of ``make load``: the production command line under a bounded mixed load.

Behaviour only (every request answered as expected, what was acknowledged is stored, the
worker's memory stays bounded); timings are printed, never asserted. ``make load`` runs the
same code for 30 s and prints the figures (``docs/load-and-faults.md``).
"""

from __future__ import annotations

import json

import pytest

from .report import describe, run
from .server import Stack, get
from .users import EXPECTED

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.emulator]

USERS = 8
#: Loose for a short run: import-time and first-use allocations still settle after warm-up.
MAX_GROWTH = 0.50


def test_mixed_load_has_no_errors_and_bounded_memory(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(stack, duration=8.0, warmup=3.0, users=USERS, max_requests=20_000)
    with capsys.disabled():
        print("\n" + describe(result, stack, USERS))

    summary = result.summary
    assert summary.errors == 0, summary.error_samples
    assert set(summary.statuses) <= set(EXPECTED.values())
    # Every part of the mix ran: pages, post pages, posts (Datastore and session writes),
    # attachments (Cloud Storage) and the API.
    assert {"page", "post-page", "create", "upload", "api"} <= set(summary.by_kind)
    assert min(summary.by_kind.values()) >= 5
    assert result.rss_growth < MAX_GROWTH

    # What the server acknowledged is there: each user's latest post, with its attachment.
    for user in result.users:
        post_id = max(user.acknowledged.posts)
        status, body = get(stack.port, f"/api/posts/{post_id}")
        assert status == 200
        post = json.loads(body)
        assert post["title"] == user.acknowledged.posts[post_id]
        if post_id in user.acknowledged.attachments:
            [attachment] = post["attachments"]
            status, content = get(stack.port, attachment["download"])
            assert (status, content) == (200, user.acknowledged.attachments[post_id])
