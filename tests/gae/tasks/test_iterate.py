"""iterate(): a query of any size in chained batch tasks, each entity seen once."""

from __future__ import annotations

import typing as t

import pytest
from google.cloud import ndb

from gae.emulators.tasks_testing import TaskQueues
from gae.tasks import TaskError, get_iteration, iterate

from . import jobs


@pytest.fixture
def clean_records() -> t.Iterator[None]:
    jobs.SEEN.clear()
    jobs.FAIL_ONCE.clear()
    jobs.FINALISED.clear()
    yield
    jobs.FAIL_ONCE.clear()


def test_ten_thousand_entities_in_batches_of_500_each_seen_once(
    ctx: t.Any, cloud_tasks: TaskQueues, clean_records: None
) -> None:
    total = 10_000
    for start in range(0, total, 500):
        ndb.put_multi([jobs.Item(id=n + 1, n=n) for n in range(start, start + 500)])
    # One entity in the middle of batch 7 fails once: the batch is retried from it.
    jobs.FAIL_ONCE.add(3_210)
    run_id = iterate(jobs.Item.query(), jobs.visit, batch_size=500, then=jobs.finished)
    runs = cloud_tasks.run_all()
    failed = [run for run in runs if run.status != 200]
    assert len(failed) == 1 and failed[0].function == "gae.tasks.iterate:run_batch"
    assert sorted(jobs.SEEN) == list(range(total))
    assert set(jobs.SEEN.values()) == {1}  # every entity exactly once
    run = get_iteration(run_id)
    assert (run.status, run.entities_seen, run.errors) == ("done", total, 1)
    assert "item 3210 fails once" in run.last_error
    assert [(run_id, run.batches_done, total)] == jobs.FINALISED  # finaliser once
    assert run.batches_done == total // 500  # the retried batch counts once


def test_a_batch_delivered_twice_is_counted_once(
    ctx: t.Any, cloud_tasks: TaskQueues, clean_records: None
) -> None:
    from gae.tasks.iterate import run_batch

    ndb.put_multi([jobs.Item(id=n + 1, n=n) for n in range(30)])
    run_id = iterate(jobs.Item.query().order(jobs.Item.n), jobs.visit, batch_size=10)
    cloud_tasks.run_all()
    run_batch(run_id, 0)  # a late duplicate delivery of the first batch
    assert cloud_tasks.run_all() == []  # its successor's name is taken: nothing new
    assert set(jobs.SEEN.values()) == {1} and len(jobs.SEEN) == 30
    assert get_iteration(run_id).entities_seen == 30


def test_filters_and_orders_are_carried_to_every_batch(
    ctx: t.Any, cloud_tasks: TaskQueues, clean_records: None
) -> None:
    ndb.put_multi([jobs.Item(id=n + 1, n=n) for n in range(50)])
    query = jobs.Item.query(jobs.Item.n >= 10, jobs.Item.n < 40).order(-jobs.Item.n)
    run_id = iterate(query, jobs.visit, batch_size=7)
    cloud_tasks.run_all()
    assert sorted(jobs.SEEN) == list(range(10, 40))
    assert get_iteration(run_id).batches_done == 5  # 30 entities / 7 per batch


def test_queries_without_cursors_are_refused(ctx: t.Any, cloud_tasks: TaskQueues) -> None:
    with pytest.raises(TaskError, match="cursors"):
        iterate(jobs.Item.query(jobs.Item.n.IN([1, 2])), jobs.visit)
    with pytest.raises(TaskError, match="batch_size"):
        iterate(jobs.Item.query(), jobs.visit, batch_size=0)
    assert cloud_tasks.list() == []
