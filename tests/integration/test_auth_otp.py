"""Phone + SMS OTP login: every rule of the accounts issue, through the pages, the API and the service."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import sms_codes
from webapp.auth.models import AuditEvent, OtpChallenge, PhoneGuard, User, UserSession

PHONE = "0912345678"


def text(response) -> str:
    return response.get_data(as_text=True)


def logged_in(client) -> bool:
    return "Đăng xuất" in text(client.get("/"))


@pytest.mark.parametrize("typed", ["0912345678", "912345678", "+84 912 345 678", "84-912-345-678", "0912.345.678"])
def test_login_by_otp_with_any_usual_spelling_of_the_number(app, client, session, clock, typed):
    response = client.post("/dang-nhap", data={"phone": typed})
    assert response.status_code == 302 and response.headers["Location"].endswith("/dang-nhap/ma")
    page = text(client.get("/dang-nhap/ma"))
    assert "091*****78" in page and "1 phút" in page and 'data-seconds-left="60"' in page
    code = sms_codes(app, PHONE)[-1]
    assert len(code) == 6 and code.isdigit()
    response = client.post("/dang-nhap/ma", data={"code": code})
    assert response.status_code == 302
    assert logged_in(client)
    user = session.scalar(select(User).where(User.phone == PHONE))
    assert user is not None and user.status == "active" and user.phone_verified_at is not None
    assert user.has_role("citizen")
    events = session.scalars(select(AuditEvent.event).where(AuditEvent.user_id == user.id)).all()
    assert "login" in events and "account_created" in events


def test_the_code_is_stored_only_as_a_hash(app, client, session, clock):
    client.post("/dang-nhap", data={"phone": PHONE})
    code = sms_codes(app, PHONE)[-1]
    challenge = session.scalars(select(OtpChallenge).where(OtpChallenge.phone == PHONE)).one()
    row = " ".join(str(getattr(challenge, c.key)) for c in OtpChallenge.__table__.columns)
    assert code not in row and len(challenge.code_hash) == 64


def test_the_code_expires_after_60_seconds(app, client, clock):
    client.post("/dang-nhap", data={"phone": PHONE})
    code = sms_codes(app, PHONE)[-1]
    clock.advance(seconds=60)
    response = client.post("/dang-nhap/ma", data={"code": code})
    assert response.status_code == 401 and "hết hạn" in text(response)
    assert not logged_in(client)


def test_a_code_works_once(app, client, clock):
    client.post("/dang-nhap", data={"phone": PHONE})
    code = sms_codes(app, PHONE)[-1]
    with client.session_transaction() as s:
        attempt = s["otp_challenge"]
    assert client.post("/dang-nhap/ma", data={"code": code}).status_code == 302
    client.post("/dang-xuat")
    with client.session_transaction() as s:  # replay the very same attempt with the same code
        s["otp_challenge"] = attempt
    response = client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "otp_expired"
    assert not logged_in(client)


def test_a_code_works_only_for_the_login_attempt_that_asked_for_it(app, client, clock):
    other = app.test_client()
    client.post("/dang-nhap", data={"phone": PHONE})
    code = sms_codes(app, PHONE)[-1]
    # Another browser that did not ask for this code cannot use it.
    response = other.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert response.status_code == 401
    assert client.post("/dang-nhap/ma", data={"code": code}).status_code == 302


def test_five_wrong_tries_end_the_code(app, client, session, clock):
    client.post("/dang-nhap", data={"phone": PHONE})
    code = sms_codes(app, PHONE)[-1]
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        response = client.post("/dang-nhap/ma", data={"code": wrong})
        assert response.status_code == 401 and f"còn {left} lần" in text(response)
    response = client.post("/dang-nhap/ma", data={"code": wrong})
    assert response.status_code == 429
    response = client.post("/dang-nhap/ma", data={"code": code})  # now even the right code
    assert response.status_code == 429 and not logged_in(client)


def test_resend_only_after_the_cooldown_and_the_old_code_dies(app, client, clock):
    client.post("/dang-nhap", data={"phone": PHONE})
    first = sms_codes(app, PHONE)[-1]
    clock.advance(seconds=30)
    response = client.post("/dang-nhap/gui-lai", follow_redirects=True)
    assert "Vui lòng đợi 30 giây" in text(response)
    clock.advance(seconds=30)
    client.post("/dang-nhap/gui-lai")
    second = sms_codes(app, PHONE)[-1]
    assert len(sms_codes(app, PHONE)) >= 2
    if first != second:
        assert client.post("/dang-nhap/ma", data={"code": first}).status_code in (401, 429)
    assert client.post("/dang-nhap/ma", data={"code": second}).status_code == 302


def test_at_most_five_codes_per_number_per_hour(app, client, clock):
    for _ in range(5):
        assert client.post("/dang-nhap", data={"phone": PHONE}).status_code == 302
        clock.advance(seconds=61)
    response = client.post("/dang-nhap", data={"phone": PHONE})
    assert response.status_code == 429 and "quá nhiều mã trong một giờ" in text(response)
    clock.advance(hours=1)
    assert client.post("/dang-nhap", data={"phone": PHONE}).status_code == 302


def test_a_bounded_number_of_codes_per_client_ip(app, client, clock, monkeypatch):
    monkeypatch.setitem(app.config, "OTP_MAX_PER_IP_HOUR", 3)
    for i in range(3):
        assert client.post("/dang-nhap", data={"phone": f"091234500{i}"}).status_code == 302
    response = client.post("/dang-nhap", data={"phone": "0912345009"})
    assert response.status_code == 429 and "mạng của bạn" in text(response)


def test_consecutive_failures_lock_the_number_until_an_officer_unlocks_it(
        app, client, session, clock, monkeypatch, make_staff, staff_login):
    assert app.config["OTP_LOCK_AFTER_FAILURES"] == 100  # the rule; a smaller bar keeps the test short
    monkeypatch.setitem(app.config, "OTP_LOCK_AFTER_FAILURES", 7)
    monkeypatch.setitem(app.config, "OTP_MAX_PER_PHONE_HOUR", 50)
    failures = 0
    while failures < 7:
        client.post("/dang-nhap", data={"phone": PHONE})
        for _ in range(5):
            if failures == 7:
                break
            client.post("/dang-nhap/ma", data={"code": "999999"})
            failures += 1
        clock.advance(seconds=61)
    assert session.get(PhoneGuard, PHONE).locked_at is not None
    response = client.post("/dang-nhap", data={"phone": "+84912345678"})
    assert response.status_code == 429 and "đã bị khóa" in text(response)

    officer = make_staff("canbo1", "officer")
    staff = staff_login(officer)
    assert "091*****78" in text(staff.get("/can-bo/mo-khoa-so"))
    response = staff.post("/can-bo/mo-khoa-so", data={"phone": "0912 345 678"})
    assert "Đã mở khóa" in text(response)
    assert session.get(PhoneGuard, PHONE).locked_at is None
    assert session.scalar(select(AuditEvent).where(AuditEvent.event == "phone_unlocked")).actor_id == officer.id
    assert client.post("/dang-nhap", data={"phone": PHONE}).status_code == 302


def test_a_right_code_resets_the_consecutive_failures(app, client, session, clock):
    client.post("/dang-nhap", data={"phone": PHONE})
    client.post("/dang-nhap/ma", data={"code": "999999" if sms_codes(app, PHONE)[-1] != "999999" else "888888"})
    assert session.get(PhoneGuard, PHONE).consecutive_failures == 1
    client.post("/dang-nhap/ma", data={"code": sms_codes(app, PHONE)[-1]})
    assert session.get(PhoneGuard, PHONE).consecutive_failures == 0


def test_bad_phone_numbers_are_refused_with_a_message(client, clock):
    response = client.post("/dang-nhap", data={"phone": "12345"})
    assert response.status_code == 200 and "không hợp lệ" in text(response) and 'value="12345"' in text(response)


# -- API ------------------------------------------------------------------------------------------
def test_api_request_and_verify(app, client, session, clock):
    response = client.post("/api/v1/auth/otp/request", json={"phone": "+84 912 345 678"})
    assert response.status_code == 202 and response.get_json() == {"expires_in": 60, "resend_after": 60}
    code = sms_codes(app, PHONE)[-1]
    wrong = client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": "12345x"})
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "otp_invalid"
    assert "Mã xác thực không đúng" in wrong.get_json()["error"]["message"]
    ok = client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert ok.status_code == 200 and ok.get_json()["user"]["phone"] == PHONE
    assert "session" in ok.headers.get("Set-Cookie", "")
    assert logged_in(client)


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"phone": "abc"}, 400, "phone_invalid"),
    ({}, 400, "phone_invalid"),
])
def test_api_request_errors(client, clock, body, status, code):
    response = client.post("/api/v1/auth/otp/request", json=body)
    assert response.status_code == status and response.get_json()["error"]["code"] == code


def test_api_rate_limited_has_retry_after(client, clock):
    client.post("/api/v1/auth/otp/request", json={"phone": PHONE})
    clock.advance(seconds=20)
    response = client.post("/api/v1/auth/otp/request", json={"phone": PHONE})
    assert response.status_code == 429 and response.get_json()["error"]["code"] == "rate_limited"
    assert response.headers["Retry-After"] == "40"


def test_api_expired_and_locked(app, client, clock):
    client.post("/api/v1/auth/otp/request", json={"phone": PHONE})
    code = sms_codes(app, PHONE)[-1]
    for _ in range(5):
        client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": "000001" if code != "000001" else "000002"})
    locked = client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert locked.status_code == 429 and locked.get_json()["error"]["code"] == "otp_locked"
    clock.advance(seconds=61)
    client.post("/api/v1/auth/otp/request", json={"phone": PHONE})
    clock.advance(seconds=61)
    expired = client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": sms_codes(app, PHONE)[-1]})
    assert expired.status_code == 401 and expired.get_json()["error"]["code"] == "otp_expired"


# -- the SMS gateway ----------------------------------------------------------------------------------
def test_gateway_down_gives_a_clear_message_and_an_immediate_retry(app, client, session, clock, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_BACKEND", "http")
    monkeypatch.setitem(app.config, "SMS_HTTP_URL", "http://127.0.0.1:9/send")  # nothing listens
    response = client.post("/dang-nhap", data={"phone": PHONE})
    assert response.status_code == 302  # the request itself did not wait for the gateway
    page = client.get("/dang-nhap/ma")
    assert page.status_code == 200
    html = text(page)
    assert "Không gửi được tin nhắn SMS" in html and "hidden" not in html.split('id="otp-sms-failed"')[1][:80]
    assert client.get("/dang-nhap/ma/trang-thai").get_json()["sms_status"] == "failed"
    monkeypatch.setitem(app.config, "SMS_BACKEND", "file")
    client.post("/dang-nhap/gui-lai")  # no cooldown after a failed send
    assert client.get("/dang-nhap/ma/trang-thai").get_json()["sms_status"] == "sent"
    assert client.post("/dang-nhap/ma", data={"code": sms_codes(app, PHONE)[-1]}).status_code == 302


def test_the_sms_is_queued_after_commit_not_sent_in_the_request(app, client, session, clock, monkeypatch, redis_conn):
    from rq import Queue

    from tests.conftest import REDIS_URL

    conn = redis_conn
    monkeypatch.setitem(app.config, "JOBS_SYNC", False)
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    before = len(sms_codes(app, "0987654321"))
    client.post("/dang-nhap", data={"phone": "0987654321"})
    assert len(sms_codes(app, "0987654321")) == before  # nothing sent inside the request
    assert any(job.func_name == "webapp.worker.run_job" for job in Queue("pakn", connection=conn).jobs)


def test_sms_text_format_in_the_file_backend(app, client, clock):
    import json
    from pathlib import Path

    client.post("/dang-nhap", data={"phone": PHONE})
    last = json.loads(Path(app.config["SMS_FILE_PATH"]).read_text(encoding="utf-8").splitlines()[-1])
    assert set(last) == {"to", "text", "sent_at"} and last["to"] == PHONE
    assert "1 phut" in last["text"]


def test_user_count_does_not_grow_on_failed_logins(app, client, session, clock):
    before = session.scalar(select(func.count()).select_from(User))
    client.post("/dang-nhap", data={"phone": PHONE})
    client.post("/dang-nhap/ma", data={"code": "000000"})
    assert session.scalar(select(func.count()).select_from(User)) == before
    assert session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_http_sms_backend_posts_the_template_with_the_auth_header(app, client, clock, monkeypatch):
    """The provider's HTTP endpoint is the one thing mocked: a loopback server that records requests."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Provider(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers.get("Authorization"), json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):  # keep the test output clean
            pass

    server = HTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setitem(app.config, "SMS_BACKEND", "http")
        monkeypatch.setitem(app.config, "SMS_HTTP_URL", f"http://127.0.0.1:{server.server_port}/sms")
        monkeypatch.setitem(app.config, "SMS_HTTP_AUTH_HEADER", "Bearer token-123")
        monkeypatch.setitem(app.config, "SMS_HTTP_BODY_TEMPLATE", '{"msisdn": "{to}", "message": "{text}", "brand": "PAKN"}')
        client.post("/dang-nhap", data={"phone": PHONE})
        assert client.get("/dang-nhap/ma/trang-thai").get_json()["sms_status"] == "sent"
    finally:
        server.shutdown()
    (auth, body), = received
    assert auth == "Bearer token-123"
    assert body["msisdn"] == PHONE and body["brand"] == "PAKN" and "Ma xac thuc" in body["message"]
