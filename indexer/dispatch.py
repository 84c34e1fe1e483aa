"""Runs indexer jobs after a commit: on RQ when ``REDIS_URL`` is set, else in a background thread.

Enqueueing happens only after the transaction that wrote the outbox committed. If Redis is down
the entry simply stays in the outbox; the worker's periodic sweep (or the in-process thread's)
picks it up later. A report is never lost because the queue or the engine was away.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app, has_app_context

log = logging.getLogger("indexer.dispatch")
QUEUE_NAME = "pakn"


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
        from indexer.engine import EngineUnavailable
        from indexer.jobs import drain_and_alert

        while not self.stopped:
            self.wake.wait(self.interval)
            self.wake.clear()
            if self.stopped:
                return
            with self.app.app_context():
                try:
                    drain_and_alert()
                except EngineUnavailable as exc:
                    log.warning("search engine unavailable, backlog kept for the next sweep: %s", exc)
                except Exception:
                    log.exception("indexer run failed; the next sweep retries")
                finally:
                    from webapp.extensions import db

                    db.session.remove()


def redis_connection(url: str) -> Any:
    from redis import Redis

    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def enqueue_drain(app: Flask) -> bool:
    """Queue one drain job on RQ; False (and a log line) when Redis cannot be reached."""
    from redis.exceptions import RedisError
    from rq import Queue, Retry

    try:
        queue = Queue(QUEUE_NAME, connection=redis_connection(app.config["REDIS_URL"]))
        queue.enqueue("indexer.jobs.drain_job", retry=Retry(max=5, interval=[5, 30, 60, 300, 600]),
                      job_timeout=900, result_ttl=300, failure_ttl=86400)
        return True
    except RedisError as exc:
        log.warning("Redis unavailable, outbox entries wait for the sweep: %s", exc)
        return False


def notify_committed() -> None:
    """Called after a commit that wrote outbox rows: start indexing them."""
    if not has_app_context():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["REDIS_URL"]:
        enqueue_drain(app)
    elif app.config["INDEXER_INLINE"]:
        runner(app).kick()


def runner(app: Flask) -> InlineRunner:
    existing = app.extensions.get("pakn_indexer")
    if existing is None:
        existing = InlineRunner(app, app.config["INDEXER_SWEEP_SECONDS"])
        app.extensions["pakn_indexer"] = existing
    return existing
