"""Thống kê: the page and GET /api/v1/stats over the search filters, on both database backends."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from indexer.sqlite_fts import SqliteEngine
from webapp.auth.models import Unit
from webapp.reports.models import Answer
from webapp.stats.services import MIN_GROUP_SIZE

START = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam


def stats(client, **params):
    response = client.get("/api/v1/stats", query_string=params or None)
    return response.status_code, response.get_json()


def by_key(rows):
    return {row["key"]: row for row in rows}


@pytest.fixture
def make_unit(session):
    def make(name: str) -> Unit:
        unit = Unit(name=name, slug=name.lower().replace(" ", "-"))
        session.add(unit)
        session.flush()
        return unit
    return make


@pytest.fixture
def answered(session, make_report):
    """A report answered by ``unit`` ``days`` after submission; on time or late by a day."""
    def make(unit: Unit, days: float, on_time: bool | None = True, **values):
        published = START + timedelta(days=days)
        deadline = None if on_time is None else published + timedelta(days=1 if on_time else -1)
        report = make_report(status="answered", submitted_at=START, deadline_at=deadline, **values)
        report.answers.append(Answer(unit=unit, text="Đã xử lý xong.", state="approved",
                                     answered_at=published, published_at=published))
        session.flush()
        return report
    return make


# -- counts -------------------------------------------------------------------------------------------
def test_counts_by_field_ward_status_and_month_follow_the_filters(client, search, make_report):
    make_report(title="Mất điện", field_slug="dien", ward_code=25708, status="accepted",
                submitted_at=datetime(2025, 1, 10, 3, 0, tzinfo=UTC))
    make_report(title="Ổ gà trên đường", field_slug="giao-thong", ward_code=25654, status="processing",
                submitted_at=datetime(2025, 3, 2, 3, 0, tzinfo=UTC))
    make_report(title="Bệnh viện quá tải", field_slug="y-te", ward_code=25654, status="processing",
                submitted_at=datetime(2025, 3, 20, 3, 0, tzinfo=UTC))
    make_report(title="Trồng thêm cây xanh", type="idea", field_slug="giao-thong", ward_code=25708,
                submitted_at=datetime(2025, 3, 31, 18, 0, tzinfo=UTC))  # 1 April in Vietnam
    make_report(title="Chưa công khai", field_slug="dien", published=False)
    search.index()

    code, body = stats(client)
    assert code == 200 and body["total"] == 4 and body["any_words"] is False
    assert [(r["key"], r["label"], r["count"]) for r in body["by_field"]] == [
        ("giao-thong", "Giao thông", 2), ("dien", "Điện", 1), ("y-te", "Y tế", 1)]
    assert {r["key"]: r["count"] for r in body["by_ward"]} == {25708: 2, 25654: 2}
    assert by_key(body["by_ward"])[25708]["label"] == "Phường Trảng Bàng"
    assert [(r["key"], r["label"], r["count"]) for r in body["by_status"]] == [
        ("accepted", "Đã tiếp nhận", 2), ("processing", "Đang xử lý", 2)]
    # Months of submission in Vietnam's time, oldest first, the empty February included.
    assert [(r["key"], r["label"], r["count"]) for r in body["by_month"]] == [
        ("2025-01", "01/2025", 1), ("2025-02", "02/2025", 0), ("2025-03", "03/2025", 2), ("2025-04", "04/2025", 1)]

    cases = [{"field": ["dien", "y-te"]}, {"region": "25654"}, {"region": "80"}, {"type": "idea"},
             {"status": "processing"}, {"from": "2025-03-01", "to": "2025-03-31"}, {"q": "duong"},
             {"field": "giao-thong", "type": "pakn"}]
    for params in cases:
        _, body = stats(client, **params)
        listed = client.get("/api/v1/reports", query_string=params).get_json()
        assert body["total"] == listed["total"] == sum(r["count"] for r in body["by_field"]), params
    _, body = stats(client, field=["dien", "y-te"])
    assert {r["key"] for r in body["by_field"]} == {"dien", "y-te"}
    assert body["filters"] == {"q": "", "region": [], "field": ["dien", "y-te"], "type": [], "status": [],
                               "from": None, "to": None}
    _, body = stats(client, **{"from": "2025-03-01", "to": "2025-03-31", "region": "25654"})
    assert body["total"] == 2 and body["filters"]["from"] == "2025-03-01" and body["filters"]["to"] == "2025-03-31"
    assert body["filters"]["region"] == [25654]
    _, body = stats(client, **{"from": "2025-04-01"})
    assert [r["key"] for r in body["by_field"]] == ["giao-thong"] and body["by_month"][0]["key"] == "2025-04"


def test_any_word_fallback_is_the_search_pages(client, search, make_report):
    make_report(title="Mất điện")
    make_report(title="Ngập nước")
    search.index()
    _, body = stats(client, q="điện nước")
    assert body["any_words"] is True and body["total"] == 2
    html = client.get("/thong-ke?q=điện+nước").get_data(as_text=True)
    assert "chứa một trong các từ" in html


def test_unpublished_reports_and_their_answers_are_not_counted(client, search, make_report, make_unit, answered):
    unit = make_unit("Sở Xây dựng")
    answered(unit, 2, field_slug="dien")
    hidden = answered(unit, 3, field_slug="y-te")
    hidden.published = False
    make_report(field_slug="y-te", published=False)
    search.index()
    _, body = stats(client)
    assert body["total"] == 1 and [r["key"] for r in body["by_field"]] == ["dien"]
    assert body["timeliness"]["overall"]["answered"] == 1
    assert by_key(body["timeliness"]["by_unit"])[unit.id]["answered"] == 1


def test_confidential_reports_are_counted_and_nothing_of_the_sender_shows(client, search, make_report):
    make_report(title="Công khai", sender_name="Lê Công Khai", sender_phone="0912345678")
    make_report(title="Bảo mật", confidential=True, sender_name="Lê Bí Mật", sender_phone="0987654321",
                sender_email="bimat@example.vn", sender_address="Số 9 hẻm 3")
    search.index()
    _, body = stats(client)
    assert body["total"] == 2
    texts = [json.dumps(body, ensure_ascii=False), client.get("/thong-ke").get_data(as_text=True)]
    for text in texts:
        for value in ("Lê Bí Mật", "0987654321", "987654321", "bimat@example.vn", "Số 9 hẻm 3",
                      "Lê Công Khai", "0912345678"):
            assert value not in text


# -- timeliness ---------------------------------------------------------------------------------------
def test_a_group_of_19_has_no_rate_or_rank_and_one_of_20_does(client, search, make_unit, answered):
    assert MIN_GROUP_SIZE == 20
    slow, fast, small = make_unit("Sở Chậm"), make_unit("Sở Nhanh"), make_unit("Sở Nhỏ")
    for i in range(20):  # 1.5 … 20.5 days; 15 on time, 5 late
        answered(slow, i + 1.5, on_time=i < 15, field_slug="giao-thong", ward_code=25708)
    for i in range(20):  # all on time, 1 … 20 days
        answered(fast, i + 1, field_slug="dien", ward_code=25654)
    for _i in range(19):
        answered(small, 1, field_slug="y-te", ward_code=25459)
    search.index()

    code, body = stats(client)
    assert code == 200 and body["total"] == 59
    t = body["timeliness"]
    assert t["min_group_size"] == 20
    units = by_key(t["by_unit"])
    assert units[slow.id] == {
        "key": slow.id, "label": "Sở Chậm", "answered": 20, "with_deadline": 20, "on_time": 15,
        "on_time_rate": 0.75, "median_days": 11.0, "rank": 2, "too_few": False, "too_few_deadlines": False}
    assert units[fast.id]["on_time_rate"] == 1.0 and units[fast.id]["rank"] == 1
    assert units[fast.id]["median_days"] == 10.5
    assert units[small.id] == {
        "key": small.id, "label": "Sở Nhỏ", "answered": 19, "with_deadline": 19, "on_time": 19,
        "on_time_rate": None, "median_days": None, "rank": None, "too_few": True, "too_few_deadlines": False}
    assert [g["key"] for g in t["by_unit"]] == [fast.id, slow.id, small.id]  # ranked first, best first

    fields = by_key(t["by_field"])
    assert fields["giao-thong"]["on_time_rate"] == 0.75 and fields["giao-thong"]["label"] == "Giao thông"
    assert fields["y-te"]["too_few"] is True and fields["y-te"]["rank"] is None
    wards = by_key(t["by_ward"])
    assert wards[25708]["on_time"] == 15 and wards[25708]["rank"] == 2
    assert wards[25459]["on_time_rate"] is None and wards[25459]["too_few"] is True
    assert t["overall"]["answered"] == 59 and t["overall"]["on_time"] == 54
    assert t["overall"]["on_time_rate"] == round(54 / 59, 4)

    html = client.get("/thong-ke").get_data(as_text=True)
    assert "Dưới 20 phản ánh: không tính tỷ lệ" in html
    assert "75%" in html and "11" in html
    small_row = html.split("<th scope=\"row\">Sở Nhỏ</th>")[1].split("</tr>")[0]
    assert "%" not in small_row and "—" in small_row


def test_each_unit_is_judged_on_its_own_first_answer_and_a_report_on_its_first(
        client, search, session, make_unit, answered):
    a, b = make_unit("Đơn vị A"), make_unit("Đơn vị B")
    report = answered(a, 2)  # A answers on day 2, within the deadline (day 3)
    later = START + timedelta(days=5)
    report.answers.append(Answer(unit=b, text="Bổ sung.", state="approved", answered_at=later, published_at=later))
    report.answers.append(Answer(unit=a, text="Bổ sung lần hai.", state="approved",
                                 answered_at=later, published_at=later))
    report.answers.append(Answer(unit=b, text="Bản nháp.", state="draft"))  # not published: ignored
    session.flush()
    search.index()
    t = stats(client)[1]["timeliness"]
    units = by_key(t["by_unit"])
    assert (units[a.id]["answered"], units[a.id]["on_time"]) == (1, 1)
    assert (units[b.id]["answered"], units[b.id]["on_time"]) == (1, 0)
    assert (t["overall"]["answered"], t["overall"]["on_time"]) == (1, 1)


# -- errors and faults --------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "code", "field"), [
    ({"from": "2025-02-30"}, "bad_date", "from"),
    ({"from": "2025-04-01", "to": "2025-03-01"}, "date_range", "from"),
    ({"region": "999999"}, "unknown_region", "region"),
    ({"field": "the-thao"}, "unknown_field", "field"),
    ({"type": "complaint"}, "invalid_parameter", "type"),
    ({"status": "lost"}, "invalid_parameter", "status"),
    ({"q": "x" * 201}, "query_too_long", "q"),
])
def test_bad_filters_get_400_json_and_a_message_on_the_page(client, search, params, code, field):
    status_code, body = stats(client, **params)
    assert status_code == 400
    assert body["error"]["code"] == code and body["error"]["field"] == field and body["error"]["message"]
    page = client.get("/thong-ke", query_string=params)
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert body["error"]["message"].replace("'", "&#39;") in html
    assert "<svg" not in html


def test_paging_and_sorting_are_not_filters(client, search, make_report):
    make_report()
    search.index()
    code, body = stats(client, page="0", per_page="abc", sort="random")
    assert code == 200 and body["total"] == 1
    # A phone is not a filter either, and in a URL it is refused (issue 14: one phone policy).
    code, body = stats(client, phone="0912345678")
    assert code == 400 and body["error"]["code"] == "phone_in_url"


def test_the_page_keeps_what_was_typed(client, search):
    html = client.get("/thong-ke?q=ngập+nước&from=2025-02-30&field=dien").get_data(as_text=True)
    assert 'value="ngập nước"' in html and 'value="2025-02-30"' in html
    assert '<option value="dien" selected>' in html and "không tồn tại" in html


def test_engine_down_gives_503_and_the_standard_message(client, search, app, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    app.extensions["pakn_search"] = SqliteEngine(blocker / "search.sqlite3")
    code, body = stats(client)
    assert code == 503 and body["error"]["code"] == "search_unavailable"
    assert "tạm thời gián đoạn" in body["error"]["message"]
    page = client.get("/thong-ke?field=dien")
    assert page.status_code == 503
    html = page.get_data(as_text=True)
    assert "tạm thời gián đoạn" in html and '<option value="dien" selected>' in html


def test_engine_failing_in_the_middle_of_the_scan_is_a_503_too(client, search, make_report, monkeypatch):
    from indexer.engine import EngineUnavailable

    make_report()
    search.index()

    def broken(query, batch=500):
        yield from ()
        raise EngineUnavailable("scroll lost")

    monkeypatch.setattr(search.engine, "scan", broken)
    assert stats(client)[0] == 503
    assert client.get("/thong-ke").status_code == 503


# -- the page -----------------------------------------------------------------------------------------
def test_page_draws_accessible_charts_with_tables_and_links_to_tra_cuu(client, search, make_report, make_unit,
                                                                        answered):
    unit = make_unit("Sở Giao thông Vận tải")
    for i in range(MIN_GROUP_SIZE):
        answered(unit, i + 1, field_slug="giao-thong")
    make_report(field_slug="dien", status="processing")
    search.index()
    response = client.get("/thong-ke?field=giao-thong&field=dien&region=80")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('role="img"') == 5  # field, ward, status, month, on-time rate by unit
    for chart in ("chart-field", "chart-ward", "chart-status", "chart-month", "chart-unit"):
        assert f'<title id="{chart}-title">' in html and f'aria-labelledby="{chart}-title {chart}-desc"' in html
    assert 'viewBox="0 0 360' in html
    assert html.count("<details class=\"chart-table\">") == 4
    assert "<caption>Số phản ánh theo lĩnh vực</caption>" in html
    assert '<th scope="col">Lĩnh vực</th>' in html and '<th scope="row">Giao thông</th>' in html
    assert "<caption>Thời gian trả lời theo đơn vị</caption>" in html
    assert "Sở Giao thông Vận tải" in html and "ngày lịch" in html
    link = re.search(r'<a href="(/tra-cuu\?[^"]*)">Xem danh sách', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query) == {"field": ["giao-thong", "dien"], "region": ["80"]}
    assert '<option value="giao-thong" selected>' in html
    assert '<a href="/thong-ke" aria-current="page">Thống kê</a>' in html


def test_page_empty_state(client, search, make_report):
    make_report(field_slug="dien")
    search.index()
    html = client.get("/thong-ke?field=y-te").get_data(as_text=True)
    assert "Không có phản ánh nào khớp bộ lọc." in html and "<svg" not in html
