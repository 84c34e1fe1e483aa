"""Indexer jobs: drain the outbox, rebuild, reconcile. Plain functions; they need an app context.

Jobs are idempotent: they reload the current rows by id and write documents versioned by the
row's revision, so running one twice, or two out of order, leaves the index as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from indexer.documents import build_document, build_staff_document
from indexer.engine import EngineUnavailable, SearchEngine
from webapp.db import utcnow
from webapp.extensions import db
from webapp.reports.models import Answer, Report
from webapp.search.models import OutboxEntry

log = logging.getLogger("indexer.jobs")
LOAD_OPTIONS = (selectinload(Report.field), selectinload(Report.ward), selectinload(Report.province),
                selectinload(Report.answers).selectinload(Answer.unit), selectinload(Report.assignments))


def get_engine(scope: str = "public") -> SearchEngine:
    """The app's search engine for ``scope`` ("public" or "staff"; one each per app)."""
    key = "pakn_search" if scope == "public" else f"pakn_search_{scope}"
    engine = current_app.extensions.get(key)
    if engine is None:
        from indexer.engine import engine_from_config

        engine = engine_from_config(current_app.config, scope)
        current_app.extensions[key] = engine
    return engine


def _builder(scope: str) -> Callable[[Report], dict[str, Any] | None]:
    return build_staff_document if scope == "staff" else build_document


def _in_scope(scope: str) -> Any:
    """The reports whose documents belong in ``scope``'s index (a WHERE clause)."""
    return Report.id.is_not(None) if scope == "staff" else Report.published.is_(True)


def index_reports(ids: Iterable[int], engine: SearchEngine,
                  gone: dict[int, int] | None = None, scope: str = "public") -> tuple[int, int]:
    """Bring the documents of reports ``ids`` in line with the database; returns (written, removed).

    ``gone`` gives, for reports deleted from the database, the last revision the outbox saw.
    """
    return _write(engine, *_plan(ids, scope, gone))


def _plan(ids: Iterable[int], scope: str, gone: dict[int, int] | None
          ) -> tuple[list[dict[str, Any]], list[tuple[int, int]]]:
    """The documents to write and the (id, revision) to remove for reports ``ids`` (reads only)."""
    build = _builder(scope)
    ids = sorted(set(ids))
    reports = {r.id: r for r in db.session.scalars(
        select(Report).where(Report.id.in_(ids)).options(*LOAD_OPTIONS))} if ids else {}
    docs, removals = [], []
    for report_id in ids:
        report = reports.get(report_id)
        if report is None:
            # Deleted: a revision past any the index can hold, so the deletion always wins.
            removals.append((report_id, (gone or {}).get(report_id, 0) + 1))
            continue
        doc = build(report)
        if doc is None:
            removals.append((report.id, report.revision))
        else:
            docs.append(doc)
    return docs, removals


def _write(engine: SearchEngine, docs: list[dict[str, Any]], removals: list[tuple[int, int]]) -> tuple[int, int]:
    written = engine.bulk_upsert(docs) if docs else 0
    removed = engine.delete(removals) if removals else 0
    return written, removed


def drain_outbox(batch_size: int = 500, engine: SearchEngine | None = None,
                 staff_engine: SearchEngine | None = None) -> int:
    """Process every pending outbox entry in batches (both indices); returns how many were processed.

    On an engine failure the batch stays pending (with its attempt count and error recorded)
    and ``EngineUnavailable`` is raised, so that a queue can retry and the sweep repairs later.
    Writing is idempotent, so the index that did succeed is simply written again.
    """
    engine = engine or get_engine()
    staff_engine = staff_engine or get_engine("staff")
    processed = 0
    while True:
        query = (select(OutboxEntry).where(OutboxEntry.processed_at.is_(None))
                 .order_by(OutboxEntry.id).limit(batch_size))
        if db.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)  # workers share the backlog
        entries = db.session.scalars(query).all()
        if not entries:
            db.session.commit()
            return processed
        gone = {}
        for e in entries:
            if e.op == "delete":
                gone[e.entity_id] = max(gone.get(e.entity_id, 0), e.revision)
        ids = [e.entity_id for e in entries if e.entity == "report"]
        entry_ids = [e.id for e in entries]
        writes = [(engine, *_plan(ids, "public", gone)), (staff_engine, *_plan(ids, "staff", gone))]
        if db.session.get_bind().dialect.name == "sqlite":
            # SQLite has one write lock and this transaction holds it (IMMEDIATE outside a request):
            # end it before calling the engine, or every send waits for the engine's answers (and
            # fails with "database is locked" when they take longer than the busy timeout).
            # PostgreSQL keeps its transaction: its row locks on these entries are what lets
            # workers share the backlog (skip_locked), and they block no one else.
            db.session.commit()
        try:
            for target, docs, removals in writes:
                _write(target, docs, removals)
        except EngineUnavailable as exc:
            db.session.rollback()
            db.session.execute(update(OutboxEntry).where(OutboxEntry.id.in_(entry_ids)).values(
                attempts=OutboxEntry.attempts + 1, last_error=str(exc)[:500]))
            db.session.commit()
            raise
        db.session.execute(update(OutboxEntry).where(OutboxEntry.id.in_(entry_ids)).values(processed_at=utcnow()))
        db.session.commit()
        processed += len(entries)


def drain_job() -> int:
    """RQ entry point: drain the outbox inside an app context (the worker's, or a new one)."""
    if has_app_context():
        return drain_and_alert()
    from webapp import create_app

    with create_app().app_context():
        return drain_and_alert()


def drain_and_alert() -> int:
    """Drain the outbox, then mail the saved-search alerts that are due (newly indexed reports
    are what alerts look for, so they run right after; an alert failure never fails the drain)."""
    from webapp.opendata.alerts import tick

    done = drain_outbox()
    tick()
    return done


def public_documents(batch: int = 1000, scope: str = "public") -> Iterator[dict[str, Any]]:
    """Every document of ``scope``, built from the database in id order with bounded memory."""
    build = _builder(scope)
    last_id = 0
    while True:
        reports = db.session.scalars(
            select(Report).where(_in_scope(scope), Report.id > last_id)
            .order_by(Report.id).limit(batch).options(*LOAD_OPTIONS)).all()
        if not reports:
            return
        for report in reports:
            doc = build(report)
            if doc is not None:
                yield doc
        last_id = reports[-1].id
        db.session.expunge_all()  # keep memory flat however many reports there are


def public_count(scope: str = "public") -> int:
    return db.session.scalar(select(func.count()).select_from(Report).where(_in_scope(scope))) or 0


def rebuild(engine: SearchEngine | None = None, progress: Callable[[int], None] | None = None,
            scope: str = "public") -> int:
    """Fill a new index from the database and swap it in; then repair what changed meanwhile."""
    engine = engine or get_engine(scope)
    count = engine.rebuild(public_documents(scope=scope), progress=progress)
    reconcile(engine, scope=scope)  # writes that went to the old index during the rebuild
    return count


@dataclass
class ReconcileReport:
    missing: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    orphaned: list[int] = field(default_factory=list)
    newer_in_index: list[int] = field(default_factory=list)

    @property
    def fixed(self) -> int:
        return len(self.missing) + len(self.stale) + len(self.orphaned)


def reconcile(engine: SearchEngine | None = None, scope: str = "public") -> ReconcileReport:
    """Compare (id, revision) between the database and the index and repair the differences."""
    engine = engine or get_engine(scope)
    in_db = dict(db.session.execute(select(Report.id, Report.revision).where(_in_scope(scope))).all())
    # No transaction stays open while the engine works (on SQLite it would hold the one write
    # lock, and every send would wait for the whole scan): read, end it, then call the engine.
    db.session.commit()
    in_index = dict(engine.revisions())
    report = ReconcileReport()
    for report_id, revision in in_db.items():
        indexed = in_index.get(report_id)
        if indexed is None:
            report.missing.append(report_id)
        elif indexed < revision:
            report.stale.append(report_id)
        elif indexed > revision:
            report.newer_in_index.append(report_id)
    orphans = [i for i in in_index if i not in in_db]
    report.orphaned = sorted(orphans)
    to_write = sorted(report.missing + report.stale)
    for start in range(0, len(to_write), 500):
        docs, removals = _plan(to_write[start:start + 500], scope, None)
        db.session.commit()  # ends the read; the batch's rows are expired (their loaded state dropped)
        _write(engine, docs, removals)
    if orphans:
        unpublished = dict(db.session.execute(
            select(Report.id, Report.revision).where(Report.id.in_(orphans))).all())
        db.session.commit()
        engine.delete([(i, max(unpublished.get(i, 0), in_index[i] + 1)) for i in orphans])
    if report.newer_in_index:
        log.warning("index holds newer revisions than the database for %d reports (restored "
                    "backup?); run `flask index rebuild`", len(report.newer_in_index))
    return report


@dataclass
class Status:
    engine: dict[str, Any]
    public_reports: int
    backlog: int
    oldest_pending_seconds: float | None
    failing: int


def status(engine: SearchEngine | None = None) -> Status:
    engine = engine or get_engine()
    pending = select(OutboxEntry).where(OutboxEntry.processed_at.is_(None)).subquery()
    backlog = db.session.scalar(select(func.count()).select_from(pending)) or 0
    oldest = db.session.scalar(select(func.min(pending.c.created_at)))
    failing = db.session.scalar(select(func.count()).select_from(pending).where(pending.c.attempts > 0)) or 0
    age = None
    if oldest is not None:
        from webapp.db import UTCDateTime

        oldest = UTCDateTime().process_result_value(oldest, None) if oldest.tzinfo is None else oldest
        age = (utcnow() - oldest).total_seconds()
    return Status(engine=engine.health(), public_reports=public_count(), backlog=backlog,
                  oldest_pending_seconds=age, failing=failing)
