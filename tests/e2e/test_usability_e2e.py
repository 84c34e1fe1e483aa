"""Issue 16 in real Chromium: the logged-in menu fits one line at desktop widths (citizen and staff),
the user menu, codes in the search box, Tra cứu mã's answer, flash messages that close themselves."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE_WIDTH, WIDTHS, open_user_menu
from tests.e2e.test_login_e2e import login_by_otp
from tests.e2e.test_workflow_e2e import people, staff_page  # noqa: F401 - the fixture is used by name

DESKTOP_WIDTHS = [1024, 1280, 1440]


def menu_rows(page) -> set[float]:
    """The distinct tops of the top-level menu items: one value when the menu is on one line."""
    return set(page.evaluate("""() => [...document.querySelectorAll('.menu > ul > li')]
        .map(li => Math.round(li.getBoundingClientRect().top))"""))


def assert_menu_fits(page) -> None:
    rows = menu_rows(page)
    assert len(rows) == 1, f"menu items on {len(rows)} lines at {page.viewport_size['width']} px"
    # No item breaks inside ("Trang / chủ"): each is one line of text high.
    heights = page.evaluate("""() => [...document.querySelectorAll('.menu > ul > li > a, .menu summary')]
        .map(e => [e.textContent.trim(), e.getBoundingClientRect().height,
                   parseFloat(getComputedStyle(e).lineHeight) + parseFloat(getComputedStyle(e).paddingTop)
                   + parseFloat(getComputedStyle(e).paddingBottom)])""")
    for label, height, one_line in heights:
        assert height <= one_line + 1, f"{label!r} wraps ({height} > {one_line})"
    # The menu is beside the site name, not pushed onto a line of its own.
    brand = page.locator(".brand").bounding_box()
    nav = page.locator("nav.menu").bounding_box()
    assert nav["y"] < brand["y"] + brand["height"], "the menu dropped below the site name"
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_citizen_menu_fits_one_line_at_desktop_widths(live_server, new_page):
    page = new_page(DESKTOP)
    page.goto(f"{live_server.url}/dang-nhap")
    login_by_otp(page, live_server, "0912 345 678")
    page.wait_for_url(f"{live_server.url}/")
    for width in DESKTOP_WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"{live_server.url}/tra-cuu")
        assert_menu_fits(page)
    # The secondary items are in the user menu, which opens and closes without a script.
    menu = open_user_menu(page)
    expect(menu.get_by_role("link", name="PAKN của tôi")).to_be_visible()
    expect(menu.get_by_role("link", name="Tìm kiếm đã lưu")).to_be_visible()
    expect(menu.get_by_role("button", name="Đăng xuất")).to_be_visible()
    menu.get_by_role("link", name="PAKN của tôi").click()
    page.wait_for_url("**/pakn-cua-toi")


def test_staff_menu_fits_one_line_at_desktop_widths(live_server, new_page, people):  # noqa: F811
    page = staff_page(new_page, live_server, "xd-lanhdao", people)
    for width in DESKTOP_WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        for path in ("/can-bo/", "/can-bo/hop-thu"):
            page.goto(f"{live_server.url}{path}")
            assert_menu_fits(page)
    open_user_menu(page).get_by_role("link", name="Khu vực cán bộ").click()
    page.wait_for_url("**/can-bo/")


def test_phone_menu_holds_the_user_menu(live_server, new_page):
    page = new_page(PHONE_WIDTH)
    page.goto(f"{live_server.url}/dang-nhap")
    login_by_otp(page, live_server, "0912 345 679")
    page.wait_for_url(f"{live_server.url}/")
    menu = open_user_menu(page)
    expect(menu.get_by_role("button", name="Đăng xuất")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH["width"]


# -- with demo data: codes in the search box, Tra cứu mã's answer, flash messages -----------------------
@pytest.fixture
def answered_portal(live_server):
    """The portal with demo data; the code and sender phone of a published, answered report."""
    from sqlalchemy import select

    from webapp.demo.seed import seed
    from webapp.extensions import db
    from webapp.reports.models import Report

    with live_server.app.app_context():
        seed(count=40, echo=lambda *_: None)
        report = db.session.scalar(select(Report).where(Report.published.is_(True), Report.status == "answered",
                                                        Report.confidential.is_(False)).limit(1))
        assert report is not None, "the demo data has no published answer"
        live_server.answered = (report.code, report.sender_phone, report.title, report.published_answer.text)
    return live_server


@WIDTHS
def test_a_code_typed_into_tra_cuu_opens_the_report(answered_portal, page):
    code, _phone, title, _answer = answered_portal.answered
    page.goto(f"{answered_portal.url}/tra-cuu")
    page.get_by_label("Tìm kiếm", exact=True).fill(f"  {code.lower().replace('-', '')} ")
    page.get_by_role("button", name="Tìm", exact=True).click()
    page.wait_for_url(f"**/pakn/{code}")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


@WIDTHS
def test_tra_cuu_ma_shows_the_answer_and_the_public_page(answered_portal, page):
    code, phone, title, answer = answered_portal.answered
    page.goto(f"{answered_portal.url}/tra-cuu-ma")
    expect(page.locator(".required-legend")).to_contain_text("là bắt buộc")
    page.get_by_label("Mã phản ánh").fill(code.lower())
    page.get_by_label("Số điện thoại người gửi").fill(phone)
    page.get_by_role("button", name="Tra cứu", exact=True).click()
    result = page.locator(".lookup-result")
    expect(result).to_contain_text("Đã trả lời")
    expect(result.locator(".answer .pre")).to_have_text(answer.strip())
    result.get_by_role("link", name="Xem trang công khai của phản ánh").click()
    page.wait_for_url(f"**/pakn/{code}")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


@WIDTHS
def test_a_flash_message_closes_itself_and_can_be_closed(live_server, page):
    page.goto(f"{live_server.url}/dang-nhap")
    login_by_otp(page, live_server, "0912 345 670")
    page.wait_for_url(f"{live_server.url}/")
    flash = page.locator(".flash-message", has_text="Đăng nhập thành công")
    expect(flash).to_be_visible()
    expect(flash.get_by_role("button", name="Đóng thông báo")).to_be_visible()
    expect(flash).to_have_count(0, timeout=10_000)  # gone by itself after a few seconds
    # An error stays until it is closed with its button.
    open_user_menu(page).get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url(f"{live_server.url}/**")
    page.goto(f"{live_server.url}/gui-phan-anh")  # anonymous: the login page says why, as an error
    error = page.locator(".flash-message.flash-error")
    expect(error).to_contain_text("Vui lòng đăng nhập")
    page.wait_for_timeout(7_000)
    expect(error).to_be_visible()
    error.get_by_role("button", name="Đóng thông báo").click()
    expect(page.locator(".flash-message")).to_have_count(0)
