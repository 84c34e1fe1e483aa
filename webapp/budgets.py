"""Budgets of costly actions per client or per account, beyond Flask-Limiter's per-route limits:
searches by phone, sends of reports. One mechanism, in the limiter's storage (Redis when
configured, so every worker shares the count); a view that must keep the user's input asks
``spend`` and shows the answer in its own page instead of a bare 429.
"""

from __future__ import annotations

from time import time as unix_time

from flask import current_app
from limits import parse_many

from webapp.extensions import limiter


def spend(limits: str, scope: str, *who: str) -> int | None:
    """Count one action of ``scope`` against each of ``who`` under ``limits`` ("10/hour;30/day").

    Returns None when allowed, else the seconds until the first exhausted window frees a place.
    Nothing is counted while the app's RATE_LIMITS is off (tests, unless they turn it on).
    """
    if not current_app.config.get("RATE_LIMITS", True):
        return None
    strategy = limiter.limiter
    for item in parse_many(limits):
        for identity in who:
            if not strategy.hit(item, scope, identity):
                reset, _remaining = strategy.get_window_stats(item, scope, identity)
                return max(1, int(reset - unix_time()))  # the storage's clock (Unix seconds)
    return None
