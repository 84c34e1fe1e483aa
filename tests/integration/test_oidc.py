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
