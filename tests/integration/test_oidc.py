"""OpenID Connect login, the whole redirect round trip against a real provider on loopback
(`oidc-provider-mock`), for both configured providers."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from tests.conftest import build_app, migrate
from webapp.auth.models import OidcIdentity, User


@pytest.fixture(scope="module")
def provider():
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def oidc_app(databases, provider):
    url, instance = databases.new()
    app = build_app(url, instance, OIDC_GOOGLE_DISCOVERY_URL=f"{provider}/.well-known/openid-configuration",
                    OIDC_GOOGLE_CLIENT_ID="pakn-google", OIDC_GOOGLE_CLIENT_SECRET="s3cret",
                    OIDC_DVC_DISCOVERY_URL=f"{provider}/.well-known/openid-configuration",
                    OIDC_DVC_CLIENT_ID="pakn-dvc", OIDC_DVC_CLIENT_SECRET="s3cret")
    migrate(app)
    return app


def set_user(provider: str, sub: str, **claims) -> None:
    assert requests.put(f"{provider}/users/{sub}", json=claims, timeout=5).status_code == 204


def round_trip(client, provider: str, name: str, sub: str):
    """Our login link → the provider's consent form (as the user) → our callback."""
    start = client.get(f"/dang-nhap/oidc/{name}")
    assert start.status_code == 302
    authorize_url = start.headers["Location"]
    params = parse_qs(urlsplit(authorize_url).query)
    assert params["code_challenge_method"] == ["S256"] and params["code_challenge"][0]
    assert params["state"][0] and params["nonce"][0]
    consent = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=5)
    assert consent.status_code == 302, consent.text[:300]
    callback = urlsplit(consent.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


@pytest.mark.parametrize("name", ["google", "dvc"])
def test_login_round_trip_creates_an_account(oidc_app, provider, name):
    client = oidc_app.test_client()
    set_user(provider, f"{name}-user-1", name="Phạm Văn Bình", email="binh@example.vn", email_verified=True)
    assert ("Đăng nhập với Google" if name == "google" else "Đăng nhập với dịch vụ công") in \
        client.get("/dang-nhap").get_data(as_text=True)
    response = round_trip(client, provider, name, f"{name}-user-1")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Đăng xuất" in client.get("/").get_data(as_text=True)
    with oidc_app.app_context():
        from webapp.extensions import db

        identity = db.session.scalar(select(OidcIdentity).where(OidcIdentity.sub == f"{name}-user-1"))
        assert identity.provider == name and identity.user.full_name == "Phạm Văn Bình"
        assert identity.user.email == "binh@example.vn"


def test_same_subject_logs_into_the_same_account(oidc_app, provider):
    set_user(provider, "again-1", name="Lê Thị Hoa", email="hoa@example.vn", email_verified=True)
    first, second = oidc_app.test_client(), oidc_app.test_client()
    round_trip(first, provider, "google", "again-1")
    round_trip(second, provider, "google", "again-1")
    with oidc_app.app_context():
        from webapp.extensions import db

        assert len(db.session.scalars(select(User).where(User.email == "hoa@example.vn")).all()) == 1


def test_existing_account_is_linked_only_through_a_verified_email(oidc_app, provider):
    with oidc_app.app_context():
        from webapp.extensions import db

        db.session.add(User(phone="0912000333", full_name="Chủ tài khoản", email="chu@example.vn", kind="citizen",
                            status="active"))
        db.session.commit()
    set_user(provider, "unverified-1", name="Kẻ mạo danh", email="chu@example.vn", email_verified=False)
    round_trip(oidc_app.test_client(), provider, "google", "unverified-1")
    set_user(provider, "verified-1", name="Chủ tài khoản", email="chu@example.vn", email_verified=True)
    round_trip(oidc_app.test_client(), provider, "dvc", "verified-1")
    with oidc_app.app_context():
        from webapp.extensions import db

        owner = db.session.scalar(select(User).where(User.phone == "0912000333"))
        linked = db.session.scalars(select(OidcIdentity).where(OidcIdentity.user_id == owner.id)).all()
        assert [i.sub for i in linked] == ["verified-1"]  # the unverified email got its own account
        impostor = db.session.scalar(select(OidcIdentity).where(OidcIdentity.sub == "unverified-1")).user
        assert impostor.id != owner.id and impostor.email is None


def test_a_forged_state_is_refused(oidc_app, provider):
    client = oidc_app.test_client()
    client.get("/dang-nhap/oidc/google")
    response = client.get("/dang-nhap/oidc/google/callback?code=abc&state=forged")
    assert response.status_code == 302 and response.headers["Location"].endswith("/dang-nhap")
    assert "Đăng xuất" not in client.get("/").get_data(as_text=True)


def test_buttons_are_hidden_when_not_configured(client):
    html = client.get("/dang-nhap").get_data(as_text=True)
    assert "Đăng nhập với Google" not in html and "dịch vụ công" not in html
    assert client.get("/dang-nhap/oidc/google").status_code == 404


# -- a login without a verified phone: the tracking code goes only to a phone verified by OTP ---------------
OWN, TYPED = "0912000555", "0987000123"
SEND_FORM = {"title": "Đèn đường hỏng trước trường học", "content": "Cả dãy đèn trước cổng trường tắt từ tuần trước.",
             "field": "dien", "ward": "25708", "address": "Số 12 đường Lý Thường Kiệt", "sender_kind": "individual",
             "sender_name": "Đặng Thu Hà", "idempotency_key": "sso-1"}


def sms_to(app, phone: str) -> list[str]:
    import json
    from pathlib import Path

    path = Path(app.config["SMS_FILE_PATH"])
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [m["text"] for m in map(json.loads, lines) if m["to"] == phone]


def sso_citizen(oidc_app, provider, sub: str):
    client = oidc_app.test_client()
    set_user(provider, sub, name="Đặng Thu Hà", email=f"{sub}@example.vn", email_verified=True)  # no phone claim
    assert round_trip(client, provider, "google", sub).status_code == 302
    return client


def reports_of(oidc_app, sub: str) -> list:
    from webapp.extensions import db
    from webapp.reports.models import Report

    with oidc_app.app_context():
        identity = db.session.scalar(select(OidcIdentity).where(OidcIdentity.sub == sub))
        return [(r.code, r.sender_phone) for r in db.session.scalars(select(Report).where(
            Report.user_id == identity.user_id))]


def test_a_login_without_phone_verifies_one_on_the_send_form_and_the_sms_goes_only_there(oidc_app, provider):
    from tests.conftest import sms_codes

    client = sso_citizen(oidc_app, provider, "sso-form-1")
    page = client.get("/gui-phan-anh").get_data(as_text=True)
    assert "Gửi mã xác thực" in page and "readonly" not in page.split('id="sender_phone"')[1].split(">")[0]

    # Sending with a typed number is refused: no report, no SMS to that number.
    refused = client.post("/gui-phan-anh", data={**SEND_FORM, "sender_phone": TYPED, "action": "send"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "Vui lòng xác thực số điện thoại bằng mã OTP trước khi gửi" in html
    assert "Cả dãy đèn trước cổng trường" in html  # what was typed comes back
    assert reports_of(oidc_app, "sso-form-1") == [] and sms_to(oidc_app, TYPED) == []

    # Ask for a code: the page comes back with everything typed and a field for the code.
    asked = client.post("/gui-phan-anh", data={**SEND_FORM, "sender_phone": OWN, "action": "phone_code"})
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Đã gửi mã xác thực tới 091*****55" in html
    assert 'id="phone_code"' in html and "Đèn đường hỏng trước trường học" in html and "Số 12 đường Lý Thường Kiệt" in html
    (code,) = sms_codes(oidc_app, OWN)

    wrong = client.post("/gui-phan-anh", data={**SEND_FORM, "sender_phone": OWN, "action": "phone_verify",
                                              "phone_code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 401 and "Mã xác thực không đúng" in wrong.get_data(as_text=True)
    assert "Cả dãy đèn trước cổng trường" in wrong.get_data(as_text=True)

    verified = client.post("/gui-phan-anh", data={**SEND_FORM, "sender_phone": OWN, "action": "phone_verify",
                                                 "phone_code": code})
    html = verified.get_data(as_text=True)
    assert verified.status_code == 200 and "Đã xác thực số 091*****55" in html
    assert 'value="0912000555"' in html and "readonly" in html.split('id="sender_phone"')[1].split(">")[0]
    assert "Số 12 đường Lý Thường Kiệt" in html

    # Now the send goes through; a number typed into the request is ignored.
    sent = client.post("/gui-phan-anh", data={**SEND_FORM, "sender_phone": TYPED, "action": "send"})
    assert sent.status_code == 302, sent.get_data(as_text=True)[:1000]
    ((report_code, phone),) = reports_of(oidc_app, "sso-form-1")
    assert phone == OWN
    assert any(report_code in text for text in sms_to(oidc_app, OWN))
    assert sms_to(oidc_app, TYPED) == []
    with oidc_app.app_context():
        from webapp.extensions import db

        user = db.session.scalar(select(OidcIdentity).where(OidcIdentity.sub == "sso-form-1")).user
        assert user.phone == OWN and user.phone_verified_at is not None


def test_the_api_refuses_a_send_until_the_phone_is_verified_and_then_texts_only_that_phone(oidc_app, provider):
    from tests.conftest import sms_codes

    own = "0912000666"
    client = sso_citizen(oidc_app, provider, "sso-api-1")
    body = {"type": "pakn", "title": SEND_FORM["title"], "content": SEND_FORM["content"], "field": "dien",
            "ward": 25708, "address": SEND_FORM["address"], "sender": {"name": "Đặng Thu Hà", "phone": TYPED}}
    refused = client.post("/api/v1/reports", json=body)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "phone_not_verified"
    assert refused.get_json()["error"]["field"] == "sender.phone"
    assert reports_of(oidc_app, "sso-api-1") == [] and sms_to(oidc_app, TYPED) == []

    assert client.post("/api/v1/auth/phone/request", json={"phone": own}).status_code == 202
    code = sms_codes(oidc_app, own)[-1]
    wrong = client.post("/api/v1/auth/phone/verify", json={"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "otp_invalid"
    done = client.post("/api/v1/auth/phone/verify", json={"code": code})
    assert done.status_code == 200 and done.get_json()["user"]["phone"] == own

    created = client.post("/api/v1/reports", json=body)
    assert created.status_code == 201, created.get_data(as_text=True)
    ((report_code, phone),) = reports_of(oidc_app, "sso-api-1")
    assert created.get_json()["code"] == report_code and phone == own
    assert any(report_code in text for text in sms_to(oidc_app, own)) and sms_to(oidc_app, TYPED) == []
    again = client.post("/api/v1/auth/phone/request", json={"phone": TYPED})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "phone_already_verified"


def test_a_phone_of_another_account_cannot_be_verified(oidc_app, provider):
    with oidc_app.app_context():
        from webapp.extensions import db

        db.session.add(User(phone="0912000777", full_name="Chủ số", kind="citizen", status="active"))
        db.session.commit()
    client = sso_citizen(oidc_app, provider, "sso-taken-1")
    response = client.post("/api/v1/auth/phone/request", json={"phone": "0912 000 777"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "phone_taken"
    page = client.post("/gui-phan-anh", data={**SEND_FORM, "sender_phone": "0912000777", "action": "phone_code"})
    assert page.status_code == 409 and "đã gắn với một tài khoản khác" in page.get_data(as_text=True)
    assert sms_to(oidc_app, "0912000777") == []
