"""The one after-commit job mechanism (SMS, mail, indexing): side effects only once the commit succeeded.

One session hook serves every kind of job. ``after_commit(path, *args)`` records a job on the
current transaction; when it commits, the job goes to RQ (``REDIS_URL``) or, without Redis or when
Redis is down, to an in-process thread. ``on_commit(key, start)`` records a starter that is called
once per committed transaction (the search package uses it to start draining the outbox with its
own queue policy). A rollback drops both. ``JOBS_SYNC`` (tests) runs ``after_commit`` jobs in the
committing thread instead, at the end of the request.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app, g, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp.extensions import db

log = logging.getLogger("webapp.jobs")
QUEUE_NAME = "pakn"
_KEY = "pakn_after_commit_jobs"
_STARTERS_KEY = "pakn_after_commit_starters"
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pakn-job")


def after_commit(path: str, *args: Any) -> None:
    """Run job ``path`` ("module:function") with ``args`` once the current transaction commits."""
    db.session().info.setdefault(_KEY, []).append((path, args))


def on_commit(session: Session, key: str, start: Callable[[Flask], None]) -> None:
    """Call ``start(app)`` once after ``session``'s transaction commits (one call per ``key``).

    ``start`` runs inside the commit hook, so it must not use the database (it enqueues or wakes
    a thread that does).
    """
    session.info.setdefault(_STARTERS_KEY, {})[key] = start


def redis_connection(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def queue(app: Flask) -> Queue:
    """The app's RQ queue (``REDIS_URL`` must be set)."""
    return Queue(QUEUE_NAME, connection=redis_connection(app.config["REDIS_URL"]))


def resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def run_in_app(app: Flask, path: str, args: tuple[Any, ...]) -> None:
    with app.app_context():
        try:
            resolve(path)(*args)
        except Exception:
            log.exception("job %s failed", path)
        finally:
            db.session.remove()


def enqueue(path: str, *args: Any) -> None:
    """Start job ``path`` now (call only after a commit)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["REDIS_URL"]:
        try:
            queue(app).enqueue("webapp.worker.run_job", path, *args, retry=Retry(max=2, interval=[5, 30]),
                               job_timeout=120, result_ttl=0, failure_ttl=3600)
            return
        except RedisError as exc:
            log.warning("Redis unavailable, running job %s in-process: %s", path, exc)
    _executor.submit(run_in_app, app, path, args)


def _on_commit(session: Session) -> None:
    jobs = session.info.pop(_KEY, [])
    starters = session.info.pop(_STARTERS_KEY, {})
    if not has_app_context():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for start in starters.values():
        start(app)
    if not jobs:
        return
    if app.config["JOBS_SYNC"]:
        # No SQL may run inside after_commit: keep them for the end of the request (or for
        # run_sync_jobs() in code that runs outside a request).
        g.setdefault("pakn_sync_jobs", []).extend(jobs)
        return
    for path, args in jobs:
        enqueue(path, *args)


def run_sync_jobs(response: Any = None) -> Any:
    """Run the jobs JOBS_SYNC kept back (an after_request hook; tests may call it directly)."""
    jobs = g.pop("pakn_sync_jobs", []) if has_app_context() else []
    for path, args in jobs:
        resolve(path)(*args)
    return response


def _on_rollback(session: Session, previous: Any) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_STARTERS_KEY, None)


def install(app: Flask) -> None:
    app.after_request(run_sync_jobs)
    if not event.contains(Session, "after_commit", _on_commit):
        event.listen(Session, "after_commit", _on_commit)
        event.listen(Session, "after_soft_rollback", _on_rollback)
