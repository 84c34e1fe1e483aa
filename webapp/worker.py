"""RQ entry points. Jobs are queued by these paths (strings), so nothing imports this module: it may
import the app factory without making every feature depend on the composition root.

``flask worker`` runs them inside its app context (the forked work horses inherit it); a plain
``rq worker`` has none, so each entry point then builds an app.
"""

from __future__ import annotations

from typing import Any

from flask import has_app_context

from webapp import create_app, jobs
from webapp.search import indexing


def run_job(path: str, *args: Any) -> None:
    """A webapp job (``webapp.jobs.after_commit``): SMS, mail."""
    if has_app_context():
        jobs.resolve(path)(*args)
        return
    jobs.run_in_app(create_app(), path, args)


def drain_job() -> int:
    """Drain the search outbox (queued after each commit that wrote outbox rows)."""
    if has_app_context():
        return indexing.drain_and_notify()
    with create_app().app_context():
        return indexing.drain_and_notify()
