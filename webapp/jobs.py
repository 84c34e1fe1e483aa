"""Background jobs for the webapp (SMS, later mail): queued only after the commit succeeded.

``after_commit(path, *args)`` records a job on the current transaction; when it commits, the job
goes to RQ (``REDIS_URL``) or, without Redis or when Redis is down, to an in-process thread.
A rollback drops it. ``JOBS_SYNC`` (tests) runs it in the committing thread instead.
"""

from __future__ import annotations

import importlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("webapp.jobs")
_KEY = "pakn_after_commit_jobs"
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pakn-job")


def after_commit(path: str, *args: Any) -> None:
    """Run job ``path`` ("module:function") with ``args`` once the current transaction commits."""
    from webapp.extensions import db

    db.session().info.setdefault(_KEY, []).append((path, args))


def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _run_in_app(app: Flask, path: str, args: tuple[Any, ...]) -> None:
    from webapp.extensions import db

    with app.app_context():
        try:
            _resolve(path)(*args)
        except Exception:
            log.exception("job %s failed", path)
        finally:
            db.session.remove()


def enqueue(path: str, *args: Any) -> None:
    """Start job ``path`` now (call only after a commit)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["REDIS_URL"]:
        from redis.exceptions import RedisError
        from rq import Queue, Retry

        from indexer.dispatch import QUEUE_NAME, redis_connection

        try:
            Queue(QUEUE_NAME, connection=redis_connection(app.config["REDIS_URL"])).enqueue(
                "webapp.jobs.run_job", path, *args, retry=Retry(max=2, interval=[5, 30]),
                job_timeout=120, result_ttl=0, failure_ttl=3600)
            return
        except RedisError as exc:
            log.warning("Redis unavailable, running job %s in-process: %s", path, exc)
    _executor.submit(_run_in_app, app, path, args)


def run_job(path: str, *args: Any) -> None:
    """RQ entry point for webapp jobs (inside the worker's app context, or a new one)."""
    if has_app_context():
        _resolve(path)(*args)
        return
    from webapp import create_app

    _run_in_app(create_app(), path, args)


def _on_commit(session: Session) -> None:
    jobs = session.info.pop(_KEY, [])
    if not jobs or not has_app_context():
        return
    if current_app.config["JOBS_SYNC"]:
        # No SQL may run inside after_commit: keep them for the end of the request (or for
        # run_sync_jobs() in code that runs outside a request).
        from flask import g

        g.setdefault("pakn_sync_jobs", []).extend(jobs)
        return
    for path, args in jobs:
        enqueue(path, *args)


def run_sync_jobs(response: Any = None) -> Any:
    """Run the jobs JOBS_SYNC kept back (an after_request hook; tests may call it directly)."""
    from flask import g

    jobs = g.pop("pakn_sync_jobs", []) if has_app_context() else []
    for path, args in jobs:
        _resolve(path)(*args)
    return response


def _on_rollback(session: Session, previous: Any) -> None:
    session.info.pop(_KEY, None)


def install(app: Flask) -> None:
    app.after_request(run_sync_jobs)
    if not event.contains(Session, "after_commit", _on_commit):
        event.listen(Session, "after_commit", _on_commit)
        event.listen(Session, "after_soft_rollback", _on_rollback)
