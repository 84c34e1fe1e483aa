"""Staff journeys in real Chromium: the intake officer accepts and assigns a citizen's report, the
unit answers, its leader approves (on a phone), the citizen sees the answer; an officer creates a
warning, the leader approves it (on a phone) and the banner appears."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE_WIDTH
from tests.e2e.test_login_e2e import login_by_otp
from tests.e2e.test_send_e2e import assert_fits

PASSWORD = "Mat-khau-rat-kho-2026"


@pytest.fixture
def people(live_server):
    """An intake officer and leader, an officer and a leader of a processing unit (leaders with TOTP)."""
    from sqlalchemy import select

    from webapp.auth.models import Membership, Role, Unit, User, UserKind, UserStatus
    from webapp.auth.services import hash_password
    from webapp.extensions import db

    secrets = {}
    with live_server.app.app_context():
        roles = {r.name: r for r in db.session.scalars(select(Role))}
        intake = Unit(name="Trung tâm Phục vụ hành chính công", slug="tiep-nhan", is_intake=True)
        works = Unit(name="Sở Xây dựng Tây Ninh", slug="so-xay-dung")
        for username, role, unit in (("tn-canbo", "officer", intake), ("tn-lanhdao", "leader", intake),
                                     ("xd-canbo", "officer", works), ("xd-lanhdao", "leader", works)):
            user = User(username=username, full_name=username, kind=UserKind.STAFF, status=UserStatus.ACTIVE,
                        password_hash=hash_password(PASSWORD))
            # Every staff account has a second factor (it can see confidential senders).
            user.totp_secret = secrets[username] = pyotp.random_base32()
            user.totp_enabled_at = datetime.now(UTC)
            user.memberships.append(Membership(unit=unit, role=roles[role]))
            db.session.add(user)
        db.session.commit()
    return secrets


def staff_page(new_page, live_server, username: str, secrets: dict[str, str], viewport=None):
    """A staff member logged in (password, then TOTP for leaders), on the staff dashboard."""
    page = new_page(viewport)
    page.goto(f"{live_server.url}/can-bo/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    if username in secrets:
        page.wait_for_url("**/can-bo/xac-thuc")
        page.get_by_label("Mã từ ứng dụng xác thực (6 chữ số)").fill(pyotp.TOTP(secrets[username]).now())
        page.get_by_role("button", name="Xác nhận").click()
    page.wait_for_url("**/can-bo/")
    return page


def citizen_report(live_server, new_page) -> tuple[object, str]:
    """A citizen logged in at phone width, with one report sent (pending)."""
    from sqlalchemy import select

    from webapp.auth.models import User
    from webapp.extensions import db
    from webapp.reports.services import Draft, create_report

    page = new_page(PHONE_WIDTH)
    page.goto(f"{live_server.url}/dang-nhap")
    login_by_otp(page, live_server, "0912 000 777")
    page.wait_for_url(f"{live_server.url}/**")
    with live_server.app.app_context():
        user = db.session.scalar(select(User).where(User.phone == "0912000777"))
        report, _ = create_report(user, Draft(
            type="pakn", title="Cây xanh đổ chắn ngang đường Lý Thường Kiệt", content="Sau bão, cây đổ chắn đường.",
            field_slug="giao-thong", ward_code=25708, address="Số 3 đường Lý Thường Kiệt", sender_kind="individual",
            organization_name=None, sender_name="Đỗ Thị Hoa", sender_phone="0912000777", sender_email=None,
            sender_address=None, confidential=False), [], None)
        db.session.commit()
        code = report.code
    return page, code


def test_report_from_intake_to_a_published_answer(live_server, new_page, people):
    citizen, code = citizen_report(live_server, new_page)

    officer = staff_page(new_page, live_server, "tn-canbo", people)
    officer.get_by_role("link", name=code).first.click()
    officer.wait_for_url(f"**/can-bo/pakn/{code}")
    assert officer.get_by_label("Công khai phản ánh trên cổng Tra cứu").is_checked()
    officer.get_by_role("button", name="Tiếp nhận", exact=True).click()
    assert "Đã tiếp nhận phản ánh." in officer.content()
    officer.get_by_label("Đơn vị xử lý").select_option(label="Sở Xây dựng Tây Ninh")
    officer.get_by_role("button", name="Phân công").click()
    assert "Đã phân công xử lý." in officer.content()
    assert "Đang xử lý" in officer.locator(".meta").first.inner_text()

    unit = staff_page(new_page, live_server, "xd-canbo", people)
    unit.get_by_role("link", name="Hộp thư phản ánh").click()
    unit.get_by_role("link", name=code).click()
    unit.get_by_label("Nội dung trả lời").fill("Đơn vị đã cắt dọn cây đổ, đường thông suốt từ 15 giờ.")
    unit.get_by_role("button", name="Gửi lãnh đạo duyệt").click()
    assert "Đã gửi trả lời để lãnh đạo duyệt." in unit.content()

    # The unit's leader approves on a phone.
    leader = staff_page(new_page, live_server, "xd-lanhdao", people, PHONE_WIDTH)
    assert code in leader.locator("main").inner_text()  # "Trả lời chờ tôi duyệt" on the dashboard
    assert_fits(leader)
    leader.get_by_role("link", name=code).first.click()
    leader.wait_for_url(f"**/can-bo/pakn/{code}")
    expect(leader.locator("main")).to_contain_text("Đơn vị đã cắt dọn cây đổ")  # the draft to approve
    assert_fits(leader)
    leader.get_by_role("button", name="Duyệt và công bố").click()
    assert "Đã duyệt và công bố trả lời" in leader.content()
    assert_fits(leader)

    citizen.goto(f"{live_server.url}/pakn-cua-toi/{code}")
    body = citizen.locator("main").inner_text()
    assert "Đơn vị đã cắt dọn cây đổ" in body and "Đã trả lời" in body
    # Phone width: nothing wider than the screen.
    assert citizen.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH["width"]
    citizen.goto(f"{live_server.url}/pakn/{code}")
    assert "Đơn vị đã cắt dọn cây đổ" in citizen.locator("main").inner_text()


def test_warning_created_approved_and_shown_in_the_banner(live_server, new_page, people):
    officer = staff_page(new_page, live_server, "tn-canbo", people)
    officer.goto(f"{live_server.url}/can-bo/canh-bao/moi")
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    start = (datetime.now(tz) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    end = (datetime.now(tz) + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M")
    officer.get_by_label("Tiêu đề").fill("Nước sông Vàm Cỏ Đông dâng cao")
    officer.get_by_label("Nội dung").fill("Người dân ven sông chủ động di dời tài sản.")
    officer.get_by_label("Toàn tỉnh").check()
    officer.get_by_label("Bắt đầu (giờ Việt Nam)").fill(start)
    officer.get_by_label("Kết thúc (giờ Việt Nam)").fill(end)
    officer.get_by_role("button", name="Lưu và gửi duyệt").click()
    assert "Đã gửi cảnh báo để lãnh đạo duyệt." in officer.content()
    officer.goto(f"{live_server.url}/")
    assert "Nước sông Vàm Cỏ Đông" not in officer.content()  # not before approval

    # The leader approves on a phone.
    leader = staff_page(new_page, live_server, "tn-lanhdao", people, PHONE_WIDTH)
    leader.goto(f"{live_server.url}/can-bo/canh-bao")
    expect(leader.locator("main")).to_contain_text("Nước sông Vàm Cỏ Đông dâng cao")
    assert_fits(leader)
    approve = leader.get_by_role("button", name="Duyệt", exact=True)
    box = approve.bounding_box()  # on the screen, not behind a table scrolled sideways
    assert box["x"] + box["width"] <= PHONE_WIDTH["width"], box
    approve.click()
    assert "Đã duyệt cảnh báo." in leader.content()
    assert_fits(leader)

    visitor = new_page(PHONE_WIDTH)
    visitor.goto(f"{live_server.url}/")
    banner = visitor.locator(".warning-banner")
    expect(banner).to_contain_text("Nước sông Vàm Cỏ Đông dâng cao")
    assert_fits(visitor)
    banner.get_by_role("link", name="Nước sông Vàm Cỏ Đông dâng cao").click()
    expect(visitor.locator("main")).to_contain_text("Người dân ven sông chủ động di dời tài sản.")
