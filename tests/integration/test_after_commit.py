"""The one after-commit mechanism (webapp.jobs): SMS jobs and the search drain are queued by the
same session hook, only once the transaction committed, never after a rollback; saved-search
alerts run after a drain because they subscribe to ``documents_indexed``."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.conftest import REDIS_URL
from webapp import jobs
from webapp.jobs import QUEUE_NAME


def test_sms_and_indexing_are_queued_by_one_hook_only_after_commit(app, session, make_report, redis_conn,
                                                                    monkeypatch):
    from rq import Queue

    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "JOBS_SYNC", False)
    queue = Queue(QUEUE_NAME, connection=redis_conn)

    make_report(title="Phản ánh bị hủy")  # writes an outbox row: a drain is due after commit
    jobs.after_commit("webapp.sms:send_sms", "0912345678", "Ma tra cuu")
    session.rollback()
    assert queue.count == 0  # a rollback drops both

    make_report(title="Phản ánh được lưu")
    make_report(title="Phản ánh thứ hai")  # same transaction: still one drain
    jobs.after_commit("webapp.sms:send_sms", "0912345678", "Ma tra cuu")
    assert queue.count == 0  # nothing before the commit
    session.commit()
    assert sorted(job.func_name for job in queue.jobs) == ["webapp.worker.drain_job", "webapp.worker.run_job"]


def test_a_drain_sends_the_alerts_that_are_due(app, session, search, make_report, clock):
    from webapp.auth.models import User
    from webapp.opendata.models import SavedSearch
    from webapp.search.indexing import drain_and_notify

    app.config["MAIL_BACKEND"] = "file"
    mail_file = Path(app.config["MAIL_FILE_PATH"])
    mail_file.unlink(missing_ok=True)
    user = User(phone="0900000001", full_name="Nguyễn An", status="active")
    session.add(user)
    session.flush()
    session.add(SavedSearch(user_id=user.id, name="Ngập", query_string="q=ng%E1%BA%ADp", frequency="immediate",
                            email="an@example.vn", created_at=clock.now - timedelta(days=1),
                            email_confirmed_at=clock.now - timedelta(days=1)))  # confirmed by its link
    report = make_report(title="Ngập nước mới", submitted_at=clock.now - timedelta(hours=2),
                         published_at=clock.now - timedelta(hours=1))
    session.commit()

    assert drain_and_notify() == 1  # indexes the report, then the alerts receive documents_indexed
    [mail] = [json.loads(line) for line in mail_file.read_text(encoding="utf-8").splitlines()]
    assert mail["to"] == "an@example.vn" and report.code in mail["text"]
