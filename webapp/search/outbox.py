"""Revision bumping and outbox writing, done by session hooks so that no write path can forget them.

Every transaction that creates, changes or deletes a report (or one of its timeline events,
answers or attachments) raises the report's ``revision`` by one and writes one outbox row with the
new revision, inside the same transaction, however many flushes it takes. The indexing runtime
(``webapp.search.indexing``) drains the outbox after commit, through the one after-commit job
mechanism (``webapp.jobs``), and reloads the row, so one entry per report and transaction is enough.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from webapp.db import utcnow
from webapp.reports.models import Answer, Assignment, Attachment, Report, StatusEvent
from webapp.search.indexing import drain_after_commit
from webapp.search.models import OutboxEntry

_CHILDREN = (StatusEvent, Answer, Attachment, Assignment)
_PENDING_KEY = "pakn_outbox_pending"
_BUMPED_KEY = "pakn_outbox_bumped"  # reports already bumped in the current transaction


def _parent(session: Session, obj: Any) -> Report | None:
    report = obj.report
    if report is None and obj.report_id is not None:
        report = session.get(Report, obj.report_id)
    return report


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    pending: dict[int, tuple[Report, str]] = session.info.setdefault(_PENDING_KEY, {})
    bumped: set[Report] = session.info.setdefault(_BUMPED_KEY, set())

    def bump(report: Report | None) -> None:
        if report is None or report in bumped or report in session.deleted:
            return
        bumped.add(report)
        if report in session.new:
            report.revision = report.revision or 1
        else:
            report.revision = (report.revision or 0) + 1
        pending[id(report)] = (report, "upsert")

    for obj in list(session.new):
        if isinstance(obj, Report):
            bump(obj)
        elif isinstance(obj, _CHILDREN):
            bump(_parent(session, obj))
    for obj in list(session.dirty):
        if not session.is_modified(obj, include_collections=False):
            continue
        if isinstance(obj, Report):
            bump(obj)
        elif isinstance(obj, _CHILDREN):
            bump(_parent(session, obj))
    for obj in list(session.deleted):
        if isinstance(obj, Report):
            pending[id(obj)] = (obj, "delete")
        elif isinstance(obj, _CHILDREN):
            bump(_parent(session, obj))


def _after_flush(session: Session, flush_context: Any) -> None:
    pending: dict[int, tuple[Report, str]] = session.info.pop(_PENDING_KEY, {})
    if not pending:
        return
    now = utcnow()
    rows = [{"entity": "report", "entity_id": report.id, "revision": report.revision, "op": op,
             "created_at": now, "attempts": 0}
            for report, op in pending.values() if report.id is not None]
    if rows:
        session.connection().execute(insert(OutboxEntry), rows)
        drain_after_commit(session)  # only after the commit: the rows the drain reloads exist then


def _forget(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
    session.info.pop(_BUMPED_KEY, None)


def _after_commit(session: Session) -> None:
    _forget(session)


def _after_rollback(session: Session) -> None:
    _forget(session)


def install() -> None:
    """Register the hooks once per process (idempotent)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        # Any rollback, a savepoint's included, may undo a bump: let the next change bump again.
        event.listen(Session, "after_soft_rollback", lambda s, t: _after_rollback(s))
