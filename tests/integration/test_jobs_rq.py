"""Indexing through RQ on a real Redis: enqueued only after commit, run by a worker; Redis down
loses nothing (the outbox keeps the entry for the sweep)."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.conftest import REDIS_URL
from webapp.jobs import QUEUE_NAME
from webapp.reports.models import Report
from webapp.search.models import OutboxEntry


def test_commit_enqueues_and_a_worker_indexes(app, session, search, make_report, redis_conn, monkeypatch):
    from rq import Queue, SimpleWorker

    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    make_report(title="Gửi qua hàng đợi")
    assert queue.count == 0  # nothing is enqueued before the commit
    session.commit()
    assert queue.count == 1
    job = queue.jobs[0]
    assert job.retries_left == 5  # retries are configured

    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    assert search.engine.count() == 1
    pending = session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.processed_at.is_(None)))
    assert pending == 0


def test_redis_down_the_report_is_saved_and_the_sweep_indexes_it(app, session, search, make_report, monkeypatch):
    from webapp.search.indexing import drain_outbox

    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    make_report(title="Gửi khi Redis hỏng")
    session.commit()  # no exception reaches the user
    assert session.scalar(select(func.count()).select_from(Report)) == 1
    assert session.scalar(select(func.count()).select_from(OutboxEntry)
                          .where(OutboxEntry.processed_at.is_(None))) == 1
    drain_outbox()  # what the worker's periodic sweep does
    assert search.engine.count() == 1
