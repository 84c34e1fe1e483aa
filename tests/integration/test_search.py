"""Indexer + search service + API + Tra cứu page, on the database backends, with the embedded engine."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from indexer.documents import build_document
from indexer.engine import EngineUnavailable
from indexer.query import SearchQuery
from indexer.sqlite_fts import SqliteEngine
from webapp.reports.models import Report
from webapp.search.indexing import drain_outbox, reconcile, status
from webapp.search.models import OutboxEntry


def api(client, path="/api/v1/reports", **params):
    response = client.get(path, query_string=params or None)
    return response.status_code, response.get_json()


# -- document builder and indexing ------------------------------------------------------------------
def test_document_builder_leaves_confidential_senders_out_entirely(session, make_report):
    public = build_document(make_report(sender_name="Lê Công Khai", sender_phone="0912345678"))
    secret = build_document(make_report(confidential=True, sender_name="Lê Bí Mật", sender_phone="0987654321",
                                        sender_email="bimat@example.vn", sender_address="Số 9 hẻm 3"))
    assert public["sender_name"] == "Lê Công Khai" and public["sender_phone"] == "0912345678"
    assert not {"sender_name", "sender_phone", "sender_email", "sender_address"} & set(secret)
    text = json.dumps(secret, ensure_ascii=False)
    for value in ("Lê Bí Mật", "0987654321", "bimat@example.vn", "Số 9 hẻm 3"):
        assert value not in text
    assert build_document(make_report(published=False)) is None


def test_drain_indexes_published_reports_and_is_idempotent(session, search, make_report):
    make_report(title="Đường ngập nước")
    make_report(title="Chưa công khai", published=False)
    assert search.index() == 2
    assert search.engine.count() == 1
    assert search.index() == 0  # nothing pending
    # The same outbox entries delivered twice change nothing.
    session.execute(OutboxEntry.__table__.update().values(processed_at=None))
    assert search.index() == 2
    assert sorted(search.engine.revisions()) == sorted(
        session.execute(select(Report.id, Report.revision).where(Report.published.is_(True))).all())


def test_unpublishing_removes_the_document_and_a_late_old_delivery_does_not_restore_it(session, search, make_report):
    report = make_report(title="Sẽ bị gỡ")
    search.index()
    old_doc = build_document(report)
    report.published = False
    search.index()
    assert search.engine.count() == 0
    search.engine.bulk_upsert([old_doc])  # an out-of-order delivery of the older revision
    assert search.engine.count() == 0


def test_deleted_report_leaves_the_index(session, search, make_report):
    report = make_report()
    search.index()
    session.delete(report)
    search.index()
    assert search.engine.count() == 0


def test_engine_down_loses_nothing_and_reconcile_catches_up(session, search, make_report, app, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    app.extensions["pakn_search"] = SqliteEngine(blocker / "search.sqlite3")  # unreachable
    for i in range(5):
        make_report(title=f"Phản ánh khi máy tìm kiếm hỏng {i}")
    session.commit()
    with pytest.raises(EngineUnavailable):
        drain_outbox()
    assert session.scalar(select(func.count()).select_from(Report)) == 5  # every report saved
    st = status()
    assert st.backlog == 5 and st.failing == 5 and st.oldest_pending_seconds is not None
    assert st.engine["ok"] is False

    app.extensions["pakn_search"] = search.engine  # engine back
    fixed = reconcile()
    assert len(fixed.missing) == 5
    assert search.engine.count() == 5
    drain_outbox()
    assert status().backlog == 0


def test_reconcile_repairs_missing_stale_and_orphaned(session, search, make_report):
    a, b, c = make_report(title="A"), make_report(title="B"), make_report(title="C")
    search.index()
    search.engine.rebuild([build_document(b), build_document(c)])  # a is missing (lost write)
    b.title = "B đã sửa"
    session.commit()                                                # stale (outbox not drained)
    search.engine.bulk_upsert([{**build_document(c), "id": 999999, "code": "PA-ZZZZ-ZZZZ"}])  # orphan
    report = reconcile()
    assert (report.missing, report.stale, report.orphaned) == ([a.id], [b.id], [999999])
    assert sorted(search.engine.revisions()) == sorted((r.id, r.revision) for r in (a, b, c))


# -- API --------------------------------------------------------------------------------------------
def test_api_search_shape_highlight_and_facets(client, search, make_report):
    make_report(title="Đường ngập nước sau mưa", content="Nước ngập sâu <b>40 cm</b>", field_slug="cap-thoat-nuoc")
    make_report(title="Mất điện", field_slug="dien")
    make_report(title="Ngập nước trong hẻm", confidential=True, sender_name="Bí Mật", sender_phone="0987654321")
    search.index()
    code, body = api(client, q="ngap nuoc")
    assert code == 200
    assert body["total"] == 2 and body["page"] == 1 and body["per_page"] == 20
    first = body["items"][0]
    assert set(first) >= {"code", "type", "title", "excerpt", "field", "region", "address", "status",
                          "submitted_at", "sender", "phone_masked", "url"}
    assert "<mark>" in json.dumps(body["items"], ensure_ascii=False)
    assert "<b>" not in json.dumps(body["items"], ensure_ascii=False)
    by_title = {i["title"]: i for i in body["items"]}
    assert by_title["Ngập nước trong hẻm"]["sender"] is None
    assert by_title["Ngập nước trong hẻm"]["phone_masked"] is None
    assert by_title["Đường ngập nước sau mưa"]["phone_masked"] == "091*****78"
    assert by_title["Đường ngập nước sau mưa"]["field"] == {"slug": "cap-thoat-nuoc", "name": "Cấp thoát nước"}
    assert {"value": "cap-thoat-nuoc", "label": "Cấp thoát nước", "count": 1} in body["facets"]["field"]
    assert body["facets"]["region"][0]["label"] == "Phường Trảng Bàng"
    assert "Bí Mật" not in json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize(("params", "code", "field"), [
    ({"from": "2025-02-30"}, "bad_date", "from"),
    ({"from": "01/03/2025"}, "bad_date", "from"),
    ({"from": "2025-04-01", "to": "2025-03-01"}, "date_range", "from"),
    ({"per_page": "101"}, "per_page_too_large", "per_page"),
    ({"per_page": "abc"}, "invalid_parameter", "per_page"),
    ({"page": "0"}, "invalid_parameter", "page"),
    ({"region": "999999"}, "unknown_region", "region"),
    ({"region": "25747"}, "unknown_region", "region"),  # a real ward, but not of this deployment
    ({"field": "the-thao"}, "unknown_field", "field"),
    ({"type": "complaint"}, "invalid_parameter", "type"),
    ({"status": "lost"}, "invalid_parameter", "status"),
    ({"sort": "random"}, "invalid_parameter", "sort"),
    ({"q": "x" * 201}, "query_too_long", "q"),
    ({"phone": "0912345678"}, "phone_in_url", "phone"),
])
def test_api_bad_parameters_get_400_with_code_and_field(client, search, params, code, field):
    status_code, body = api(client, **params)
    assert status_code == 400
    assert body["error"]["code"] == code and body["error"]["field"] == field
    assert body["error"]["message"]


def test_api_page_beyond_the_end_is_empty_not_an_error(client, search, make_report):
    make_report()
    search.index()
    code, body = api(client, page=50)
    assert code == 200 and body["total"] == 1 and body["items"] == []


def test_api_filters_and_repeated_parameters(client, search, make_report):
    make_report(title="A", field_slug="dien", ward_code=25708)
    make_report(title="B", field_slug="giao-thong", ward_code=25654)
    make_report(title="C", field_slug="y-te", ward_code=25654)
    search.index()
    _, body = api(client, path="/api/v1/reports?field=dien&field=y-te")
    assert sorted(i["title"] for i in body["items"]) == ["A", "C"]
    _, body = api(client, region="25654")
    assert sorted(i["title"] for i in body["items"]) == ["B", "C"]
    _, body = api(client, region="80")
    assert body["total"] == 3


def test_api_phone_search_is_post_only_and_exact(client, search, make_report):
    make_report(title="Có số", sender_phone="0362345678")
    make_report(title="Bảo mật", sender_phone="0362345678", confidential=True)
    search.index()
    response = client.post("/api/v1/reports/search", json={"phone": "+84 1662 345 678"})  # old prefix
    assert response.status_code == 200
    assert [i["title"] for i in response.get_json()["items"]] == ["Có số"]
    response = client.post("/api/v1/reports/search", json={"phone": "036234567"})  # a prefix
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_phone"
    response = client.post("/api/v1/reports/search", json={"phone": "0362345670"})  # one digit off
    assert response.status_code == 200 and response.get_json()["total"] == 0
    response = client.post("/api/v1/reports/search", json={"phone": "abc"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_phone"
    response = client.post("/api/v1/reports/search", data="not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"


def test_api_one_report_and_meta(client, search, make_report):
    report = make_report(title="Công khai")
    hidden = make_report(title="Ẩn", published=False)
    code, body = api(client, path=f"/api/v1/reports/{report.code.lower()}")
    assert code == 200 and body["code"] == report.code and body["timeline"] is not None
    assert api(client, path=f"/api/v1/reports/{hidden.code}")[0] == 404
    assert api(client, path="/api/v1/reports/PA-2222-2222")[0] == 404
    _, fields = api(client, path="/api/v1/meta/fields")
    assert len(fields) == 13 and fields[0] == {"slug": "giao-thong", "name": "Giao thông"}
    _, regions = api(client, path="/api/v1/meta/regions")
    assert regions[0]["code"] == 80 and regions[0]["name"] == "Tây Ninh"
    assert {"code": 25708, "name": "Phường Trảng Bàng"} in regions[0]["wards"]


def test_engine_unreachable_gives_503_with_a_vietnamese_message(client, search, app, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    app.extensions["pakn_search"] = SqliteEngine(blocker / "search.sqlite3")
    code, body = api(client, q="ngập")
    assert code == 503 and body["error"]["code"] == "search_unavailable"
    assert "tạm thời gián đoạn" in body["error"]["message"]
    page = client.get("/tra-cuu?q=ngap")
    assert page.status_code == 503
    assert "tạm thời gián đoạn" in page.get_data(as_text=True)


# -- Tra cứu page -----------------------------------------------------------------------------------
def test_tra_cuu_finds_unaccented_query_with_highlights_and_facets(client, search, make_report):
    make_report(title="Đường ngập nước sau mưa", field_slug="cap-thoat-nuoc")
    make_report(title="Mất điện", field_slug="dien")
    search.index()
    html = client.get("/tra-cuu?q=ngap+nuoc").get_data(as_text=True)
    assert "Tìm thấy 1 kết quả" in html
    assert "<mark>ngập</mark> <mark>nước</mark>" in html
    assert "Cấp thoát nước</a> <span class=\"count\">1</span>" in html
    assert "Mất điện" not in html.split("results-title")[1]


def test_tra_cuu_paginates_and_keeps_parameters_in_links(client, search, make_report):
    for i in range(25):
        make_report(title=f"Phản ánh đường số {i:02d}", field_slug="giao-thong")
    search.index()
    first = client.get("/tra-cuu?q=duong&field=giao-thong").get_data(as_text=True)
    second = client.get("/tra-cuu?q=duong&field=giao-thong&page=2").get_data(as_text=True)
    assert first.count('class="card result"') == 20 and second.count('class="card result"') == 5
    assert "page=2" in first and "field=giao-thong" in first.split('rel="next"')[0].rsplit("href=", 1)[1]


def test_tra_cuu_phone_search_is_posted_and_never_in_a_link(client, search, make_report):
    make_report(title="Theo số điện thoại", sender_phone="0912345678")
    make_report(title="Số khác", sender_phone="0912345679")
    search.index()
    response = client.post("/tra-cuu", data={"phone": "0912 345 678", "q": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Theo số điện thoại" in html and "Số khác" not in html
    assert "0912345678" not in html.replace('value="0912 345 678"', "")
    assert "091*****78" in html


def test_tra_cuu_bad_input_keeps_what_was_typed(client, search):
    response = client.get("/tra-cuu?q=ngập+nước&from=2025-02-30")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'value="ngập nước"' in html and "không tồn tại" in html


def test_tra_cuu_empty_state_helps(client, search, make_report):
    make_report(title="Mất điện")
    search.index()
    html = client.get("/tra-cuu?q=khongcogi").get_data(as_text=True)
    assert "Không tìm thấy phản ánh phù hợp" in html and "gõ không dấu" in html


def test_any_word_fallback_is_said_on_the_page(client, search, make_report):
    make_report(title="Mất điện")
    make_report(title="Ngập nước")
    search.index()
    html = client.get("/tra-cuu?q=điện+nước").get_data(as_text=True)
    assert "chứa một trong các từ" in html


def test_the_staff_index_holds_every_report_and_rebuilds_with_the_public_one(session, search, make_report, cli):
    public = make_report(title="Công khai")
    private = make_report(title="Chưa công khai", published=False, status="pending")
    secret = make_report(title="Bảo mật", confidential=True, sender_name="Tên Kín")
    search.index()
    assert search.engine.count() == 2 and search.staff_engine.count() == 3
    staff_docs = {h.id: h.doc for h in search.staff_engine.search(SearchQuery(per_page=10)).hits}
    assert set(staff_docs) == {public.id, private.id, secret.id}
    assert "sender_name" not in staff_docs[secret.id]  # shown only on the audited staff page
    search.staff_engine.drop()
    result = cli.invoke(args=["index", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "chỉ mục công khai: 2" in result.output and "chỉ mục cán bộ: 3" in result.output
    assert search.staff_engine.count() == 3
    session.get(Report, private.id).published = True  # (the rebuild expunged the test's objects)
    session.commit()
    result = cli.invoke(args=["index", "reconcile", "--scope", "public"])
    assert "Chỉ mục công khai" in result.output and "cán bộ" not in result.output
    assert search.engine.count() == 3


def test_past_the_bound_pages_say_more_than_and_exports_still_count_every_match(app, client, search, make_report,
                                                                                monkeypatch):
    """SEARCH_TOTAL_BOUND (10,000 in production; 6 here): Tra cứu, the API and the staff-facing
    totals say "more than", pages stop there, and the CSV export holds every match with its exact count."""
    monkeypatch.setitem(app.config, "SEARCH_TOTAL_BOUND", 6)
    for i in range(9):
        make_report(title=f"Đường ngập nước số {i}", field_slug="giao-thong" if i % 2 else "moi-truong")
    make_report(title="Mất điện")
    search.index()
    html = client.get("/tra-cuu?q=ngap+nuoc&per_page=3").get_data(as_text=True)
    assert "Tìm thấy hơn 6 kết quả" in html
    assert "Số đếm trong 6 kết quả mới nhất" in html
    assert "Trang 1/2" in html  # 6 reachable results, 3 a page
    status, body = api(client, q="ngập nước")
    assert status == 200 and body["total"] == 6 and body["total_exact"] is False and body["facets_exact"] is False
    status, body = api(client, q="ngập nước", page=3, per_page=3)
    assert status == 400 and body["error"]["code"] == "page_too_deep"
    export = client.get("/api/v1/reports.csv?q=ngap+nuoc")
    assert export.status_code == 200 and export.headers["X-Total-Count"] == "9"
    assert export.get_data(as_text=True).count("ngập nước số") == 9
    status, body = api(client, q="mất điện")
    assert body["total"] == 1 and body["total_exact"] is True and body["facets_exact"] is True
