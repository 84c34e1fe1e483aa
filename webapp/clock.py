"""The one clock. Every "now" of the app (timestamps, expiry, rate windows, deadlines, feeds)
comes from ``now()``; tests replace the source with ``set_source`` and put it back with ``reset``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def _system() -> datetime:
    return datetime.now(UTC)


_source: list[Callable[[], datetime]] = [_system]


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _source[0]()


def set_source(source: Callable[[], datetime]) -> None:
    """Make ``now()`` answer from ``source`` (tests)."""
    _source[0] = source


def reset() -> None:
    """Back to the system clock."""
    _source[0] = _system
