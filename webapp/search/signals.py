"""Signals of the search package, for features that react to indexing without being imported by it."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent (sender: the app) after each outbox drain by the worker's sweep, the in-process runner and
# the RQ drain job, with ``count`` = entries processed (0 included: time-based work such as daily
# alerts runs on every sweep). Receivers must not raise: an exception would fail the drain's job.
documents_indexed = _signals.signal("documents-indexed")
