"""Registration, password login, sessions, staff login with TOTP, permissions and web security."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from tests.conftest import build_app, migrate, sms_codes
from webapp.auth.models import AuditEvent, User, UserSession

PHONE = "0987654321"
GOOD_PASSWORD = "Xanh-la-cay-2026!"


def text(response) -> str:
    return response.get_data(as_text=True)


def logged_in(client) -> bool:
    return "Đăng xuất" in text(client.get("/"))


def register(client, **overrides):
    data = {"full_name": "Nguyễn Thị Lan", "phone": PHONE, "email": "lan@example.vn",
            "address": "Phường Trảng Bàng", "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    data.update(overrides)
    return client.post("/dang-ky", data=data)


# -- registration and password login -----------------------------------------------------------------
def test_register_activate_with_otp_then_log_in_with_phone_or_email(app, client, session, clock):
    response = register(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/dang-nhap/ma")
    user = session.scalar(select(User).where(User.phone == PHONE))
    assert user.status == "pending" and user.password_hash and GOOD_PASSWORD not in user.password_hash
    assert user.password_hash.startswith("scrypt:")
    # Not active yet: the password alone does not log in.
    other = app.test_client()
    response = other.post("/dang-nhap/mat-khau", data={"login": PHONE, "password": GOOD_PASSWORD})
    assert "chưa được kích hoạt" in text(response)
    client.post("/dang-nhap/ma", data={"code": sms_codes(app, PHONE)[-1]})
    session.refresh(user)
    assert user.status == "active" and user.phone_verified_at is not None
    client.post("/dang-xuat")
    for login in ("+84 987 654 321", "LAN@example.vn"):
        c = app.test_client()
        response = c.post("/dang-nhap/mat-khau", data={"login": login, "password": GOOD_PASSWORD})
        assert response.status_code == 302 and logged_in(c)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"password": "ngan", "confirm": "ngan"}, "ít nhất 10 ký tự"),
    ({"password": "matkhau123", "confirm": "matkhau123"}, "quá phổ biến"),
    ({"password": "0987654321abc", "confirm": "0987654321abc"}, "không được chứa số điện thoại"),
    ({"confirm": "khac-hoan-toan-2026"}, "không khớp"),
    ({"phone": "12345"}, "Số điện thoại không hợp lệ"),
    ({"email": "khong-phai-email"}, "email không hợp lệ"),
    ({"full_name": ""}, "nhập họ và tên"),
])
def test_registration_errors_keep_what_was_typed(client, clock, overrides, message):
    response = register(client, **overrides)
    html = text(response)
    assert response.status_code == 200 and message in html
    assert 'value="Phường Trảng Bàng"' in html  # nothing typed is lost
    assert GOOD_PASSWORD not in html  # passwords are never echoed back


def test_wrong_password_is_refused_without_saying_which_part(app, client, session, clock, otp_login):
    register(client)
    client.post("/dang-nhap/ma", data={"code": sms_codes(app, PHONE)[-1]})
    client.post("/dang-xuat")
    for login in (PHONE, "nobody@example.vn"):
        response = client.post("/dang-nhap/mat-khau", data={"login": login, "password": "sai-mat-khau-2026"})
        assert "hoặc mật khẩu không đúng" in text(response)
    assert session.scalar(select(AuditEvent).where(AuditEvent.event == "password_login_failed")) is not None


# -- sessions --------------------------------------------------------------------------------------------
def test_logout_really_ends_the_server_side_session(app, client, session, clock, otp_login):
    otp_login(PHONE)
    with client.session_transaction() as s:
        stolen = dict(s)  # a copy of the cookie's contents, as an attacker would keep it
    client.post("/dang-xuat")
    assert not logged_in(client)
    replay = app.test_client()
    with replay.session_transaction() as s:
        s.update(stolen)
    assert not logged_in(replay)
    record = session.get(UserSession, stolen["sid"])
    assert record.revoked_at is not None


def test_login_issues_a_new_session_id(app, client, session, clock, otp_login):
    with client.session_transaction() as s:
        s["sid"] = "planted-by-an-attacker"
    otp_login(PHONE)
    with client.session_transaction() as s:
        assert s["sid"] != "planted-by-an-attacker" and len(s["sid"]) >= 40


def test_sign_out_everywhere_by_an_admin(app, client, session, clock, otp_login, make_staff):
    phone = otp_login(PHONE)
    second = app.test_client()
    otp_login(phone, c=second)
    admin = make_staff("quantri1", "admin")
    admin.totp_secret = pyotp.random_base32()
    admin.totp_enabled_at = clock.now
    session.flush()
    staff = app.test_client()
    staff.post("/can-bo/dang-nhap", data={"username": "quantri1", "password": "Mat-khau-rat-kho-2026"})
    staff.post("/can-bo/xac-thuc", data={"code": pyotp.TOTP(admin.totp_secret).at(clock.now)})
    assert "Đăng xuất mọi nơi" in text(staff.get("/can-bo/"))
    response = staff.post("/can-bo/dang-xuat-moi-noi", data={"login": "+84 987 654 321"})
    assert response.status_code == 302
    assert not logged_in(client) and not logged_in(second)
    assert logged_in(staff)  # only that account's sessions ended


def test_staff_sessions_end_after_30_idle_minutes(app, session, clock, make_staff, staff_login):
    client = staff_login(make_staff("canbo2", "officer"))
    clock.advance(minutes=29)
    assert client.get("/can-bo/").status_code == 200
    clock.advance(minutes=31)
    response = client.get("/can-bo/")
    assert response.status_code == 302 and "/can-bo/dang-nhap" in response.headers["Location"]


def test_sessions_end_after_12_hours_whatever_the_activity(app, client, clock, otp_login):
    otp_login(PHONE)
    for _ in range(5):
        clock.advance(hours=2)  # active every 2 hours
        assert logged_in(client)
    clock.advance(hours=2, minutes=1)
    assert not logged_in(client)


# -- staff -----------------------------------------------------------------------------------------------
def test_officer_logs_in_with_password_and_totp_and_citizens_cannot_enter_the_staff_area(
        app, client, session, clock, make_staff, otp_login):
    officer = make_staff("canbo3", "officer")
    officer.totp_secret, officer.totp_enabled_at = pyotp.random_base32(), clock.now
    session.flush()
    staff = app.test_client()
    response = staff.post("/can-bo/dang-nhap", data={"username": "canbo3", "password": "Mat-khau-rat-kho-2026"})
    # Officers see confidential senders too: the password alone does not log them in.
    assert response.headers["Location"].endswith("/can-bo/xac-thuc") and staff.get("/can-bo/").status_code == 302
    staff.post("/can-bo/xac-thuc", data={"code": pyotp.TOTP(officer.totp_secret).at(clock.now)})
    assert staff.get("/can-bo/").status_code == 200
    assert staff.post("/can-bo/nguoi-dung/1/dang-xuat-tat-ca").status_code == 403  # admins only
    otp_login(PHONE)
    assert client.get("/can-bo/").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get("/can-bo/").status_code == 302


def test_leader_must_enrol_totp_with_a_qr_code_then_use_it(app, client, session, clock, make_staff):
    leader = make_staff("lanhdao1", "leader")
    response = client.post("/can-bo/dang-nhap", data={"username": "lanhdao1", "password": "Mat-khau-rat-kho-2026"})
    assert response.headers["Location"].endswith("/can-bo/dang-ky-xac-thuc")
    page = text(client.get("/can-bo/dang-ky-xac-thuc"))
    assert 'src="data:image/svg+xml;base64,' in page
    secret = page.split('class="secret">')[1].split("<")[0]
    assert client.get("/can-bo/").status_code == 302  # not logged in before the second factor
    bad = client.post("/can-bo/dang-ky-xac-thuc", data={"code": "000000"})
    assert "không đúng" in text(bad)
    client.post("/can-bo/dang-ky-xac-thuc", data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert client.get("/can-bo/").status_code == 200
    session.refresh(leader)
    assert leader.totp_enabled_at is not None and leader.totp_secret == secret
    # Next time: password, then the code (the next one: a code is accepted once).
    clock.advance(seconds=30)
    other = app.test_client()
    response = other.post("/can-bo/dang-nhap", data={"username": "lanhdao1", "password": "Mat-khau-rat-kho-2026"})
    assert response.headers["Location"].endswith("/can-bo/xac-thuc")
    assert "không đúng" in text(other.post("/can-bo/xac-thuc", data={"code": "123456"}))
    other.post("/can-bo/xac-thuc", data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert other.get("/can-bo/").status_code == 200


def test_wrong_staff_password(client, clock, make_staff):
    make_staff("canbo4", "officer")
    response = client.post("/can-bo/dang-nhap", data={"username": "canbo4", "password": "sai"})
    assert "không đúng" in text(response)


def test_create_staff_command(cli, session):
    result = cli.invoke(args=["users", "create-staff", "--username", "lanhdao9", "--unit", "Sở Xây dựng Tây Ninh",
                              "--role", "leader", "--password", "Mot-mat-khau-tot-2026"])
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "lanhdao9"))
    assert user.is_staff and user.has_role("leader") and user.memberships[0].unit.name == "Sở Xây dựng Tây Ninh"
    weak = cli.invoke(args=["users", "create-staff", "--username", "x", "--unit", "u", "--role", "officer",
                            "--password", "123456"])
    assert weak.exit_code == 1 and "ít nhất" in weak.stderr


# -- web security ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_redirect_after_login_stays_on_the_site(app, client, clock, target):
    client.get("/dang-nhap", query_string={"next": target})
    client.post("/dang-nhap", data={"phone": PHONE})
    response = client.post("/dang-nhap/ma", data={"code": sms_codes(app, PHONE)[-1]})
    assert response.headers["Location"] == "/"


def test_redirect_after_login_to_a_local_page(app, client, clock):
    client.get("/dang-nhap", query_string={"next": "/tra-cuu?q=ngap"})
    client.post("/dang-nhap", data={"phone": PHONE})
    response = client.post("/dang-nhap/ma", data={"code": sms_codes(app, PHONE)[-1]})
    assert response.headers["Location"] == "/tra-cuu?q=ngap"


def test_security_headers_on_every_page(client):
    for path in ("/", "/dang-nhap", "/tra-cuu", "/khong-co"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in headers  # only over HTTPS


def test_no_inline_script_in_pages(client):
    import re

    for path in ("/", "/dang-nhap", "/tra-cuu", "/dang-ky", "/can-bo/dang-nhap"):
        html = text(client.get(path))
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " onclick=" not in html and " onload=" not in html


@pytest.fixture
def strict_app(databases):
    """An app as in production: CSRF on, HTTPS, rate limits on."""
    url, instance = databases.new()
    application = build_app(url, instance, WTF_CSRF_ENABLED=True, HTTPS=True, RATE_LIMITS=True)
    migrate(application)
    return application


def test_csrf_token_missing_is_rejected_and_cookies_are_strict(strict_app):
    client = strict_app.test_client()
    response = client.post("/dang-nhap", data={"phone": PHONE})
    assert response.status_code == 400 and "Yêu cầu không hợp lệ" in text(response)
    page = client.get("/dang-nhap", base_url="https://localhost")
    assert "max-age=" in page.headers["Strict-Transport-Security"]
    token = text(page).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/dang-nhap", data={"phone": PHONE, "csrf_token": token}, base_url="https://localhost",
                           headers={"Referer": "https://localhost/dang-nhap"})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_request_rate_limit_answers_429(strict_app):
    client = strict_app.test_client()
    page = text(client.get("/dang-nhap/mat-khau", base_url="https://localhost"))
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    # A new login name each time: the per-account throttle (its own tests) would answer first.
    codes = [client.post("/dang-nhap/mat-khau", data={"login": f"x{i}", "password": "y", "csrf_token": token},
                         base_url="https://localhost", headers={"Referer": "https://localhost/"}).status_code
             for i in range(25)]
    assert 429 in codes and codes.index(429) == 20


def test_registration_answers_the_same_for_an_existing_phone_or_email(app, client, session, clock):
    """No account enumeration at registration: same answer; the owner is told by SMS or e-mail and
    nothing typed changes their account."""
    import json
    from pathlib import Path

    register(client)
    client.post("/dang-nhap/ma", data={"code": sms_codes(app, PHONE)[-1]})
    client.post("/dang-xuat")
    owner = session.scalar(select(User).where(User.phone == PHONE))
    hash_before = owner.password_hash
    clock.advance(seconds=61)

    stranger = app.test_client()
    existing = register(stranger, full_name="Kẻ Lạ", email="la@example.vn", password="Khac-han-mat-khau-9",
                        confirm="Khac-han-mat-khau-9")
    clock.advance(seconds=61)
    fresh = register(app.test_client(), phone="0912 888 777", email="moi@example.vn")
    assert existing.status_code == fresh.status_code == 302
    assert existing.headers["Location"] == fresh.headers["Location"]
    shown = [text(c.get("/dang-nhap/ma")) for c in (stranger,)]
    assert "Đã gửi mã kích hoạt tới 098*****21" in shown[0]
    session.refresh(owner)
    assert owner.password_hash == hash_before and owner.full_name == "Nguyễn Thị Lan"  # untouched
    sms = [json.loads(line) for line in Path(app.config["SMS_FILE_PATH"]).read_text().splitlines()]
    assert "So nay da co tai khoan" in sms[-2]["text"]  # the owner learns of it

    # An e-mail that belongs to an active account: same answer, not attached, its owner mailed.
    Path(app.config["MAIL_FILE_PATH"]).unlink(missing_ok=True)
    clock.advance(seconds=61)
    again = register(app.test_client(), phone="0912 888 666", email="LAN@example.vn")
    assert again.status_code == 302 and again.headers["Location"] == fresh.headers["Location"]
    newcomer = session.scalar(select(User).where(User.phone == "0912888666"))
    assert newcomer.email is None
    mails = [json.loads(line) for line in Path(app.config["MAIL_FILE_PATH"]).read_text().splitlines()]
    assert [m["to"] for m in mails] == ["LAN@example.vn"]
