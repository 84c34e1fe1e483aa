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


def test_past_its_bound_an_any_word_search_ranks_every_report_holding_all_words_but_one_before_the_rest(tmp_path):
    """Past the bound, the reports holding every word of "mất điện hòa hội" but one come before
    those holding fewer, even one whose rare word gives it the higher bm25 ("Hội Hội": one word of
    four); each group is ranked by bm25, and a page within the first group is the same page as
    the whole order's, whichever way it is asked for."""
    from tests.contract.docs import doc

    engine = SqliteEngine(tmp_path / "s.sqlite3", cache_size=0)
    engine.bulk_upsert(
        [doc(1, "Mất điện ở Hòa Thành", content="Khu phố mất điện cả ngày, người dân ở Hòa Thành rất khổ sở")]
        + [doc(i, f"Đèn đường hỏng điểm {i}", content="Đèn không sáng, điện yếu") for i in range(2, 30)]
        + [doc(30, "Hội Hội", content="Hội"),
           doc(31, "Phản ánh về tình trạng đường sá xuống cấp kéo dài nhiều tháng nay ở khu dân cư",
               content="Đoạn đường dài hai cây số ở xã Hòa có nhiều ổ gà, trời tối thì mất điện nên rất "
                       "nguy hiểm cho người đi đường và học sinh đi học về muộn")])
    q = "mất điện hòa hội"
    whole = engine.search(SearchQuery(q=q, total_bound=10, per_page=10))
    assert whole.any_words and not whole.total_exact
    ids = [h.id for h in whole.hits]
    assert ids[:3] == [1, 31, 30]
    # Without the bound (every match scored alike), the rare word puts "Hội Hội" above report 31.
    exact = [h.id for h in engine.search(SearchQuery(q=q, total_bound=None, per_page=40)).hits]
    assert exact.index(30) < exact.index(31)
    # Page by page: the first page lies within the reports holding three words (ranked alone), the
    # second crosses into the rest; together they are the whole order.
    paged = [h.id for page in (1, 2, 3, 4, 5) for h in engine.search(
        SearchQuery(q=q, total_bound=10, per_page=2, page=page)).hits]
    assert paged == ids


def test_past_its_bound_an_any_word_search_sorted_newest_first_shows_the_newest_matches(tmp_path):
    """Sorted by date, the bound keeps the newest matches whatever words they hold: the reports
    holding all words but one (here the oldest three) are taken first only for the relevance order."""
    from tests.contract.docs import doc

    engine = SqliteEngine(tmp_path / "s.sqlite3", cache_size=0)
    engine.bulk_upsert([doc(i, "Mất điện ở Hòa Thành", day=i) for i in (1, 2, 3)]
                       + [doc(i, f"Đèn đường điểm {i}", content="Điện yếu", day=i) for i in range(4, 24)])
    newest = engine.search(SearchQuery(q="mất điện hòa hội", sort="newest", total_bound=10, per_page=10))
    assert newest.any_words and not newest.total_exact and newest.total == 10
    assert [h.id for h in newest.hits] == list(range(23, 13, -1))
    assert dict(newest.facets["field"]) == {"giao-thong": 10}
    relevance = engine.search(SearchQuery(q="mất điện hòa hội", total_bound=10, per_page=10))
    assert [h.id for h in relevance.hits][:3] == [3, 2, 1]  # all words but one, then the newest of the rest


def test_past_its_bound_a_facet_with_its_own_filter_counts_the_newest_matches_of_its_search(tmp_path):
    """The field facet of a search filtered by field counts the search without that filter; past the
    bound it counts that search's newest matches (as the page says), not the reports holding all
    words but one first: those only decide which candidates are ranked."""
    from tests.contract.docs import doc

    engine = SqliteEngine(tmp_path / "s.sqlite3", cache_size=0)
    engine.bulk_upsert([doc(i, "Mất điện ở Hòa Thành", field="moi-truong", day=i) for i in (1, 2, 3)]
                       + [doc(i, f"Đèn đường điểm {i}", content="Điện yếu", day=i) for i in range(4, 24)])
    result = engine.search(SearchQuery(q="mất điện hòa hội", fields=["giao-thong"], total_bound=10, per_page=10))
    assert result.any_words and not result.facets_exact
    assert dict(result.facets["field"]) == {"giao-thong": 10}
    # Unfiltered, the ranked candidates (and so the facets counting them) take those three first.
    unfiltered = engine.search(SearchQuery(q="mất điện hòa hội", total_bound=10, per_page=10))
    assert dict(unfiltered.facets["field"]) == {"moi-truong": 3, "giao-thong": 7}


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


# -- facet columns in memory (indexer/sqlite_columns.py) ------------------------------------------
def _facet_doc(i: int, **changes) -> dict:
    fields, statuses = ["giao-thong", "moi-truong", "y-te"], ["accepted", "answered", "closed"]
    legacy = i % 6 == 0
    return {**_doc(i), "field": fields[i % 3], "status": statuses[i % 5 % 3], "type": "idea" if i % 7 == 0 else "pakn",
            "ward_code": None if legacy else 25450 + i % 2, "legacy_wards": [25451, 25452] if legacy else [],
            "submitted_at": f"2026-0{4 + i % 3}-{1 + i % 28:02d}T03:00:00+00:00", "month": f"2026-0{4 + i % 3}",
            **changes}


def _expected_facets(docs: dict[int, dict]) -> dict[str, dict[str, int]]:
    """The five facets of a search every document matches, counted here from the documents."""
    from collections import Counter
    counted: dict[str, Counter] = {name: Counter() for name in ("field", "region", "status", "type", "month")}
    for d in docs.values():
        for name, key in (("field", "field"), ("status", "status"), ("type", "type"), ("month", "month")):
            counted[name][d[key]] += 1
        for ward in [d["ward_code"]] if d["ward_code"] is not None else d.get("legacy_wards") or []:
            counted["region"][str(ward)] += 1
    return {name: dict(c) for name, c in counted.items()}


def _facets(engine: SqliteEngine) -> dict[str, dict[str, int]]:
    result = engine.search(SearchQuery(q="ngập nước", total_bound=None))
    return {name: dict(values) for name, values in result.facets.items()}


def test_facets_counted_in_memory_follow_what_another_process_writes(tmp_path, monkeypatch):
    """A web worker counts facets with its own copy of the facet columns; reports that another
    process (the indexer) adds, changes or deletes are counted right at the worker's next search,
    by applying the file's change log, not by reading the whole file again; a rebuild is read whole."""
    from indexer.sqlite_columns import Columns

    loads = []
    original = Columns._load
    monkeypatch.setattr(Columns, "_load", lambda self, conn, seq, gen: loads.append(seq) or original(self, conn, seq, gen))
    reader = SqliteEngine(tmp_path / "search.sqlite3", cache_size=0)
    writer = SqliteEngine(tmp_path / "search.sqlite3")  # another process's engine on the same file
    docs = {i: _facet_doc(i) for i in range(1, 40)}
    writer.bulk_upsert(list(docs.values()))
    assert _facets(reader) == _expected_facets(docs)
    assert reader._columns.snapshots and len(loads) == 1  # counted in memory

    docs[45] = _facet_doc(45, field="dat-dai", ward_code=26000, month="2026-11")  # new values, a higher number
    docs[3] = _facet_doc(3, revision=2, field="dat-dai", ward_code=None, legacy_wards=[25452])
    docs[6] = _facet_doc(6, revision=2, ward_code=25450, legacy_wards=[])  # a legacy place now placed
    writer.bulk_upsert([docs[45], docs[3], docs[6]])
    assert _facets(reader) == _expected_facets(docs)
    writer.delete([(5, 2), (12, 2)])
    del docs[5], docs[12]
    assert _facets(reader) == _expected_facets(docs)
    assert len(loads) == 1  # the changes were applied, the file not read again

    docs = {i: _facet_doc(i, status="closed") for i in range(100, 130)}
    writer.rebuild(list(docs.values()))
    assert _facets(reader) == _expected_facets(docs)
    assert len(loads) == 2


def test_a_large_file_is_read_in_the_background_while_searches_count_in_sql(tmp_path, monkeypatch):
    """A worker's first search of a large file (3 s to read whole at 1,000,000 reports) does not wait
    for that read: a thread of its own reads the file in parts, without holding it locked between
    parts (the indexer goes on writing), and the searches meanwhile count in SQL with the same
    answers. The reports written during the read are read again from the change log; from then on
    the searches count in memory. A file that a rebuild replaced meanwhile is read anew."""
    from indexer import sqlite_columns
    from indexer.sqlite_columns import Columns

    monkeypatch.setattr(sqlite_columns, "PART", 10)  # 39 reports: four parts
    reading, release, parts = threading.Event(), threading.Event(), []
    fill = Columns._fill

    def held(arrays, batches, dictionary):
        if threading.current_thread().name == "pakn-facet-columns":
            parts.append(1)
            if len(parts) == 2:  # between the first part and the rest
                reading.set()
                assert release.wait(10)
        return fill(arrays, batches, dictionary)

    monkeypatch.setattr(Columns, "_fill", staticmethod(held))
    reader = SqliteEngine(tmp_path / "search.sqlite3", cache_size=0)
    reader._columns.background_from = 20  # "large" for this test
    writer = SqliteEngine(tmp_path / "search.sqlite3", busy_timeout=2)  # a lock held by the read: it fails
    docs = {i: _facet_doc(i) for i in range(1, 40)}
    writer.bulk_upsert(list(docs.values()))

    assert _facets(reader) == _expected_facets(docs)  # answered in SQL while the read goes on
    assert reading.wait(5) and not reader._columns.snapshots
    docs[45] = _facet_doc(45, field="dat-dai", ward_code=26000)  # a new, higher number
    docs[3] = _facet_doc(3, revision=2, field="y-te", ward_code=None, legacy_wards=[25452])  # a part read
    docs[35] = _facet_doc(35, revision=2, status="closed", month="2026-12")  # a part not read yet
    writer.bulk_upsert([docs[45], docs[3], docs[35]])  # the read holds no lock between its parts
    assert _facets(reader) == _expected_facets(docs)
    release.set()
    reader._columns.wait(10)
    assert reader._columns.snapshots  # read whole, then brought up to date by the log
    assert _facets(reader) == _expected_facets(docs)
    assert reader._columns.snapshots
    writer.delete([(5, 2)])
    del docs[5]
    assert _facets(reader) == _expected_facets(docs)  # and it follows the writes from there

    # A rebuild replaces the file while it is being read: the read ends on the file it opened, and
    # the next search, finding another file, drops it and has the new one read.
    reading.clear()
    release.clear()
    parts.clear()
    writer.drop()
    docs = {i: _facet_doc(i, status="closed") for i in range(100, 130)}
    writer.rebuild(list(docs.values()))
    assert _facets(reader) == _expected_facets(docs)
    assert reading.wait(5)
    newer = {i: _facet_doc(i, status="answered") for i in range(200, 230)}
    writer.rebuild(list(newer.values()))
    replaced = reader._columns.file
    release.set()
    reader._columns.wait(10)
    assert _facets(reader) == _expected_facets(newer)  # the new file: in SQL while it is read
    assert reader._columns.file != replaced
    reader._columns.wait(10)
    assert reader._columns.snapshots
    assert _facets(reader) == _expected_facets(newer)


def test_a_process_further_behind_than_the_change_log_reads_the_file_whole(tmp_path, monkeypatch):
    monkeypatch.setattr("indexer.sqlite_fts.LOG_KEEP", 2)
    reader, writer = SqliteEngine(tmp_path / "s.sqlite3", cache_size=0), SqliteEngine(tmp_path / "s.sqlite3")
    docs = {i: _facet_doc(i) for i in range(1, 20)}
    writer.bulk_upsert(list(docs.values()))
    assert _facets(reader) == _expected_facets(docs)
    for i in range(1, 6):  # five writes: the log keeps the last two
        docs[i] = _facet_doc(i, revision=2, field="dat-dai")
        writer.bulk_upsert([docs[i]])
    with sqlite3.connect(writer.path) as conn:
        assert conn.execute("SELECT count(*) FROM change_log").fetchone()[0] == 2
    assert _facets(reader) == _expected_facets(docs)


def test_facets_counted_in_sql_and_in_memory_agree(tmp_path):
    """A file written before the change log counts its facets in SQL until its next write; both ways
    give the same facets, with filters (a facet whose own filter is set counts without it), legacy
    places, the bound, and the any-word fallback."""
    docs = [_facet_doc(i, title=f"Đường ngập nước điểm {i}" if i % 4 else f"Mất điện khu phố {i}") for i in range(1, 60)]
    memory = SqliteEngine(tmp_path / "memory.sqlite3", cache_size=0)
    memory.bulk_upsert(docs)
    sql = SqliteEngine(tmp_path / "sql.sqlite3", cache_size=0)
    sql.bulk_upsert(docs)
    with sqlite3.connect(sql.path) as conn:
        conn.execute("DROP TABLE change_log")  # as written before the log
    queries = [SearchQuery(q="ngập nước"), SearchQuery(q="ngap nuoc", wards=[25451]),
               SearchQuery(q="ngập nước", fields=["y-te"], statuses=["closed", "accepted"]),
               SearchQuery(q="nước", types=["pakn"], total_bound=5), SearchQuery(q="điện nước đường", per_page=50),
               SearchQuery(fields=["moi-truong"], wards=[25452]), SearchQuery(q="mất điện", sort="oldest", total_bound=3)]
    for query in queries:
        a, b = memory.search(query), sql.search(query)
        assert (a.total, a.total_exact, a.facets_exact, a.facets) == (b.total, b.total_exact, b.facets_exact, b.facets), query
    assert memory._columns.snapshots and not sql._columns.snapshots
    assert dict(memory.search(queries[1]).facets["region"])["25452"] == len([d for d in docs if d["ward_code"] is None])
    sql.bulk_upsert([_facet_doc(70)])
    memory.bulk_upsert([_facet_doc(70)])
    assert sql.search(queries[0]).facets == memory.search(queries[0]).facets
    assert sql._columns.snapshots  # the write made the log: counted in memory from then on


def test_each_search_counts_the_one_state_of_the_file_it_read_while_another_process_writes(tmp_path):
    """Candidates, facets and the page come from one read: every report has a type, so the type
    facet sums to the total in every answer, however the writes interleave."""
    path = tmp_path / "s.sqlite3"
    SqliteEngine(path).bulk_upsert([_facet_doc(i) for i in range(1, 200)])
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        engine, i = SqliteEngine(path), 200
        try:
            while not stop.is_set():
                engine.bulk_upsert([_facet_doc(i), _facet_doc(i + 1)])
                engine.delete([(i - 150, 5)])
                i += 2
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def read(engine: SqliteEngine) -> None:
        try:
            for _ in range(40):
                result = engine.search(SearchQuery(q="ngập nước", total_bound=None, per_page=5))
                assert sum(n for _v, n in result.facets["type"]) == result.total
                assert sum(n for _v, n in result.facets["field"]) == result.total
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    reader = SqliteEngine(path, cache_size=0)
    writer = threading.Thread(target=write)
    readers = [threading.Thread(target=read, args=(reader,)) for _ in range(3)]
    writer.start()
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    stop.set()
    writer.join()
    assert errors == []


def test_reports_equal_in_score_come_newest_first_with_the_dates_read_from_memory(tmp_path, monkeypatch):
    """Candidates take their dates from the process's snapshot (4 bytes a report, compared as
    bytes) instead of reading their rows; the order they give equal scores is the dates' order,
    as when the dates are read from the rows (a file without the change log), through changes of
    date, a report without a date, and one dated 1900 (outside what 4 bytes hold: the dates are
    then read from the rows, the facets still counted in memory)."""
    from indexer.sqlite_columns import Columns

    loads = []
    original = Columns._load
    monkeypatch.setattr(Columns, "_load", lambda self, conn, seq, gen: loads.append(seq) or original(self, conn, seq, gen))
    days = [5, 1, 9, 3, 7, 2, 8, 4, 6]  # dates in no order of the report numbers
    docs = {i: {**_doc(i), "submitted_at": f"2026-05-{d:02d}T03:00:00+00:00"} for i, d in enumerate(days, 1)}
    memory, sql = SqliteEngine(tmp_path / "m.sqlite3", cache_size=0), SqliteEngine(tmp_path / "s.sqlite3", cache_size=0)

    def same_order() -> list[int]:
        with sqlite3.connect(sql.path) as conn:
            conn.execute("DROP TABLE IF EXISTS change_log")  # this one reads the dates from the rows
        orders = []
        for engine in (memory, sql):
            orders.append([[h.id for h in engine.search(SearchQuery(q="ngập nước", sort=sort, total_bound=bound)).hits]
                           for sort in (None, "newest", "oldest") for bound in (None, 4)])
        assert orders[0] == orders[1]
        return orders[0][0]

    for engine in (memory, sql):
        engine.bulk_upsert(list(docs.values()))
    assert same_order() == [3, 7, 5, 9, 1, 8, 4, 6, 2]  # equal texts: by date, newest first
    assert memory._columns.snapshots
    changes = [{**docs[2], "revision": 2, "submitted_at": "2026-05-20T03:00:00+00:00"},
               {**docs[3], "revision": 2, "submitted_at": None}]
    for engine in (memory, sql):
        engine.bulk_upsert(changes)
    assert same_order() == [2, 7, 5, 9, 1, 8, 4, 6, 3]  # no date: last, as SQL orders NULL
    assert len(loads) == 1
    for engine in (memory, sql):
        engine.bulk_upsert([{**_doc(20), "submitted_at": "1900-01-02T00:00:00+00:00"}])
    assert same_order()[-2:] == [20, 3]
    assert len(loads) == 1 and memory._columns.snapshots


def test_writes_the_log_does_not_follow_are_counted_right(tmp_path, monkeypatch):
    """The log chains each write to the generation before it. A write that does not log (a writer
    of the version before the log, during an upgrade), an older copy of the file put back, and a
    report numbered far beyond the others are all counted right, never with stale or missing codes."""
    import shutil

    import indexer.sqlite_fts as engine_module

    path = tmp_path / "s.sqlite3"
    reader, writer = SqliteEngine(path, cache_size=0), SqliteEngine(path)
    docs = {i: _facet_doc(i) for i in range(1, 21)}
    writer.bulk_upsert(list(docs.values()))
    assert _facets(reader) == _expected_facets(docs)

    def unlogged(conn, changed):  # what the version before the log did
        conn.execute("UPDATE meta SET value = hex(randomblob(16)) WHERE key = 'generation'")

    with monkeypatch.context() as patch:
        patch.setattr(engine_module, "_log", unlogged)
        docs[3] = _facet_doc(3, revision=2, type="idea")
        docs[50] = _facet_doc(50, field="dat-dai")
        writer.bulk_upsert([docs[3], docs[50]])
    assert _facets(reader) == _expected_facets(docs)  # before: report 50 out of the arrays' bounds
    docs[4] = _facet_doc(4, revision=2, status="closed")
    writer.bulk_upsert([docs[4]])
    assert _facets(reader) == _expected_facets(docs)

    shutil.copy(path, tmp_path / "copy.sqlite3")  # a copy of the file now ...
    for i in range(60, 70):
        docs[i] = _facet_doc(i)
        writer.bulk_upsert([docs[i]])
    assert _facets(reader) == _expected_facets(docs)
    (tmp_path / "copy.sqlite3").replace(path)  # ... put back: ten writes fewer, then three others
    docs = {i: d for i, d in docs.items() if i < 60}
    assert _facets(reader) == _expected_facets(docs)
    for i in range(80, 93):
        docs[i] = _facet_doc(i, field="y-te")
        writer.bulk_upsert([docs[i]])
    assert _facets(reader) == _expected_facets(docs)  # its log's numbers passed the old ones

    docs[2**31 - 1] = _facet_doc(2**31 - 1)  # arrays of 2**31 entries: counted in SQL instead
    writer.bulk_upsert([docs[2**31 - 1]])
    assert _facets(reader) == _expected_facets(docs)
    assert reader._columns.unusable is not None
