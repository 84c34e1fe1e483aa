"""The app's indexing runtime: drain the outbox, rebuild, reconcile, status, and starting a drain
after a commit (RQ, or the in-process runner). Plain functions; they need an app context.

Jobs are idempotent: they reload the current rows by id and write documents versioned by the
row's revision, so running one twice, or two out of order, leaves the index as it was.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from indexer.documents import build_document, build_staff_document
from indexer.engine import EngineUnavailable, SearchEngine
from webapp import jobs
from webapp.db import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.reports.models import Answer, Report
from webapp.search.engines import get_engine
from webapp.search.models import OutboxEntry
from webapp.search.signals import documents_indexed

log = logging.getLogger("webapp.search.indexing")
DRAIN_JOB = "webapp.worker.drain_job"  # the RQ entry point (it builds an app when it has none)
LOAD_OPTIONS = (selectinload(Report.field), selectinload(Report.ward), selectinload(Report.province),
                selectinload(Report.answers).selectinload(Answer.unit), selectinload(Report.assignments))


def _builder(scope: str) -> Callable[[Report], dict[str, Any] | None]:
    return build_staff_document if scope == "staff" else build_document


def _in_scope(scope: str) -> Any:
    """The reports whose documents belong in ``scope``'s index (a WHERE clause)."""
    return Report.id.is_not(None) if scope == "staff" else Report.published.is_(True)


@dataclass
class Changes:
    """What one batch changes in one index: documents to write and (id, version) to delete."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    removals: list[tuple[int, int]] = field(default_factory=list)

    def apply(self, engine: SearchEngine) -> tuple[int, int]:
        """Send them to ``engine`` (a network call: hold no database transaction while it runs)."""
        written = engine.bulk_upsert(self.docs) if self.docs else 0
        removed = engine.delete(self.removals) if self.removals else 0
        return written, removed


def build_changes(ids: Iterable[int], gone: dict[int, int] | None = None, scope: str = "public") -> Changes:
    """The documents of reports ``ids`` as the database has them now (reads only).

    ``gone`` gives, for reports deleted from the database, the last revision the outbox saw.
    """
    build = _builder(scope)
    ids = sorted(set(ids))
    reports = {r.id: r for r in db.session.scalars(
        select(Report).where(Report.id.in_(ids)).options(*LOAD_OPTIONS))} if ids else {}
    changes = Changes()
    for report_id in ids:
        report = reports.get(report_id)
        if report is None:
            # Deleted: a revision past any the index can hold, so the deletion always wins.
            changes.removals.append((report_id, (gone or {}).get(report_id, 0) + 1))
            continue
        doc = build(report)
        if doc is None:
            changes.removals.append((report.id, report.revision))
        else:
            changes.docs.append(doc)
    return changes


def index_reports(ids: Iterable[int], engine: SearchEngine,
                  gone: dict[int, int] | None = None, scope: str = "public") -> tuple[int, int]:
    """Bring the documents of reports ``ids`` in line with the database; returns (written, removed).

    The reading transaction ends before the engine is called: on SQLite a job's transaction holds
    the one write lock, and a slow engine must not make every citizen's send wait.
    """
    changes = build_changes(ids, gone, scope)
    db.session.commit()
    return changes.apply(engine)


def drain_outbox(batch_size: int = 500, engine: SearchEngine | None = None,
                 staff_engine: SearchEngine | None = None) -> int:
    """Process every pending outbox entry in batches (both indices); returns how many were processed.

    Each batch: read the entries and build both indices' documents in one short transaction, end
    it, call the engines with no transaction open, then mark the entries done in another short
    transaction. On an engine failure the batch stays pending (its attempt count and error
    recorded) and ``EngineUnavailable`` is raised, so that a queue can retry and the sweep repairs
    later. Writing is idempotent (documents carry the row's revision as external version), so an
    index that did succeed is simply written again, and two drains that read the same batch at
    once (two workers) only do the same work twice.
    """
    engine = engine or get_engine()
    staff_engine = staff_engine or get_engine("staff")
    processed = 0
    while True:
        entries = db.session.execute(
            select(OutboxEntry.id, OutboxEntry.entity, OutboxEntry.entity_id, OutboxEntry.op, OutboxEntry.revision)
            .where(OutboxEntry.processed_at.is_(None)).order_by(OutboxEntry.id).limit(batch_size)).all()
        if not entries:
            db.session.commit()
            return processed
        gone: dict[int, int] = {}
        for e in entries:
            if e.op == "delete":
                gone[e.entity_id] = max(gone.get(e.entity_id, 0), e.revision)
        ids = [e.entity_id for e in entries if e.entity == "report"]
        entry_ids = [e.id for e in entries]
        public, staff = build_changes(ids, gone), build_changes(ids, gone, scope="staff")
        db.session.commit()  # nothing is held while the engines are called
        try:
            public.apply(engine)
            staff.apply(staff_engine)
        except EngineUnavailable as exc:
            db.session.rollback()
            db.session.execute(update(OutboxEntry).where(OutboxEntry.id.in_(entry_ids)).values(
                attempts=OutboxEntry.attempts + 1, last_error=str(exc)[:500]))
            db.session.commit()
            raise
        db.session.execute(update(OutboxEntry).where(OutboxEntry.id.in_(entry_ids), OutboxEntry.processed_at.is_(None))
                           .values(processed_at=utcnow()))
        db.session.commit()
        processed += len(entries)


def drain_and_notify() -> int:
    """Drain the outbox, then send ``documents_indexed`` (saved-search alerts subscribe: newly
    indexed reports are what they look for; a receiver never fails the drain)."""
    done = drain_outbox()
    documents_indexed.send(current_app._get_current_object(), count=done)  # type: ignore[attr-defined]
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
            db.session.commit()
            return
        docs = [doc for doc in map(build, reports) if doc is not None]
        last_id = reports[-1].id
        db.session.expunge_all()  # keep memory flat however many reports there are
        db.session.commit()  # the consumer sends these to the engine: no transaction open meanwhile
        yield from docs


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
    db.session.commit()  # no transaction open while the engine answers
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
        index_reports(to_write[start:start + 500], engine, scope=scope)  # commits: the batch's rows expire
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
        oldest = UTCDateTime().process_result_value(oldest, None) if oldest.tzinfo is None else oldest
        age = (utcnow() - oldest).total_seconds()
    public_reports = public_count()
    db.session.commit()  # no transaction open while the engine answers
    return Status(engine=engine.health(), public_reports=public_reports, backlog=backlog,
                  oldest_pending_seconds=age, failing=failing)


# -- starting a drain after a commit ---------------------------------------------------------------
class InlineRunner:
    """One background thread per app that drains the outbox when kicked, and every sweep interval."""

    def __init__(self, app: Flask, interval: float) -> None:
        self.app = app
        self.interval = interval
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.stopped = False

    def start(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="pakn-indexer", daemon=True)
                self.thread.start()

    def kick(self) -> None:
        if self.stopped:
            return
        self.start()
        self.wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread after its current run (tests and orderly shutdowns)."""
        self.stopped = True
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def _loop(self) -> None:
        while not self.stopped:
            self.wake.wait(self.interval)
            self.wake.clear()
            if self.stopped:
                return
            with self.app.app_context():
                try:
                    drain_and_notify()
                except EngineUnavailable as exc:
                    log.warning("search engine unavailable, backlog kept for the next sweep: %s", exc)
                except Exception:
                    log.exception("indexer run failed; the next sweep retries")
                finally:
                    db.session.remove()


def runner(app: Flask) -> InlineRunner:
    existing = app.extensions.get("pakn_indexer")
    if existing is None:
        existing = InlineRunner(app, app.config["INDEXER_SWEEP_SECONDS"])
        app.extensions["pakn_indexer"] = existing
    return existing


def enqueue_drain(app: Flask) -> bool:
    """Queue one drain job on RQ; False (and a log line) when Redis cannot be reached.

    If Redis is down the entries simply stay in the outbox; the worker's periodic sweep (or the
    in-process runner's) picks them up later. A report is never lost because the queue was away.
    """
    try:
        jobs.queue(app).enqueue(DRAIN_JOB, retry=Retry(max=5, interval=[5, 30, 60, 300, 600]),
                                job_timeout=900, result_ttl=300, failure_ttl=86400)
        return True
    except RedisError as exc:
        log.warning("Redis unavailable, outbox entries wait for the sweep: %s", exc)
        return False


def start_drain(app: Flask) -> None:
    """Start indexing what a committed transaction wrote to the outbox (RQ, else the runner)."""
    if app.config["REDIS_URL"]:
        enqueue_drain(app)
    elif app.config["INDEXER_INLINE"]:
        runner(app).kick()


def drain_after_commit(session: Session) -> None:
    """Called when ``session``'s transaction wrote outbox rows: drain once it has committed."""
    jobs.on_commit(session, "drain-outbox", start_drain)
