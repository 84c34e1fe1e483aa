"""Citizen journey in real Chromium, at desktop and at phone width: log in by OTP, send a report with
a photo, track it (the sent page, "PAKN của tôi", the report's status and timeline, the public
lookup by code and phone), and find it in Tra cứu once it is published."""

from __future__ import annotations

import re
import time

from PIL import Image
from playwright.sync_api import expect

from tests.e2e.conftest import WIDTHS, open_menu, open_user_menu
from tests.e2e.test_login_e2e import login_by_otp

TITLE = "Đường Trưng Nữ Vương ngập nước sau mưa lớn"


def assert_fits(page) -> None:
    """Nothing wider than the screen (no sideways scrolling on a phone)."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


@WIDTHS
def test_send_a_report_with_a_photo_then_track_it(live_server, page, new_page, tmp_path):
    photo = tmp_path / "anh-ngap.jpg"
    Image.new("RGB", (320, 240), (30, 90, 200)).save(photo, "JPEG")
    base = live_server.url
    page.goto(f"{base}/")
    open_menu(page).get_by_role("link", name="Gửi phản ánh").click()
    page.wait_for_url(re.compile(r".*/dang-nhap\?next="))
    login_by_otp(page, live_server, "0912 000 444")
    page.wait_for_url("**/gui-phan-anh")  # back where the citizen wanted to go

    page.get_by_label("Tiêu đề").fill(TITLE)
    page.get_by_label("Nội dung").fill("Nước ngập sâu 40 cm trước chợ, xe máy chết máy hàng loạt.")
    page.get_by_label("Lĩnh vực").select_option("cap-thoat-nuoc")
    # The ward list is long: type to narrow it (folded, as a phone keyboard without accents would).
    page.get_by_label("Lọc danh sách xã, phường").fill("trang bang")
    page.locator("#region").select_option(label="Phường Trảng Bàng")
    page.get_by_label("Địa chỉ cụ thể").fill("Số 15 đường Trưng Nữ Vương")
    page.get_by_label("Họ và tên người gửi").fill("Trần Văn Bình")
    expect(page.get_by_label("Số điện thoại", exact=True)).to_have_value("0912000444")  # from the login
    page.get_by_label("Tệp đính kèm (ảnh, PDF, Word, Excel)").set_input_files(str(photo))
    assert_fits(page)
    page.get_by_role("button", name="Gửi phản ánh").click()
    page.wait_for_url("**/da-gui/*")
    code = page.locator(".tracking-code").inner_text().strip()
    assert re.fullmatch(r"PA-\w{4}-\w{4}", code), code
    expect(page.locator(".sent")).to_contain_text("091*****44")
    assert_fits(page)

    # Track it: the sent page's button, then the citizen's own list and the report's detail.
    page.get_by_role("link", name="Theo dõi phản ánh").click()
    page.wait_for_url(f"**/pakn-cua-toi/{code}")
    main = page.locator("main")
    expect(main.locator(".meta .badge.status-pending")).to_have_text("Chờ tiếp nhận")
    expect(main.locator("h1")).to_have_text(TITLE)
    expect(main.locator(".timeline li")).to_have_count(1)
    expect(main.locator(".timeline li").first).to_contain_text("Chờ tiếp nhận: Đã gửi")
    expect(main).to_contain_text("Chưa có trả lời.")
    photo_link = main.get_by_role("link", name="anh-ngap.jpg")
    response = page.request.get(base + photo_link.get_attribute("href"))  # the sender may open the photo
    assert response.ok and response.headers["content-type"] == "image/jpeg"
    assert_fits(page)

    open_user_menu(page).get_by_role("link", name="PAKN của tôi").click()
    page.wait_for_url("**/pakn-cua-toi")
    card = page.locator(".report-card", has_text=code)
    expect(card).to_have_count(1)
    expect(card.locator(".badge.status-pending")).to_have_text("Chờ tiếp nhận")
    assert_fits(page)
    card.get_by_role("link", name=TITLE).click()
    page.wait_for_url(f"**/pakn-cua-toi/{code}")

    # Anyone with the code and the phone (another browser, not logged in) follows it on "Tra cứu mã".
    visitor = new_page(page.viewport_size)
    visitor.goto(f"{base}/")
    open_menu(visitor).get_by_role("link", name="Tra cứu", exact=True).click()
    visitor.get_by_role("link", name="Tra cứu theo mã").click()
    visitor.wait_for_url("**/tra-cuu-ma")
    visitor.get_by_label("Mã phản ánh").fill(code.lower())  # typed in lower case: still found
    visitor.get_by_label("Số điện thoại người gửi").fill("0912 000 999")
    visitor.get_by_role("button", name="Tra cứu").click()
    expect(visitor.locator(".flash-error")).to_have_text("Không tìm thấy phản ánh với mã và số điện thoại này.")
    expect(visitor.get_by_label("Mã phản ánh")).to_have_value(code.lower())  # what was typed is kept
    visitor.get_by_label("Số điện thoại người gửi").fill("+84 912 000 444")
    visitor.get_by_role("button", name="Tra cứu").click()
    found = visitor.locator(".card", has=visitor.locator(".timeline"))
    expect(found.locator(".code")).to_have_text(code)
    expect(found.locator(".badge.status-pending")).to_have_text("Chờ tiếp nhận")  # beside the type badge
    expect(found.locator(".timeline li")).to_have_count(1)
    assert "Trần Văn Bình" not in visitor.content()  # status only, no sender details
    assert_fits(visitor)

    # Published directly (the staff pages' steps have their own E2E in test_workflow_e2e.py);
    # the indexer runs in the background thread of the server, as on `make run`.
    with live_server.app.app_context():
        from sqlalchemy import select

        from webapp.extensions import db
        from webapp.reports.models import Report

        report = db.session.scalar(select(Report).where(Report.code == code))
        assert len(report.attachments) == 1
        report.published = True
        db.session.commit()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # until the background indexer has caught up
        visitor.goto(f"{base}/tra-cuu?q=trung+nu+vuong+ngap")
        if code in visitor.locator("main").inner_text():
            break
        time.sleep(0.2)
    result = visitor.locator(".result", has_text=code)
    expect(result).to_have_count(1)
    expect(result.locator("h3 mark").first).to_be_visible()
    assert_fits(visitor)
    result.get_by_role("link", name=TITLE).click()
    visitor.wait_for_url(f"**/pakn/{code}")
    expect(visitor.locator("main")).to_contain_text("Trần Văn Bình")
    expect(visitor.locator("main").get_by_role("link", name="anh-ngap.jpg")).to_be_visible()
    assert_fits(visitor)


def password_citizen_without_phone(server, email: str = "ha@example.vn") -> None:
    """An account logged in without a verified phone (as after Google or the national portal)."""
    from sqlalchemy import select

    from webapp.auth.models import Role, RoleName, User
    from webapp.auth.services import hash_password
    from webapp.extensions import db

    with server.app.app_context():
        user = User(email=email, full_name="Đặng Thu Hà", kind="citizen", status="active",
                    password_hash=hash_password("Mat-khau-rat-kho-2026"))
        user.roles.append(db.session.scalar(select(Role).where(Role.name == RoleName.CITIZEN)))
        db.session.add(user)
        db.session.commit()


def fill_report(page) -> None:
    page.get_by_label("Tiêu đề").fill(TITLE)
    page.get_by_label("Nội dung").fill("Nước ngập sâu 40 cm trước chợ, xe máy chết máy hàng loạt.")
    page.get_by_label("Lĩnh vực").select_option("cap-thoat-nuoc")
    page.locator("#region").select_option("25708")
    page.get_by_label("Địa chỉ cụ thể").fill("Số 15 đường Trưng Nữ Vương")


@WIDTHS
def test_a_login_without_a_phone_verifies_one_on_the_send_form(live_server, page):
    from pathlib import Path

    from tests.e2e.test_login_e2e import wait_for_code

    base = live_server.url
    password_citizen_without_phone(live_server)
    page.goto(f"{base}/dang-nhap/mat-khau")
    page.get_by_label("Số điện thoại hoặc email").fill("ha@example.vn")
    page.get_by_label("Mật khẩu").fill("Mat-khau-rat-kho-2026")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/gui-phan-anh")
    fill_report(page)
    page.get_by_label("Số điện thoại", exact=True).fill("0912 000 888")
    page.get_by_role("button", name="Gửi mã xác thực").click()
    code_field = page.get_by_label("Mã xác thực (6 chữ số)")
    expect(code_field).to_be_focused()  # the page came back where the citizen was
    expect(page.get_by_label("Tiêu đề")).to_have_value(TITLE)  # nothing typed is lost
    expect(page.get_by_label("Địa chỉ cụ thể")).to_have_value("Số 15 đường Trưng Nữ Vương")
    assert_fits(page)
    code_field.fill(wait_for_code(Path(live_server.app.config["SMS_FILE_PATH"]), "0912000888"))
    page.get_by_role("button", name="Xác thực số điện thoại").click()
    expect(page.get_by_text("Đã xác thực số 091*****88")).to_be_visible()
    expect(page.get_by_label("Số điện thoại", exact=True)).to_have_value("0912000888")
    expect(page.get_by_label("Lĩnh vực")).to_have_value("cap-thoat-nuoc")
    page.get_by_role("button", name="Gửi phản ánh").click()
    page.wait_for_url("**/da-gui/*")
    code = page.url.rsplit("/", 1)[1]
    sms = Path(live_server.app.config["SMS_FILE_PATH"]).read_text(encoding="utf-8")
    deadline = time.monotonic() + 10
    while code not in sms and time.monotonic() < deadline:  # the SMS job runs after the commit
        time.sleep(0.1)
        sms = Path(live_server.app.config["SMS_FILE_PATH"]).read_text(encoding="utf-8")
    assert code in sms
