"""The search contract, run unchanged against both engines (SQLite FTS5 and Elasticsearch)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from indexer.engine import EngineUnavailable
from indexer.query import SearchQuery
from tests.contract.docs import doc


def ids(result) -> list[int]:
    return [h.id for h in result.hits]


def test_upsert_count_and_revisions(engine):
    assert engine.bulk_upsert([doc(1, "Đường ngập nước"), doc(2, "Mất điện")]) == 2
    assert engine.count() == 2
    assert sorted(engine.revisions()) == [(1, 1), (2, 1)]


def test_an_older_or_repeated_revision_changes_nothing(engine):
    engine.bulk_upsert([doc(1, "Tiêu đề mới", revision=3)])
    assert engine.bulk_upsert([doc(1, "Tiêu đề cũ", revision=2)]) == 1  # stale counts as success
    assert engine.bulk_upsert([doc(1, "Tiêu đề mới", revision=3)]) == 1  # same job twice
    assert dict(engine.revisions()) == {1: 3}
    assert ids(engine.search(SearchQuery(q="cũ"))) == []
    engine.bulk_upsert([doc(1, "Tiêu đề mới hơn nữa", revision=4)])
    assert ids(engine.search(SearchQuery(q="nữa"))) == [1]


def test_a_deletion_is_not_undone_by_a_late_older_revision(engine):
    engine.bulk_upsert([doc(1, "Phản ánh sẽ bị ẩn", revision=1)])
    assert engine.delete([(1, 2)]) == 1
    engine.bulk_upsert([doc(1, "Phản ánh sẽ bị ẩn", revision=1)])  # late, out-of-order delivery
    assert engine.count() == 0
    engine.bulk_upsert([doc(1, "Công khai lại", revision=3)])
    assert engine.count() == 1
    assert engine.delete([(99, 1)]) == 0  # missing is fine


def test_a_deletion_older_than_the_document_is_ignored(engine):
    engine.bulk_upsert([doc(1, "Đã công khai lại", revision=5)])
    engine.delete([(1, 4)])
    assert engine.count() == 1


def test_folded_query_finds_diacritics_and_d_stroke(engine):
    engine.bulk_upsert([doc(1, "Đường ngập nước sau mưa"), doc(2, "Mất điện cả khu phố"),
                        doc(3, "Cây xanh đổ")])
    assert ids(engine.search(SearchQuery(q="ngap nuoc"))) == [1]
    assert ids(engine.search(SearchQuery(q="mat dien"))) == [2]
    assert ids(engine.search(SearchQuery(q="DUONG"))) == [1]
    assert ids(engine.search(SearchQuery(q="MẤT ĐIỆN"))) == [2]


def test_decomposed_query_matches_precomposed_text(engine):
    import unicodedata

    engine.bulk_upsert([doc(1, "Mất điện")])
    assert ids(engine.search(SearchQuery(q=unicodedata.normalize("NFD", "mất điện")))) == [1]


def test_exact_diacritics_rank_above_folded_matches(engine):
    engine.bulk_upsert([doc(1, "Ngáp ngủ trong giờ làm", content="Cán bộ ngáp ngủ suốt buổi"),
                        doc(2, "Nhà dân bị ngập", content="Nước ngập vào nhà dân")])
    assert ids(engine.search(SearchQuery(q="ngập")))[0] == 2
    assert ids(engine.search(SearchQuery(q="ngáp")))[0] == 1


def test_adjacent_syllables_rank_above_words_far_apart(engine):
    far = "Khu vực chợ ngập rác thải, người dân phải mua nước đóng chai vì nước máy có mùi"
    near = "Khu vực chợ bị ngập nước sau trận mưa lớn, người dân đi lại khó khăn vô cùng"
    engine.bulk_upsert([doc(1, "Phản ánh khu chợ", content=far), doc(2, "Phản ánh khu chợ", content=near)])
    result = engine.search(SearchQuery(q="ngap nuoc"))
    assert ids(result) == [2, 1]


def test_all_words_must_match_and_any_word_only_as_a_flagged_fallback(engine):
    engine.bulk_upsert([doc(1, "Mất điện kéo dài"), doc(2, "Ngập nước")])
    both = engine.search(SearchQuery(q="mất điện kéo"))
    assert ids(both) == [1] and not both.any_words
    nothing_has_all = engine.search(SearchQuery(q="điện nước"))
    assert sorted(ids(nothing_has_all)) == [1, 2] and nothing_has_all.any_words
    assert engine.search(SearchQuery(q="xyzxyz")).total == 0


@pytest.mark.parametrize(("typed", "meant"), [("nuwowcs", "nước"), ("ddieenj", "điện"), ("ngaapj", "ngập")])
def test_telex_leftovers_are_searched_as_the_vietnamese_meant(engine, typed, meant):
    engine.bulk_upsert([doc(1, f"Phản ánh về {meant} ở khu phố"), doc(2, "Không liên quan")])
    assert ids(engine.search(SearchQuery(q=typed))) == [1]


def test_phone_matches_exactly_never_by_prefix(engine):
    engine.bulk_upsert([doc(1, "A", sender_phone="0912345678"), doc(2, "B", sender_phone="0912345679"),
                        {k: v for k, v in doc(3, "C (bảo mật)").items() if k not in ("sender_name", "sender_phone")}])
    assert ids(engine.search(SearchQuery(phone="0912345678"))) == [1]
    assert ids(engine.search(SearchQuery(phone="091234567"))) == []
    assert ids(engine.search(SearchQuery(q="0912345678"))) == []  # the phone is not in the text fields


def test_filters_region_field_type_status(engine):
    engine.bulk_upsert([
        doc(1, "Một", ward_code=25708, field="giao-thong", type="pakn", status="answered"),
        doc(2, "Hai", ward_code=25654, field="dien", type="idea", status="processing"),
        doc(3, "Ba", ward_code=None, ward=None, legacy_place="Huyện Gò Dầu", field="dien"),
        doc(4, "Bốn", ward_code=26734, province_code=79, province="Thành phố Hồ Chí Minh"),
    ])
    q = SearchQuery
    assert sorted(ids(engine.search(q(wards=[25654])))) == [2]
    assert sorted(ids(engine.search(q(provinces=[80])))) == [1, 2, 3]  # the whole province, legacy too
    assert sorted(ids(engine.search(q(wards=[25654], provinces=[79])))) == [2, 4]
    assert sorted(ids(engine.search(q(fields=["dien"])))) == [2, 3]
    assert sorted(ids(engine.search(q(fields=["dien", "giao-thong"])))) == [1, 2, 3, 4]
    assert sorted(ids(engine.search(q(types=["idea"])))) == [2]
    assert sorted(ids(engine.search(q(statuses=["processing"])))) == [2]


def test_a_ward_filter_finds_reports_named_by_a_legacy_place_that_maps_to_it(engine):
    """Issue 16, 7: "Thị xã Trảng Bàng" became Phường Trảng Bàng (25708), Phường An Tịnh, …; filtering
    one of those wards finds the reports that name only the former town, with words and without,
    and the facets that ignore the region filter count them once."""
    engine.bulk_upsert([
        doc(1, "Ngập nước đường Một", ward_code=25708),
        doc(2, "Ngập nước đường Hai", ward_code=None, ward=None, legacy_place="Thị xã Trảng Bàng",
            legacy_wards=[25708, 25711]),
        doc(3, "Ngập nước đường Ba", ward_code=None, ward=None, legacy_place="Huyện Gò Dầu",
            legacy_wards=[25654], field="dien"),
        doc(4, "Ngập nước đường Bốn", ward_code=25654),
        # matches no word of the searches below: a word search counts only its matches' places
        doc(5, "Mất điện kéo dài", ward_code=None, ward=None, legacy_place="Thị xã Trảng Bàng",
            legacy_wards=[25711]),
    ])
    q = SearchQuery
    assert sorted(ids(engine.search(q(wards=[25708])))) == [1, 2]
    assert sorted(ids(engine.search(q(wards=[25711])))) == [2, 5]
    assert sorted(ids(engine.search(q(wards=[25654])))) == [3, 4]
    assert sorted(ids(engine.search(q(wards=[25708, 25654])))) == [1, 2, 3, 4]
    for words in ("ngập nước", "ngap nuoc"):
        found = engine.search(q(q=words, wards=[25708], facets=True))
        assert sorted(ids(found)) == [1, 2] and found.total == 2
        assert dict(found.facets["field"]) == {"giao-thong": 2}
        # the region facet counts a legacy place under each ward it maps to (as the filter finds it)
        assert dict(found.facets["region"]) == {"25708": 2, "25711": 1, "25654": 2}
    assert dict(engine.search(q(facets=True)).facets["region"]) == {"25708": 2, "25711": 2, "25654": 2}
    assert dict(engine.search(q(fields=["dien"], facets=True)).facets["region"]) == {"25654": 1}
    for words in ("ngập nước", "ngap nuoc"):
        assert engine.search(q(q=words, wards=[25654], fields=["dien"])).total == 1
    assert engine.search(q(wards=[25708], fields=["dien"])).total == 0
    # rewritten without the legacy place: the old mapping goes with it
    engine.bulk_upsert([doc(2, "Ngập nước đường Hai", revision=2, ward_code=25654, ward="Phường Gò Dầu")])
    assert sorted(ids(engine.search(q(wards=[25708])))) == [1]
    engine.delete([(3, 5)])
    assert sorted(ids(engine.search(q(wards=[25654])))) == [2, 4]


def test_an_index_made_before_legacy_wards_existed_takes_them_without_a_rebuild(engine, tmp_path):
    """A deployment's index from before the crosswalk: the embedded engine adds its table, the
    Elasticsearch engine adds the field to the strict mapping in place (a new engine object, as after
    a restart, does it in ensure_index)."""
    from copy import deepcopy

    from indexer.elastic import ElasticsearchEngine, _mapping
    from indexer.sqlite_fts import SqliteEngine

    if isinstance(engine, ElasticsearchEngine):
        engine.drop()
        old = deepcopy(_mapping())
        del old["mappings"]["properties"]["legacy_wards"]
        name = f"{engine.alias}-old"
        engine.client.indices.create(index=name, settings=old["settings"], mappings=old["mappings"])
        engine.client.indices.update_aliases(actions=[{"add": {"index": name, "alias": engine.alias}}])
        again = ElasticsearchEngine(engine.url, prefix=engine.alias.removesuffix("-reports"),
                                    plain_json=True)
    else:
        import sqlite3

        with sqlite3.connect(engine.path) as conn:
            conn.execute("DROP TABLE doc_wards")
        again = SqliteEngine(engine.path)
    again.ensure_index()
    assert again.bulk_upsert([doc(1, "Cũ", ward_code=None, ward=None, legacy_place="Thị xã Trảng Bàng",
                                  legacy_wards=[25708])]) == 1
    assert ids(again.search(SearchQuery(wards=[25708]))) == [1]


def test_date_range_is_inclusive_in_vietnam_time(engine):
    from zoneinfo import ZoneInfo

    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    engine.bulk_upsert([
        doc(1, "cuối ngày 31/3 giờ VN", submitted_at="2025-03-31T16:59:00+00:00"),
        doc(2, "đầu ngày 1/4 giờ VN", submitted_at="2025-03-31T17:00:00+00:00"),
        doc(3, "đầu ngày 1/3 giờ VN", submitted_at="2025-02-28T17:00:00+00:00"),
    ])
    march = SearchQuery(date_from=datetime(2025, 3, 1, tzinfo=vn), date_to=datetime(2025, 4, 1, tzinfo=vn))
    assert sorted(ids(engine.search(march))) == [1, 3]


def test_sort_and_pagination(engine):
    engine.bulk_upsert([doc(i, f"Phản ánh số {i}", day=i) for i in range(1, 8)])
    newest = engine.search(SearchQuery(per_page=3))
    assert newest.total == 7 and ids(newest) == [7, 6, 5]
    assert ids(engine.search(SearchQuery(per_page=3, page=3))) == [1]
    assert ids(engine.search(SearchQuery(sort="oldest", per_page=2))) == [1, 2]
    beyond = engine.search(SearchQuery(per_page=3, page=9))
    assert beyond.total == 7 and beyond.hits == []


def test_scan_streams_every_match_in_order_across_batches(engine):
    engine.bulk_upsert([doc(i, f"Ngập nước điểm {i}" if i % 3 else f"Mất điện điểm {i}", day=1 + i % 28,
                            submitted_at=f"2025-03-01T{i // 60:02d}:{i % 60:02d}:00+00:00") for i in range(1, 121)])
    flooded = [i for i in range(1, 121) if i % 3]
    newest = [d["id"] for d in engine.scan(SearchQuery(q="ngap nuoc", sort="newest"), batch=7)]
    assert newest == sorted(flooded, reverse=True)  # every match, not a page, nothing twice
    oldest = [d["id"] for d in engine.scan(SearchQuery(q="ngap", sort="oldest", per_page=5, page=3), batch=50)]
    assert oldest == flooded  # page and per_page are ignored
    by_filter = list(engine.scan(SearchQuery(fields=["giao-thong"]), batch=1000))
    assert len(by_filter) == 120 and by_filter[0]["title"] == "Mất điện điểm 120"
    assert list(engine.scan(SearchQuery(q="xyzxyz"))) == []
    # Relevance order is the search's own order.
    engine.bulk_upsert([doc(500, "Ngập nước ngập nước ngập nước", submitted_at="2024-01-01T00:00:00+00:00")])
    ranked = [d["id"] for d in engine.scan(SearchQuery(q="ngập nước"), batch=10)]
    assert ranked[:5] == [h.id for h in engine.search(SearchQuery(q="ngập nước", per_page=5)).hits]
    assert len(ranked) == len(flooded) + 1


def test_a_bounded_search_says_more_than_the_bound_and_stays_within_the_matches(engine):
    """Past ``total_bound`` the total is the bound and says so (Elasticsearch's track_total_hits);
    the page still holds matches only, each count stays within the true one, and a scan (the
    exports, statistics) still streams every match."""
    fields = ["giao-thong", "moi-truong", "y-te"]
    engine.bulk_upsert([doc(i, f"Ngập nước điểm {i}", field=fields[i % 3], day=1 + i % 28) for i in range(1, 31)]
                       + [doc(i, f"Mất điện điểm {i}") for i in range(31, 36)])
    flooded = set(range(1, 31))
    exact = engine.search(SearchQuery(q="ngập nước", total_bound=None))
    assert (exact.total, exact.total_exact) == (30, True)
    at_bound = engine.search(SearchQuery(q="ngập nước", total_bound=30))
    assert (at_bound.total, at_bound.total_exact) == (30, True)  # exactly the bound is exact
    bounded = engine.search(SearchQuery(q="ngập nước", total_bound=12, per_page=12))
    assert (bounded.total, bounded.total_exact) == (12, False)
    assert len(bounded.hits) == 12 and set(ids(bounded)) <= flooded
    true_counts = dict(exact.facets["field"])
    for value, count in bounded.facets["field"]:
        assert 0 < count <= true_counts[value]
    assert sum(n for _v, n in bounded.facets["field"]) >= 12
    # A filter applies before the bound: 10 matches of a field are counted exactly.
    one_field = engine.search(SearchQuery(q="ngập nước", fields=["y-te"], total_bound=12))
    assert (one_field.total, one_field.total_exact) == (10, True)
    assert set(ids(one_field)) == {i for i in flooded if i % 3 == 2}
    # Without words, too.
    browse = engine.search(SearchQuery(total_bound=20))
    assert (browse.total, browse.total_exact) == (20, False)
    # A date range alone, past the bound and within it (the embedded engine reads another index
    # for each).
    first_days = {i for i in range(1, 36) if 1 + i % 28 < 10}  # submitted 1–9 March 2025
    days = SearchQuery(date_from=datetime(2025, 3, 1, tzinfo=UTC), date_to=datetime(2025, 3, 10, tzinfo=UTC),
                       per_page=20)
    past = engine.search(replace(days, total_bound=4))
    assert (past.total, past.total_exact) == (4, False) and set(ids(past)) <= first_days
    within = engine.search(replace(days, total_bound=20))
    assert (within.total, within.total_exact) == (len(first_days), True) and set(ids(within)) == first_days
    assert len(list(engine.scan(SearchQuery(q="ngập nước", total_bound=5)))) == 30


def test_published_after_keeps_documents_published_later(engine):

    engine.bulk_upsert([doc(1, "Công khai sớm", published_at="2025-03-01T10:00:00+00:00"),
                        doc(2, "Công khai muộn", published_at="2025-03-01T10:00:01.250000+00:00"),
                        doc(3, "Công khai sau nữa", published_at="2025-03-02T08:00:00+07:00")])
    after = SearchQuery(published_after=datetime(2025, 3, 1, 10, 0, tzinfo=UTC))
    assert sorted(ids(engine.search(after))) == [2, 3]  # strictly after
    assert [d["id"] for d in engine.scan(replace(after, published_after=datetime(2025, 3, 1, 11, tzinfo=UTC)))] \
        == [3]


def test_facets_count_and_ignore_their_own_filter(engine):
    engine.bulk_upsert([
        doc(1, "ngập", ward_code=25708, field="cap-thoat-nuoc", status="answered", month="2025-03"),
        doc(2, "ngập", ward_code=25708, field="giao-thong", status="processing", month="2025-04"),
        doc(3, "ngập", ward_code=25654, field="cap-thoat-nuoc", status="answered", month="2025-04"),
        doc(4, "khác", ward_code=25654, field="cap-thoat-nuoc", status="answered", month="2025-04"),
    ])
    result = engine.search(SearchQuery(q="ngap", wards=[25708], fields=["cap-thoat-nuoc"]))
    assert ids(result) == [1]
    facets = {k: dict(v) for k, v in result.facets.items()}
    assert facets["region"] == {"25708": 1, "25654": 1}   # ignores the region filter, applies field
    assert facets["field"] == {"cap-thoat-nuoc": 1, "giao-thong": 1}  # ignores field, applies region
    assert facets["status"] == {"answered": 1}
    assert facets["type"] == {"pakn": 1}
    assert facets["month"] == {"2025-03": 1}


def test_facets_of_a_word_search_follow_every_other_filter(engine):
    """Dates, publication time and the region's province apply to the total and to every facet;
    a document without a ward is counted in the total but in no region."""

    engine.bulk_upsert([
        doc(1, "ngập", day=2, published_at="2025-03-05T00:00:00+00:00"),
        doc(2, "ngập", ward_code=None, day=10, status="processing", published_at="2025-03-20T00:00:00+00:00"),
        doc(3, "ngập", ward_code=26734, province_code=79, day=12, field="cap-thoat-nuoc"),
        doc(4, "ngập", month_no=4, day=3),
        doc(5, "khác", day=11),
    ])
    march = SearchQuery(q="ngap", date_from=datetime(2025, 3, 1, tzinfo=UTC), date_to=datetime(2025, 4, 1, tzinfo=UTC))

    def facets(result):
        return {k: dict(v) for k, v in result.facets.items()}

    result = engine.search(march)
    assert result.total == 3 and sorted(ids(result)) == [1, 2, 3]
    assert facets(result) == {"region": {"25708": 1, "26734": 1}, "field": {"giao-thong": 2, "cap-thoat-nuoc": 1},
                              "status": {"answered": 2, "processing": 1}, "type": {"pakn": 3},
                              "month": {"2025-03": 3}}

    in_province = engine.search(replace(march, provinces=[80]))
    assert in_province.total == 2 and sorted(ids(in_province)) == [1, 2]
    assert facets(in_province)["region"] == {"25708": 1, "26734": 1}  # ignores its own filter
    assert facets(in_province)["field"] == {"giao-thong": 2}

    published = engine.search(replace(march, published_after=datetime(2025, 3, 10, tzinfo=UTC)))
    assert published.total == 1 and ids(published) == [2]
    assert facets(published)["status"] == {"processing": 1} and facets(published)["region"] == {}


def test_highlights_mark_matches_and_escape_html(engine):
    engine.bulk_upsert([doc(1, "Đường <b>ngập</b> nước", content="Trời mưa, đường ngập nước & <script>x</script>")])
    hit = engine.search(SearchQuery(q="ngap")).hits[0]
    assert "<mark>ngập</mark>" in hit.highlight["title"]
    assert "&lt;b&gt;" in hit.highlight["title"] and "<b>" not in hit.highlight["title"]
    assert "<mark>ngập</mark>" in hit.highlight["content"]
    assert "<script>" not in hit.highlight["content"]
    assert re.sub(r"</?mark>", "", hit.highlight["content"]).count("<") == 0


def test_rebuild_swaps_in_a_new_index(engine):
    engine.bulk_upsert([doc(1, "Cũ sẽ mất"), doc(2, "Vẫn còn")])
    assert engine.rebuild(iter([doc(2, "Vẫn còn", revision=2), doc(3, "Mới thêm")])) == 2
    assert sorted(engine.revisions()) == [(2, 2), (3, 1)]
    assert ids(engine.search(SearchQuery(q="mới thêm"))) == [3]
    assert engine.health()["ok"] is True


def test_searches_answer_during_a_rebuild(engine):
    engine.bulk_upsert([doc(1, "Đường ngập nước")])
    seen = []

    def docs():
        for i in range(2, 40):
            if i == 20:  # halfway through filling the new index, the old one still answers
                seen.append(ids(engine.search(SearchQuery(q="ngap nuoc"))))
            yield doc(i, f"Phản ánh {i}")
        yield doc(1, "Đường ngập nước")

    engine.rebuild(docs())
    assert seen == [[1]]
    assert ids(engine.search(SearchQuery(q="ngap nuoc"))) == [1]


def test_an_unreachable_engine_says_so(tmp_path):
    from indexer.elastic import ElasticsearchEngine
    from indexer.sqlite_fts import SqliteEngine

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    for broken in (SqliteEngine(blocker / "search.sqlite3"),
                   ElasticsearchEngine("http://127.0.0.1:9", plain_json=True, timeout=1)):
        with pytest.raises(EngineUnavailable):
            broken.search(SearchQuery(q="ngập"))
        with pytest.raises(EngineUnavailable):
            broken.bulk_upsert([doc(1, "x")])
        assert broken.health()["ok"] is False


def test_documents_without_sender_fields_are_accepted(engine):
    confidential = {k: v for k, v in doc(1, "Bảo mật").items() if k not in ("sender_name", "sender_phone")}
    engine.bulk_upsert([confidential])
    hit = engine.search(SearchQuery(q="bảo mật")).hits[0]
    assert "sender_name" not in hit.doc and "sender_phone" not in hit.doc




def test_staff_scope_filters_by_unit_and_deadline(engine):
    """The staff index's documents carry the assigned units and the deadline (build_staff_document)."""

    extra = {"confidential": False, "published": False, "answer_state": None}
    engine.bulk_upsert([
        doc(1, "Ổ gà đường Hùng Vương", units=[3], deadline_at="2026-11-27T16:59:59+00:00", status="processing", **extra),
        doc(2, "Ổ gà đường Lê Lợi", units=[3, 4], deadline_at="2026-12-04T16:59:59+00:00", status="processing", **extra),
        doc(3, "Trạm y tế thiếu thuốc", units=[4], deadline_at="2026-11-20T16:59:59+00:00", status="processing", **extra),
        doc(4, "Rác tồn đọng", units=[], deadline_at=None, status="pending", **extra),
    ])
    assert sorted(ids(engine.search(SearchQuery()))) == [1, 2, 3, 4]  # no scope: intake sees all
    assert sorted(ids(engine.search(SearchQuery(units=(3,))))) == [1, 2]
    assert sorted(ids(engine.search(SearchQuery(units=(4,))))) == [2, 3]
    assert sorted(ids(engine.search(SearchQuery(units=(3, 4))))) == [1, 2, 3]
    assert ids(engine.search(SearchQuery(units=()))) == []  # staff without a unit see nothing
    assert ids(engine.search(SearchQuery(q="o ga", units=(4,)))) == [2]  # words and scope together
    moment = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert sorted(ids(engine.search(SearchQuery(deadline_before=moment)))) == [1, 3]
    assert ids(engine.search(SearchQuery(deadline_before=moment, units=(3,)))) == [1]
    # The scope survives an update of the document (units replaced, not added).
    engine.bulk_upsert([doc(1, "Ổ gà đường Hùng Vương", revision=2, units=[5], deadline_at=None,
                            status="processing", **extra)])
    assert sorted(ids(engine.search(SearchQuery(units=(3,))))) == [2]
    assert ids(engine.search(SearchQuery(units=(5,)))) == [1]
