"""The one clock: every "now" of the app — column defaults, the outbox, expiry checks, SMS
records — reads ``webapp.clock``, so a test that sets it controls them all."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa


def test_every_now_follows_the_one_clock(app, session, clock, make_report):
    from webapp.auth import services as auth_services
    from webapp.db import utcnow
    from webapp.search.models import OutboxEntry
    from webapp.sms import send_sms

    clock.advance(hours=5)
    assert utcnow() == clock.now and auth_services.now() == clock.now

    report = make_report()  # created_at, updated_at: column defaults; the outbox row: the hook
    assert report.created_at == clock.now and report.updated_at == clock.now
    entry = session.scalars(sa.select(OutboxEntry).where(OutboxEntry.entity_id == report.id)).one()
    assert entry.created_at == clock.now

    send_sms("0912345678", "Ma xac thuc cua ban la 123456")
    lines = Path(app.config["SMS_FILE_PATH"]).read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["sent_at"] == clock.now.isoformat()
