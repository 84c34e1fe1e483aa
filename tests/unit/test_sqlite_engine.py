"""The embedded engine under concurrency: searches take no write lock, and writes that change
nothing keep the result cache valid (both matter when many users search while reports arrive)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime

import pytest

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


def test_a_thread_keeps_its_connection_until_a_rebuild_or_drop_replaces_the_file(tmp_path):
    engine = SqliteEngine(tmp_path / "search.sqlite3", cache_size=0)
    engine.bulk_upsert([_doc(1)])
    assert engine.search(SearchQuery(q="ngap nuoc")).total == 1
    engine.bulk_upsert([_doc(2)])  # a write to the same file: the open connection sees it
    assert engine.search(SearchQuery(q="ngap nuoc")).total == 2

    engine.rebuild([_doc(3, title="Mất điện cả khu phố")])  # os.replace: a new file
    assert engine.search(SearchQuery(q="mat dien")).total == 1
    assert [h.id for h in engine.search(SearchQuery(q="khu pho")).hits] == [3]

    other = SqliteEngine(engine.path)  # another worker process rebuilds the same index
    other.rebuild([_doc(4, title="Đèn tín hiệu hỏng"), _doc(5, title="Đèn đường không sáng")])
    assert engine.search(SearchQuery(q="mat dien")).total == 0
    assert sorted(h.id for h in engine.search(SearchQuery(q="den")).hits) == [4, 5]

    engine.drop()
    assert engine.search(SearchQuery(q="den")).total == 0
    engine.bulk_upsert([_doc(6)])
    assert [h.id for h in engine.search(SearchQuery(q="ngap")).hits] == [6]


def test_searches_in_several_threads_each_answer_correctly(tmp_path):
    engine = SqliteEngine(tmp_path / "search.sqlite3", cache_size=0)
    engine.bulk_upsert([_doc(i) for i in range(1, 31)] + [_doc(i, title="Mất điện cả khu phố")
                                                          for i in range(31, 41)])
    answers: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                answers.append((engine.search(SearchQuery(q="ngập nước")).total,
                                engine.search(SearchQuery(q="mat dien")).total))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # "ngập nước" is in every text (the content); "mất điện" only in the last ten titles
    assert set(answers) == {(40, 10)} and len(answers) == 80


def test_an_index_file_written_before_the_narrow_indexes_answers_the_same_and_gets_them_at_its_next_write(tmp_path):
    engine = SqliteEngine(tmp_path / "search.sqlite3", cache_size=0)
    engine.bulk_upsert([_doc(1), _doc(2, title="Mất điện cả khu phố"), _doc(3)])
    query = SearchQuery(q="ngap nuoc", statuses=["accepted"])
    dates = SearchQuery(date_from=datetime(2026, 5, 1, tzinfo=UTC), date_to=datetime(2026, 5, 2, tzinfo=UTC),
                        total_bound=2)
    before, before_dates = engine.search(query), engine.search(dates)
    old = ["ix_docs_facets", *(f"ix_docs_by_{c}" for c in ("submitted", "ward", "field", "status", "type", "month"))]
    with sqlite3.connect(engine.path) as conn:  # an index file from before the narrow indexes
        for name in old:
            conn.execute(f"DROP INDEX {name}")
        conn.execute("CREATE INDEX ix_docs_submitted ON docs(submitted_ts, id)")
    after, after_dates = SqliteEngine(engine.path, cache_size=0).search(query), engine.search(dates)
    assert (after.total, [h.id for h in after.hits], after.facets) == \
        (before.total, [h.id for h in before.hits], before.facets) == (3, [3, 1, 2], after.facets)  # ties: newest, then highest id
    assert dict(after.facets["status"]) == {"accepted": 3}
    assert (after_dates.total, after_dates.total_exact, [h.id for h in after_dates.hits]) == \
        (before_dates.total, before_dates.total_exact, [h.id for h in before_dates.hits]) == (2, False, [3, 2])
    engine.bulk_upsert([_doc(4)])
    with sqlite3.connect(engine.path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert set(old) <= names and "ix_docs_submitted" not in names


def test_past_its_bound_the_embedded_engine_ranks_and_counts_the_newest_matches(tmp_path):
    """The embedded engine's bound (docs/search.md): the newest ``total_bound`` matches (by report
    number) are the ones ranked, paged and counted in the facets; the oldest sort takes the oldest."""
    from tests.contract.docs import doc

    engine = SqliteEngine(tmp_path / "s.sqlite3", cache_size=0)
    # The best match (the words three times) is the oldest report: past the bound it is not ranked.
    engine.bulk_upsert([doc(1, "Ngập nước ngập nước ngập nước", field="moi-truong")]
                       + [doc(i, f"Ngập nước điểm {i}", field="giao-thong") for i in range(2, 41)])
    exact = engine.search(SearchQuery(q="ngập nước", total_bound=None))
    assert exact.hits[0].id == 1 and exact.total_exact
    bounded = engine.search(SearchQuery(q="ngập nước", total_bound=10))
    assert not bounded.total_exact and bounded.total == 10
    assert sorted(h.id for h in bounded.hits) == list(range(31, 41))
    assert dict(bounded.facets["field"]) == {"giao-thong": 10}
    oldest = engine.search(SearchQuery(q="ngập nước", total_bound=10, sort="oldest", per_page=3))
    assert [h.id for h in oldest.hits][:1] == [1]
    # Within the bound the order is the unbounded one.
    within = engine.search(SearchQuery(q="ngập nước", total_bound=100, per_page=40))
    assert [h.id for h in within.hits] == [h.id for h in engine.search(
        SearchQuery(q="ngập nước", total_bound=None, per_page=40)).hits]


def test_past_its_bound_an_any_word_search_ranks_the_reports_holding_all_words_but_one_first(tmp_path):
    """No report holds "mất điện hòa hội" whole; the one holding three of its words is the oldest.
    Past the bound the candidates are the newest reports holding every word but one, then the
    newest of the rest: the best report is still found first, and the total says "more than"."""
    from tests.contract.docs import doc

    engine = SqliteEngine(tmp_path / "s.sqlite3", cache_size=0)
    engine.bulk_upsert([doc(1, "Mất điện ở Hòa Thành", content="Khu phố mất điện cả ngày")]
                       + [doc(i, f"Đèn đường hỏng điểm {i}", content="Đèn không sáng, điện yếu") for i in range(2, 30)])
    bounded = engine.search(SearchQuery(q="mất điện hòa hội", total_bound=10))
    assert bounded.any_words and not bounded.total_exact and bounded.total == 10
    assert bounded.hits[0].id == 1
    assert len(bounded.hits) == 10 and len({h.id for h in bounded.hits}) == 10
    # Within the bound nothing changes: every match, ranked as without a bound.
    wide = engine.search(SearchQuery(q="mất điện hòa hội", total_bound=100))
    assert wide.total_exact and wide.total == 29
    assert [h.id for h in wide.hits] == [h.id for h in engine.search(
        SearchQuery(q="mất điện hòa hội", total_bound=None)).hits]
    # The tier alone past the bound: its newest, and the total still says "more than".
    engine.bulk_upsert([doc(i, f"Mất điện khu {i}", content="Hòa Hội mất điện") for i in range(100, 120)])
    many = engine.search(SearchQuery(q="mất điện hòa hội tối", total_bound=10))
    assert many.total == 10 and not many.total_exact
    assert {h.id for h in many.hits} == set(range(110, 120))


def _old_layout(engine: SqliteEngine) -> None:
    """Make ``engine``'s file an index file from before the tags column (FTS5 cannot drop one)."""
    with sqlite3.connect(engine.path) as conn:
        conn.execute("DROP TABLE fts")
        conn.execute("CREATE VIRTUAL TABLE fts USING fts5(title, content, address, answer, sender, f_title, f_content, "
                     "f_address, f_answer, f_sender, pairs, tokenize = \"unicode61 remove_diacritics 0 tokenchars '_'\")")
        conn.execute("DELETE FROM docs")


def test_filters_answered_by_the_tags_column_answer_as_the_sql_filters_of_an_older_index_file(tmp_path):
    """Field, region (with a legacy place mapped to the ward), status, type and unit filters are
    tokens of the FTS table's tags column; a file made before that column filters in SQL, and
    both give the same totals, pages and facets, for all words and for the any-word fallback."""
    fields, statuses = ["giao-thong", "moi-truong", "y-te"], ["accepted", "answered", "closed"]
    docs = [{**_doc(i, title=f"Đường ngập nước điểm {i}" if i % 4 else f"Mất điện khu phố {i}"),
             "field": fields[i % 3], "status": statuses[i % 5 % 3], "type": "idea" if i % 7 == 0 else "pakn",
             "ward_code": None if i % 6 == 0 else 25450 + i % 2, "legacy_wards": [25451] if i % 6 == 0 else [],
             "units": [i % 3 + 1], "submitted_at": f"2026-05-{1 + i % 28:02d}T03:00:00+00:00"}
            for i in range(1, 60)]
    tagged, old = SqliteEngine(tmp_path / "tagged.sqlite3", cache_size=0), SqliteEngine(tmp_path / "old.sqlite3", cache_size=0)
    tagged.bulk_upsert(docs)
    old.ensure_index()
    _old_layout(old)
    old.bulk_upsert(docs)  # written in the old layout
    queries = [SearchQuery(q="ngập nước", fields=["y-te"]), SearchQuery(q="ngap nuoc", wards=[25451]),
               SearchQuery(q="ngập nước", statuses=["closed", "accepted"], types=["pakn"]),
               SearchQuery(q="nước", provinces=[80], fields=["giao-thong", "y-te"], total_bound=5),
               SearchQuery(q="mất điện", units=(2,)), SearchQuery(q="mất điện", units=()),
               SearchQuery(q="điện nước đường", fields=["moi-truong"], total_bound=4, per_page=50),
               SearchQuery(q="mất nước", wards=[25450], sort="newest")]
    for query in queries:
        a, b = tagged.search(query), old.search(query)
        assert (a.total, a.total_exact, a.any_words, a.facets) == (b.total, b.total_exact, b.any_words, b.facets), query
        assert {h.id for h in a.hits} == {h.id for h in b.hits}, query
    legacy = tagged.search(SearchQuery(q="ngap nuoc", wards=[25451], per_page=50))
    assert {h.id for h in legacy.hits} == {i for i in range(1, 60) if i % 6 == 0 or i % 2 == 1}  # 25451, or legacy
    assert tagged.search(SearchQuery(q="mất điện", units=())).total == 0
    # A tag is never matched by the words a user types.
    with sqlite3.connect(tagged.path) as conn:
        tag = conn.execute("SELECT tags FROM fts WHERE rowid = 1").fetchone()[0].split()[0]
    assert tag.startswith("f_") and tagged.search(SearchQuery(q=tag)).total == 0


def test_a_word_most_reports_hold_still_has_to_match_but_does_not_decide_the_order(tmp_path):
    """bm25 weighs a word held by half the reports or more at nothing (FTS5 floors its IDF), so the
    engine leaves it out of the ranking, which read its whole list for nothing; it is still part of
    the match, and reports equal in the other words come newest first."""
    engine = SqliteEngine(tmp_path / "search.sqlite3", cache_size=0)
    docs = [{**_doc(i, title="Đèn đường khu phố"), "content": "Đường tối."} for i in range(1, 9)]
    docs += [{**_doc(9, title="Vỡ ống nước trên đường"), "content": "Đường đường đường ngập."},
             {**_doc(10, title="Vỡ ống nước trên đường"), "content": "Đường ngập sâu lắm."},
             {**_doc(11, title="Vỡ ống nước"), "content": "Nước chảy."}]
    engine.bulk_upsert(docs)
    result = engine.search(SearchQuery(q="vỡ đường ống"))
    assert [h.id for h in result.hits] == [10, 9]  # 11 lacks "đường"; 9's three more "đường" weigh nothing
    assert result.hits[0].score == pytest.approx(result.hits[1].score, abs=1e-4)
    assert [h.id for h in engine.search(SearchQuery(q="vỡ ống")).hits][:1] == [11]  # the shortest report
