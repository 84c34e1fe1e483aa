"""One search request (issue 14 item 3): every surface that searches reads its parameters through
``webapp.search.request.SearchRequest``, so the same parameters give the same filter everywhere, a
phone number in a URL is refused everywhere, and the links a page hands out keep the search.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.datastructures import MultiDict

from webapp.search.request import FILTER_PARAMS, KEPT_PARAMS, SearchRequest

PHONE = "0912345678"
# A filtered search: words, two fields, a ward, a type, a status and a date range.
FILTERED = MultiDict([("q", "ngập nước"), ("field", "giao-thong"), ("field", "moi-truong"), ("region", "25708"),
                      ("type", "pakn"), ("status", "accepted"), ("from", "2025-02-01"), ("to", "2025-03-31")])


@pytest.fixture
def corpus(make_report, search):
    """Reports that each miss exactly one filter of FILTERED, and five that match all of them."""
    at = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)

    def report(title: str, **values) -> None:
        make_report(title=title, content="Mô tả chi tiết sự việc tại địa phương.", **{"submitted_at": at, **values})

    for i in range(5):
        report(f"Đường ngập nước số {i}", field_slug="giao-thong" if i % 2 else "moi-truong")
    report("Đường ngập nước ở phường khác", ward_code=25654)
    report("Điện ngập nước", field_slug="dien")
    report("Ý tưởng chống ngập nước", type="idea")
    report("Ngập nước chờ xử lý", status="pending")
    report("Ngập nước năm trước", submitted_at=datetime(2024, 3, 1, 1, 0, tzinfo=UTC))
    report("Cây đổ chắn đường")  # the words are missing
    search.index()


def as_json(params: MultiDict) -> dict:
    """The same search as a JSON body (lists for every parameter but the words)."""
    body = params.to_dict(flat=False)
    if "q" in body:
        body["q"] = body["q"][0]
    return body


ATOM = "{http://www.w3.org/2005/Atom}"


def feed_entries(body: str) -> int:
    return len(ET.fromstring(body).findall(f"{ATOM}entry"))  # noqa: S314 - our own feed


def feed_self_args(body: str) -> dict[str, list[str]]:
    links = ET.fromstring(body).findall(f"{ATOM}link")  # noqa: S314 - our own feed
    href = next(link.get("href") for link in links if link.get("rel") == "self")
    return parse_qs(urlsplit(href).query)


def page_total(html: str) -> int:
    found = re.search(r"Tìm thấy ([\d.,]+) kết quả", html)
    return int(re.sub(r"\D", "", found.group(1))) if found else 0


def totals_on_every_surface(client, params: MultiDict) -> dict[str, int]:
    """The number of reports each public surface finds for the same search parameters."""
    args = params.to_dict(flat=False)
    totals = {}
    page = client.get("/tra-cuu", query_string=args)
    assert page.status_code == 200
    totals["tra_cuu"] = page_total(page.get_data(as_text=True))
    get = client.get("/api/v1/reports", query_string=args)
    assert get.status_code == 200
    totals["api_get"] = get.get_json()["total"]
    post = client.post("/api/v1/reports/search", json=as_json(params))
    assert post.status_code == 200
    totals["api_post"] = post.get_json()["total"]
    export = client.get("/api/v1/reports.csv", query_string=args)
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert int(export.headers["X-Total-Count"]) == len(rows)
    totals["csv"] = len(rows)
    jsonl = client.get("/api/v1/reports.jsonl", query_string=args)
    totals["jsonl"] = len([line for line in jsonl.get_data(as_text=True).splitlines() if line])
    feed = client.get("/tra-cuu/feed.atom", query_string=args)
    assert feed.status_code == 200
    totals["feed"] = feed_entries(feed.get_data(as_text=True))
    stats = client.get("/api/v1/stats", query_string=args)
    assert stats.status_code == 200
    totals["stats"] = stats.get_json()["total"]
    stats_page = client.get("/thong-ke", query_string=args)
    assert stats_page.status_code == 200
    return totals


def test_the_same_parameters_give_the_same_reports_on_every_surface(client, corpus):
    totals = totals_on_every_surface(client, FILTERED)
    assert set(totals.values()) == {5}, totals
    # Without filters, every surface counts the same reports as the page.
    assert set(totals_on_every_surface(client, MultiDict([("q", "ngập")])).values()) == {10}


def test_any_word_fallback_is_the_same_on_every_surface(client, corpus):
    # No report holds both "chắn" and "ý tưởng": the page shows reports with any of the words,
    # and the export, feed and statistics hold exactly those.
    params = MultiDict([("q", "chắn tưởng")])
    answer = client.get("/api/v1/reports", query_string=params).get_json()
    assert answer["any_words"] is True and answer["total"] == 2
    assert client.get("/api/v1/stats", query_string=params).get_json()["any_words"] is True
    assert set(totals_on_every_surface(client, params).values()) == {2}


def test_open311_list_filters_like_the_search(client, corpus):
    window = {"start_date": "2025-02-01", "end_date": "2025-03-31"}
    found = client.get("/open311/v2/requests.json", query_string={"q": "ngập nước", "service_code": "giao-thong",
                                                                  **window})
    ours = client.get("/api/v1/reports", query_string={"q": "ngập nước", "field": "giao-thong",
                                                       "from": "2025-02-01", "to": "2025-03-31"}).get_json()
    assert found.status_code == 200
    assert int(found.headers["X-Total-Count"]) == ours["total"] == len(found.get_json())
    assert sorted(r["service_request_id"] for r in found.get_json()) == sorted(i["code"] for i in ours["items"])
    # Our errors come back under GeoReport's names.
    bad = client.get("/open311/v2/requests.json", query_string={"page_size": "abc"})
    assert bad.status_code == 400 and "page_size" in bad.get_json()[0]["description"]


def test_similar_suggestions_match_any_word(client, corpus):
    items = client.post("/api/v1/reports/similar", json={"text": "cây đổ và ý tưởng mới"}).get_json()["items"]
    assert {i["title"] for i in items} == {"Cây đổ chắn đường", "Ý tưởng chống ngập nước"}
    assert client.post("/api/v1/reports/similar", json={"text": "x" * 5000}).get_json() == {"items": []}


# -- the phone policy ---------------------------------------------------------------------------------------
JSON_SURFACES = ["/api/v1/reports", "/api/v1/reports.csv", "/api/v1/reports.jsonl", "/api/v1/stats"]
PAGE_SURFACES = ["/tra-cuu", "/thong-ke"]
PAGE_MESSAGE = "Không đưa số điện thoại vào địa chỉ trang"


@pytest.mark.parametrize("path", JSON_SURFACES)
@pytest.mark.parametrize("phone", [PHONE, "", "+84 912 345 678"])
def test_a_phone_in_the_url_of_an_api_is_refused(client, corpus, path, phone):
    response = client.get(path, query_string={"q": "ngập", "phone": phone})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "phone_in_url" and error["field"] == "phone"
    assert "số điện thoại" in error["message"]


@pytest.mark.parametrize("path", PAGE_SURFACES)
def test_a_phone_in_the_url_of_a_page_is_refused_with_a_message(client, corpus, path):
    response = client.get(path, query_string={"q": "ngập nước", "phone": PHONE})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert PAGE_MESSAGE in html and "Tìm theo số điện thoại người gửi" in html
    assert 'value="ngập nước"' in html  # what was typed is kept
    assert f'value="{PHONE}"' not in html and "Đường ngập nước số" not in html  # not taken, nothing searched


def test_a_phone_in_the_url_of_the_feed_is_refused(client, corpus):
    response = client.get("/tra-cuu/feed.atom", query_string={"phone": PHONE})
    assert response.status_code == 400 and "số điện thoại" in response.get_data(as_text=True)
    assert PHONE not in response.get_data(as_text=True)


def test_a_phone_in_the_url_of_saving_a_search_is_refused(client, corpus, otp_login, session):
    from webapp.opendata.models import SavedSearch

    otp_login("0987654321")
    response = client.post("/tim-kiem-da-luu/moi", query_string={"q": "ngập", "phone": PHONE},
                           data={"name": "Ngập", "frequency": "none", "email": ""})
    assert response.status_code == 400 and PAGE_MESSAGE in response.get_data(as_text=True)
    assert session.query(SavedSearch).count() == 0


def test_a_phone_in_the_url_of_the_staff_inbox_and_open311_is_refused(client, corpus, make_staff, staff_login):
    officer = staff_login(make_staff("hop-thu-sdt", "officer"))
    inbox = officer.get("/can-bo/hop-thu", query_string={"phone": PHONE})
    assert inbox.status_code == 400 and PAGE_MESSAGE in inbox.get_data(as_text=True)
    open311 = client.get("/open311/v2/requests.json", query_string={"phone": PHONE})
    assert open311.status_code == 400 and "phone" in open311.get_json()[0]["description"]


def test_the_phone_is_searched_from_a_post_body_exactly(client, make_report, search):
    make_report(title="Có số", sender_phone="0362345678")
    make_report(title="Số gần giống", sender_phone="0362345679")
    search.index()
    page = client.post("/tra-cuu", data={"phone": "+84 1662 345 678"}).get_data(as_text=True)  # the old prefix
    assert "Có số" in page and "Số gần giống" not in page
    api = client.post("/api/v1/reports/search", json={"phone": "0362 345 678"}).get_json()
    assert [i["title"] for i in api["items"]] == ["Có số"]


# -- kept parameters ------------------------------------------------------------------------------------------
def link_args(html: str, path: str) -> dict[str, list[str]]:
    start = html.index(f"{path}?")
    link = html[start:html.index('"', start)].replace("&amp;", "&")
    return parse_qs(urlsplit(link).query)


def test_the_links_of_a_page_keep_the_search_and_lead_to_the_same_reports(client, corpus, otp_login, session):
    asked = MultiDict(FILTERED)
    asked.add("sort", "oldest")
    asked.add("per_page", "2")
    html = client.get("/tra-cuu", query_string=asked.to_dict(flat=False)).get_data(as_text=True)
    expected = {k: asked.getlist(k) for k in KEPT_PARAMS}
    # The pager keeps everything and adds the page.
    next_start = html.index('rel="next"')
    pager = html[html.rindex("href=", 0, next_start) + 6:next_start - 2].replace("&amp;", "&")
    pager_args = parse_qs(urlsplit(pager).query)
    assert pager_args.pop("page") == ["2"] and pager_args == expected
    second = client.get(pager).get_data(as_text=True)
    assert page_total(second) == 5 and second.count('class="card result"') == 2
    # The exports, feed and saved search keep the search, never a page.
    for path in ("/api/v1/reports.csv", "/api/v1/reports.jsonl", "/tra-cuu/feed.atom", "/tim-kiem-da-luu/moi"):
        assert link_args(html, path) == expected, path
    csv_link = html[html.index("/api/v1/reports.csv?"):].split('"', 1)[0].replace("&amp;", "&")
    assert client.get(csv_link).headers["X-Total-Count"] == "5"
    # The feed's own links keep the filters (its size, order and page are its own).
    feed = client.get(html[html.index("/tra-cuu/feed.atom?"):].split('"', 1)[0].replace("&amp;", "&"))
    assert feed_self_args(feed.get_data(as_text=True)) == {k: asked.getlist(k) for k in FILTER_PARAMS}
    assert feed_entries(feed.get_data(as_text=True)) == 5

    # A saved search stores the filters and gives them back through the same request object.
    otp_login("0987654321")
    saved_link = html[html.index("/tim-kiem-da-luu/moi?"):].split('"', 1)[0].replace("&amp;", "&")
    assert client.post(saved_link, data={"name": "Ngập", "frequency": "none", "email": ""}).status_code == 302
    from webapp.opendata.models import SavedSearch

    row = session.query(SavedSearch).one()
    stored = SearchRequest.from_saved(row.query_string)
    assert stored.params().to_dict(flat=False) == {k: asked.getlist(k) for k in FILTER_PARAMS}
    listing = client.get("/tim-kiem-da-luu").get_data(as_text=True)
    results_link = listing[listing.index("/tra-cuu?"):].split('"', 1)[0].replace("&amp;", "&")
    assert page_total(client.get(results_link).get_data(as_text=True)) == 5


def test_stats_links_keep_the_filters(client, corpus):
    html = client.get("/thong-ke", query_string=FILTERED.to_dict(flat=False)).get_data(as_text=True)
    expected = {k: FILTERED.getlist(k) for k in FILTER_PARAMS}
    assert link_args(html, "/tra-cuu") == expected
    assert link_args(html, "/api/v1/stats") == expected


@pytest.mark.parametrize("args", [
    [("q", " ngập  nước "), ("region", "80"), ("region", "25708"), ("field", "dien,y-te"), ("type", "idea"),
     ("from", "2025-01-01"), ("sort", "newest"), ("per_page", "5"), ("page", "3"), ("csrf_token", "x")],
    [("q", "")],
    [("status", "processing"), ("status", "answered"), ("to", "2026-12-31"), ("field", "")],
])
def test_kept_parameters_round_trip_to_the_same_query(app, session, args):
    with app.test_request_context("/"):
        first = SearchRequest.from_args(MultiDict(args))
        again = SearchRequest.from_args(first.params())
        assert again.query() == first.query()
        assert "csrf_token" not in first.params() and "phone" not in first.params()
        saved = SearchRequest.from_saved(first.query_string())
        assert saved.query_string() == first.query_string()
        filters = saved.query()
        assert (filters.q, filters.provinces, filters.wards, filters.fields, filters.types, filters.statuses,
                filters.date_from, filters.date_to) == (
            first.query().q, first.query().provinces, first.query().wards, first.query().fields,
            first.query().types, first.query().statuses, first.query().date_from, first.query().date_to)
        posted = SearchRequest.from_json(as_json(first.params()))
        assert posted.query() == first.query()


# -- one home ---------------------------------------------------------------------------------------------------
SEARCH_KEYS = r"(?:q|region|field|type|status|from|to|sort|page|per_page|phone)"
RAW_READ = re.compile(
    rf"""request\.(?:args|form|values)\s*(?:\.\s*(?:get|getlist)\s*\(\s*|\[\s*)["']{SEARCH_KEYS}["']"""
    rf"""|["']{SEARCH_KEYS}["']\s+(?:not\s+)?in\s+request\.(?:args|form|values)""")
OTHER_HOMES = re.compile(r"\bparse_params\b|\bSearchQuery\s*\(|\bany_words\s*=")
WEBAPP = Path(__file__).resolve().parents[2] / "webapp"
HOME = WEBAPP / "search" / "request.py"
# Not a search: "PAKN của tôi" filters the citizen's own reports (sent, unpublished too) in the
# database, never through the search contract.
NOT_A_SEARCH = {WEBAPP / "reports" / "routes.py"}


def test_search_parameters_are_read_in_one_place():
    raw_reads, other_homes = [], []
    for path in sorted(WEBAPP.rglob("*.py")):
        if path == HOME:
            continue
        source = path.read_text(encoding="utf-8")
        if path not in NOT_A_SEARCH:
            raw_reads += [f"{path.relative_to(WEBAPP)}: {m.group(0)}" for m in RAW_READ.finditer(source)]
        other_homes += [f"{path.relative_to(WEBAPP)}: {m.group(0)}" for m in OTHER_HOMES.finditer(source)]
    assert raw_reads == [], "search parameters read outside webapp/search/request.py"
    assert other_homes == [], "a search built or a phone policy decided outside webapp/search/request.py"
    # The scan is not vacuous: it sees the home's own reads and the one exception's.
    assert RAW_READ.search('request.args.get("q")') and RAW_READ.search('"phone" in request.args')
    assert RAW_READ.search((WEBAPP / "reports" / "routes.py").read_text(encoding="utf-8"))


def test_the_staff_inbox_pager_keeps_the_search(make_report, make_staff, staff_login, search):
    reports = [make_report(title=f"Phản ánh {i}", field_slug=("giao-thong", "moi-truong", "dien")[i % 3])
               for i in range(8)]
    search.index()
    officer = staff_login(make_staff("hop-thu-trang", "officer"))
    html = officer.get("/can-bo/hop-thu", query_string={"field": ["giao-thong", "moi-truong"], "per_page": "2"}
                       ).get_data(as_text=True)
    next_start = html.index('rel="next"')
    start = html.index('href="', next_start) + 6
    pager = html[start:html.index('"', start)].replace("&amp;", "&")
    assert parse_qs(urlsplit(pager).query) == {"field": ["giao-thong", "moi-truong"], "per_page": ["2"], "page": ["2"]}
    second = officer.get(pager).get_data(as_text=True)
    shown = [r for r in reports if r.code in second]
    assert len(shown) == 2 and all(r.field.slug in ("giao-thong", "moi-truong") for r in shown)
