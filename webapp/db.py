"""Column types and helpers shared by the models."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import g, has_request_context, request
from sqlalchemy import DateTime, event
from sqlalchemy.types import TypeDecorator

from webapp import clock
from webapp.extensions import db


def utcnow() -> datetime:
    """The current time from the one clock, timezone-aware UTC (use as a callable column default)."""
    return clock.now()


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware (UTC), on every backend.

    SQLite keeps no offset, so values are converted to UTC and stored naive; naive values
    handed in are refused rather than guessed.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC values")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def to_local(value: datetime | None, tz_name: str) -> datetime | None:
    """Convert an aware UTC timestamp to the display time zone."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(tz_name))


# -- SQLite transactions ---------------------------------------------------------------------------
# On SQLite (the embedded default) a transaction that may write begins IMMEDIATE, taking the one
# write lock at once: a deferred one that reads and then writes fails at once ("database is
# locked", SQLITE_BUSY_SNAPSHOT, which busy_timeout does not retry) when another connection
# committed in between. But a read-only request holding the write lock from its first query to its
# end made every request of every process wait in line. So GET/HEAD/OPTIONS requests read in a
# deferred transaction (WAL: readers never wait), and a GET handler that must write calls
# ``begin_write()`` first.
_READ_METHODS = ("GET", "HEAD", "OPTIONS")
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")


def reads_only() -> bool:
    """True while serving a read-only request (its SQLite transaction may begin deferred)."""
    return has_request_context() and request.method in _READ_METHODS and not g.get("pakn_write")


def begin_write() -> None:
    """Call in a GET handler before it changes anything: the request's next transaction takes the
    write lock when it begins (the read transaction so far, with nothing to lose, is ended)."""
    if not reads_only():
        return  # not a read-only request: its transactions already begin IMMEDIATE
    g.pakn_write = True
    if db.engine.dialect.name == "sqlite":
        db.session.rollback()


def install_sqlite_transactions(engine, testing: bool) -> None:  # noqa: ANN001 - an SQLAlchemy Engine
    """BEGIN IMMEDIATE, or BEGIN (deferred) for a read-only request; in tests, a write inside a
    deferred transaction is an error (it would fail under concurrency), elsewhere a warning."""
    log = logging.getLogger("webapp.db")

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn) -> None:  # noqa: ANN001
        deferred = reads_only()
        conn.info["pakn_deferred"] = deferred
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    @event.listens_for(engine, "before_cursor_execute")
    def _no_write_when_deferred(conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if conn.info.get("pakn_deferred") and statement.lstrip()[:6].upper() in _WRITES and reads_only():
            message = "a GET request wrote without webapp.db.begin_write(): " + statement[:80]
            if testing:
                raise RuntimeError(message)
            log.warning(message)
