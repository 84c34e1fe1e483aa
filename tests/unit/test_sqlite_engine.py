"""The embedded engine under concurrency: searches take no write lock, and writes that change
nothing keep the result cache valid (both matter when many users search while reports arrive)."""

from __future__ import annotations

import sqlite3

from indexer.query import SearchQuery
from indexer.sqlite_fts import SqliteEngine


def _doc(i: int, revision: int = 1, title: str = "Đường ngập nước sau mưa") -> dict:
    return {"id": i, "revision": revision, "code": f"PA-TEST-{i:04d}", "type": "pakn", "title": title,
            "content": "Nước ngập sâu trước nhà dân.", "address": "", "answer": "", "answer_unit": None,
            "sender_kind": "individual", "sender_name": "Nguyễn Văn A", "sender_phone": None,
            "field": "giao-thong", "field_name": "Giao thông", "ward_code": 25450, "ward": "Xã A",
            "province_code": 80, "province": "Tây Ninh", "legacy_place": None, "status": "accepted",
            "submitted_at": "2026-05-01T03:00:00+00:00", "published_at": None, "month": "2026-05",
            "location": None}


def _generation(engine: SqliteEngine) -> str:
    with sqlite3.connect(engine.path) as conn:
        return conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]


def test_a_search_runs_while_another_process_holds_the_write_lock(tmp_path):
    engine = SqliteEngine(tmp_path / "search.sqlite3", cache_size=0, busy_timeout=0.5)
    engine.bulk_upsert([_doc(1)])
    writer = sqlite3.connect(engine.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the indexer in the middle of a bulk write
    try:
        result = engine.search(SearchQuery(q="ngap nuoc"))
        assert result.total == 1
        assert engine.count() == 1
        assert [d["id"] for d in engine.scan(SearchQuery(q="ngap nuoc"))] == [1]
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_new_empty_file_is_searchable_without_ensure_index(tmp_path):
    engine = SqliteEngine(tmp_path / "fresh.sqlite3")
    assert engine.search(SearchQuery(q="ngap nuoc")).total == 0
    assert engine.count() == 0


def test_writes_that_change_nothing_keep_cached_results_and_real_changes_drop_them(tmp_path):
    engine = SqliteEngine(tmp_path / "search.sqlite3")
    engine.bulk_upsert([_doc(1), _doc(2)])
    before = _generation(engine)
    engine.bulk_upsert([_doc(1)])            # the same revision delivered again
    engine.delete([(99, 1)])                 # an unpublished report: a tombstone, no document
    assert _generation(engine) == before

    assert engine.search(SearchQuery(q="ngap nuoc")).total == 2
    engine.bulk_upsert([_doc(3)])            # a new document: the cached result is stale
    assert _generation(engine) != before
    assert engine.search(SearchQuery(q="ngap nuoc")).total == 3
    engine.delete([(3, 2)])                  # a real removal
    assert engine.search(SearchQuery(q="ngap nuoc")).total == 2
