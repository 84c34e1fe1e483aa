"""Search journey on Tra cứu in real Chromium, at desktop and at phone width: a query typed without
diacritics, the advanced filters (field, ward with its type-to-filter box, date range), a facet
click, pagination, and the CSV/JSONL exports of the same search (BOM, Vietnamese text, row count,
no confidential sender)."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import WIDTHS, is_phone, make_app, open_menu, serve
from tests.e2e.test_send_e2e import assert_fits

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SECRET_NAME = "Lâm Thị Kín Đáo"
SECRET_PHONE = "0939123456"
SECRET_EMAIL = "kin.dao@example.vn"
SECRET_ADDRESS = "Số 9 hẻm 12 đường Cách Mạng Tháng Tám"
FLOOD_STREETS = ["Trưng Nữ Vương", "Cách Mạng Tháng Tám", "Nguyễn Chí Thanh", "Lê Lợi", "Hùng Vương",
                 "30 Tháng 4", "Trần Hưng Đạo", "Nguyễn Văn Rốp", "Phạm Văn Đồng"]
FIELDS = ["cap-thoat-nuoc", "cap-thoat-nuoc", "giao-thong"]  # two thirds "Cấp thoát nước"


def fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text).replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


@pytest.fixture(scope="module")
def search_server(tmp_path_factory):
    """One portal for the module: the demo data plus 36 published reports titled "... ngập nước ..."
    (one of them confidential), indexed before any browser opens a page."""
    from sqlalchemy import select

    from webapp.demo.seed import seed
    from webapp.extensions import db
    from webapp.reference.models import Field, Ward
    from webapp.reports.codes import new_code
    from webapp.reports.models import Report, StatusEvent
    from webapp.search.engines import get_engine
    from webapp.search.indexing import drain_outbox, rebuild

    app = make_app(tmp_path_factory.mktemp("search") / "instance")
    with app.app_context():
        seed(150, echo=lambda _: None)
        fields = {f.slug: f for f in db.session.scalars(select(Field))}
        wards = db.session.scalars(select(Ward).where(Ward.province_code == 80).order_by(Ward.code)).all()
        trang_bang = db.session.get(Ward, 25708)
        for i in range(36):
            street = FLOOD_STREETS[i % len(FLOOD_STREETS)]
            ward = trang_bang if i % 3 == 0 else wards[(i * 7) % len(wards)]
            submitted = datetime(2025, 1 + i % 12, 3 + i % 20, 2, 30, tzinfo=UTC)
            confidential = i == 4
            status = ("accepted", "processing", "answered")[i % 3]
            report = Report(
                code=new_code("pakn"), type="pakn", title=f"Đường {street} ngập nước sau mưa lớn",
                content=f"Đoạn đường {street} trước số {i + 3} ngập sâu, nước tràn vào nhà dân.",
                field=fields[FIELDS[i % 3]], ward=ward, province_code=ward.province_code,
                address=f"Số {i + 3} đường {street}",
                sender_name=SECRET_NAME if confidential else f"Nguyễn Văn Dân {i}",
                sender_phone=SECRET_PHONE if confidential else f"09120{i:05d}",
                sender_email=SECRET_EMAIL if confidential else None,
                sender_address=SECRET_ADDRESS if confidential else None,
                confidential=confidential, published=True, published_at=submitted, status=status,
                submitted_at=submitted, created_at=submitted, updated_at=submitted)
            report.events.append(StatusEvent(from_status=None, to_status="pending", note="Đã gửi",
                                             created_at=submitted))
            db.session.add(report)
        db.session.commit()
        engine = get_engine()
        engine.ensure_index()
        drain_outbox()
        rebuild(engine)
        confidential_code = db.session.scalar(select(Report.code).where(Report.sender_phone == SECRET_PHONE))
    with serve(app) as server:
        server.confidential_code = confidential_code
        yield server


def total_shown(page) -> int:
    text = page.locator("#results-title").inner_text()
    match = re.search(r"Tìm thấy ([\d.]+) kết quả", text)
    return int(match.group(1).replace(".", "")) if match else 0


def codes_shown(page) -> list[str]:
    return page.locator(".result-list .result .code").all_inner_texts()


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def search(page, server, text: str) -> int:
    """From the home page: Tra cứu in the menu, type the query, press Tìm; the number of results."""
    page.goto(f"{server.url}/")
    open_menu(page).get_by_role("link", name="Tra cứu", exact=True).click()
    page.wait_for_url("**/tra-cuu")
    page.get_by_role("searchbox", name="Tìm kiếm").fill(text)
    page.get_by_role("button", name="Tìm", exact=True).click()
    expect(page.locator("#results-title")).to_be_visible()
    return total_shown(page)


def open_filters(page) -> None:
    """On a phone the facets are above the results behind the "Bộ lọc" button: tap it (issue 16).
    The page's script shows the button and hides the facets; until it has run (it is deferred) the
    facets are still shown, so wait for the button before looking at them."""
    if not is_phone(page):
        return
    button = page.get_by_role("button", name=re.compile(r"^Bộ lọc"))
    expect(button).to_be_visible()
    if not page.locator("aside.facets").is_visible():
        assert button.bounding_box()["y"] < page.locator("section.results").bounding_box()["y"]
        button.click()
        expect(page.locator("aside.facets")).to_be_visible()
        assert page.locator("aside.facets").bounding_box()["y"] < page.locator("section.results").bounding_box()["y"]


def facet_link(page, facet: str, label: str):
    open_filters(page)
    return page.locator("aside.facets details.facet", has=page.locator("summary", has_text=facet)) \
        .locator("li", has=page.get_by_role("link", name=label, exact=False))


@WIDTHS
def test_folded_query_facet_and_pages(search_server, page):
    total = search(page, search_server, "ngap nuoc")
    assert query_of(page)["q"] == ["ngap nuoc"]
    assert total > 20  # more than one page
    # A query without diacritics finds the titles written with them, highlighted.
    first_titles = page.locator(".result-list .result h3").all_inner_texts()
    assert sum("ngập nước" in t for t in first_titles) >= 10
    marks = page.locator(".result-list .result h3 mark").all_inner_texts()
    assert marks and {fold(m) for m in marks} <= {"ngap", "nuoc", "ngap nuoc"}, marks
    assert any(m != fold(m) for m in marks)  # the highlighted text is the original, with its marks
    assert_fits(page)

    # Statuses partition the results: the status facet adds up to the total.
    open_filters(page)
    status_counts = page.locator("aside.facets details.facet", has=page.locator("summary", has_text="Trạng thái")) \
        .locator(".count").all_inner_texts()
    assert sum(int(c.replace(".", "")) for c in status_counts) == total

    # Page 2: other results, same query in the URL, same total.
    page_one = codes_shown(page)
    assert len(page_one) == 20
    page.get_by_role("navigation", name="Phân trang").get_by_role("link", name="2", exact=True).click()
    page.wait_for_url(re.compile(r".*[?&]page=2"))
    assert query_of(page)["q"] == ["ngap nuoc"]
    expect(page.locator(".pagination [aria-current=page]")).to_have_text("2")
    page_two = codes_shown(page)
    assert page_two and not set(page_one) & set(page_two)
    assert total_shown(page) == total
    assert page.locator(".result-list").get_attribute("start") == "21"
    assert_fits(page)

    # A facet (on a phone above the results, behind "Bộ lọc"): the count it shows is the
    # new total; the query stays, paging starts again.
    entry = facet_link(page, "Lĩnh vực", "Cấp thoát nước")
    expected = int(entry.locator(".count").inner_text().replace(".", ""))
    assert 0 < expected < total
    entry.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*field=cap-thoat-nuoc"))
    params = query_of(page)
    assert params["q"] == ["ngap nuoc"] and params["field"] == ["cap-thoat-nuoc"] and "page" not in params
    assert total_shown(page) == expected
    metas = page.locator(".result-list .result .meta.muted").all_inner_texts()
    assert metas and all("Cấp thoát nước" in m for m in metas)
    active = facet_link(page, "Lĩnh vực", "Cấp thoát nước").get_by_role("link")
    expect(active).to_have_attribute("aria-current", "true")
    # The filter also shows in the advanced form, which opens by itself.
    expect(page.locator("details.advanced")).to_have_attribute("open", "")
    expect(page.get_by_label("Lĩnh vực")).to_have_value("cap-thoat-nuoc")
    # Tapping the active facet again removes it.
    active.click()
    page.wait_for_url(lambda url: "field=" not in url)
    assert query_of(page)["q"] == ["ngap nuoc"]
    assert total_shown(page) == total


def expected_count(server, field: str, ward: int, start: date, end: date) -> int:
    """Published reports of this field and ward submitted in [start, end] (Vietnam dates), from SQL."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.reference.models import Field
    from webapp.reports.models import Report

    with server.app.app_context():
        rows = db.session.execute(select(Report.submitted_at).join(Field).where(
            Report.published, Field.slug == field, Report.ward_code == ward)).scalars()
        return sum(start <= (s if s.tzinfo else s.replace(tzinfo=UTC)).astimezone(VN).date() <= end for s in rows)


@WIDTHS
def test_advanced_filters(search_server, page):
    search(page, search_server, "")
    everything = total_shown(page)
    advanced = page.locator("details.advanced")
    expect(advanced).not_to_have_attribute("open", "")  # collapsed until asked for
    advanced.locator("summary", has_text="Nâng cao").click()
    page.get_by_label("Lĩnh vực").select_option(label="Cấp thoát nước")
    # The ward list is long: the box above it narrows it as one types (without diacritics).
    ward_box = page.get_by_label("Lọc danh sách địa bàn")
    expect(ward_box).to_be_visible()
    ward_box.fill("trang bang")
    visible = page.locator("#region option:not([hidden])").all_inner_texts()
    assert "Phường Trảng Bàng" in visible and len(visible) <= 5, visible
    page.locator("#region").select_option(label="Phường Trảng Bàng")
    page.get_by_label("Từ ngày").fill("2025-03-01")
    page.get_by_label("Đến ngày").fill("2025-10-31")
    assert_fits(page)
    page.get_by_role("button", name="Áp dụng").click()
    page.wait_for_url(re.compile(r".*from=2025-03-01"))
    params = query_of(page)
    assert params["field"] == ["cap-thoat-nuoc"] and params["region"] == ["25708"]
    assert params["from"] == ["2025-03-01"] and params["to"] == ["2025-10-31"]

    total = total_shown(page)
    want = expected_count(search_server, "cap-thoat-nuoc", 25708, date(2025, 3, 1), date(2025, 10, 31))
    assert 0 < total == want < everything
    for meta in page.locator(".result-list .result .meta.muted").all():
        text = meta.inner_text()
        assert "Cấp thoát nước" in text and "Phường Trảng Bàng" in text, text
        day = meta.locator("time").get_attribute("datetime")
        assert "2025-03-01" <= datetime.fromisoformat(day).astimezone(VN).date().isoformat() <= "2025-10-31"
    # What was chosen stays in the form, which stays open.
    expect(advanced).to_have_attribute("open", "")
    expect(page.get_by_label("Lĩnh vực")).to_have_value("cap-thoat-nuoc")
    expect(page.locator("#region")).to_have_value("25708")
    expect(page.get_by_label("Từ ngày")).to_have_value("2025-03-01")
    assert_fits(page)
    # The export of these filters has the same reports.
    _, raw = download(page, "Tải CSV")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == total
    assert {r["ward"] for r in rows} == {"Phường Trảng Bàng"} and {r["field"] for r in rows} == {"cap-thoat-nuoc"}
    assert all("2025-03-01" <= r["submitted_at"][:10] <= "2025-10-31" for r in rows)


def download(page, link_name: str):
    with page.expect_download() as info:
        page.locator(".open-data").get_by_role("link", name=link_name).click()
    dl = info.value
    return dl.suggested_filename, dl.path().read_bytes()


@WIDTHS
def test_exports_match_the_search(search_server, page):
    search(page, search_server, "ngap nuoc")
    facet_link(page, "Loại", "Phản ánh kiến nghị").get_by_role("link").click()
    page.wait_for_url(re.compile(r".*type=pakn"))
    total = total_shown(page)
    assert total > 20  # more than the page: the file has every result, not just this page
    expect(page.locator(".open-data .hint")).to_contain_text(f"tất cả {total} kết quả")

    name, raw = download(page, "Tải CSV")
    assert re.fullmatch(r"pakn-tra-cuu-\d{8}-\d{4}\.csv", name), name
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: spreadsheet programs read the accents right
    text = raw.decode("utf-8-sig")
    assert unicodedata.is_normalized("NFC", text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == total
    assert all(r["type"] == "pakn" for r in rows)
    assert sum("ngập nước" in r["title"] for r in rows) >= 30
    assert any(r["field_name"] == "Cấp thoát nước" for r in rows)

    # The confidential report may be listed, its sender never.
    secret = [r for r in rows if r["code"] == search_server.confidential_code]
    assert len(secret) == 1
    assert secret[0]["sender_name"] == "" and secret[0]["phone_masked"] == ""
    for leak in (SECRET_NAME, SECRET_PHONE, SECRET_PHONE[1:], "093*****56", SECRET_EMAIL, SECRET_ADDRESS):
        assert leak not in text, leak
    # Others' senders are there (masked phone), so the check above is not vacuous.
    assert any(r["sender_name"].startswith("Nguyễn Văn Dân") and r["phone_masked"] for r in rows)

    name, raw = download(page, "Tải JSONL")
    assert name.endswith(".jsonl")
    records = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert len(records) == total and {r["code"] for r in records} == {r["code"] for r in rows}
    assert SECRET_NAME not in raw.decode("utf-8") and SECRET_PHONE not in raw.decode("utf-8")
    assert_fits(page)
