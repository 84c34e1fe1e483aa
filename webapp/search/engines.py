"""The engine registry: the app's search engine per scope, built once from the config."""

from __future__ import annotations

from flask import current_app

from indexer.engine import SearchEngine, engine_from_config


def get_engine(scope: str = "public") -> SearchEngine:
    """The app's search engine for ``scope`` ("public" or "staff"; one each per app)."""
    key = "pakn_search" if scope == "public" else f"pakn_search_{scope}"
    engine = current_app.extensions.get(key)
    if engine is None:
        engine = engine_from_config(current_app.config, scope)
        current_app.extensions[key] = engine
    return engine
