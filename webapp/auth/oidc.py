"""OpenID Connect login ("Đăng nhập với dịch vụ công", "Đăng nhập với Google") with Authlib.

Authlib keeps state and nonce in the session and verifies the ID token (signature, issuer,
audience, nonce); PKCE (S256) is on. Users are identified by provider + ``sub``; an existing
account is linked only through an email or phone number that the provider marks as verified.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from indexer.text import mask_phone, normalize_phone
from webapp.auth.models import OidcIdentity, Role, RoleName, User, UserKind, UserStatus
from webapp.auth.services import AuthError, audit
from webapp.clock import now
from webapp.extensions import db

PROVIDERS = {
    "dvc": (_l("Đăng nhập với dịch vụ công"), "OIDC_DVC"),
    "google": (_l("Đăng nhập với Google"), "OIDC_GOOGLE"),
}


def _configured(app: Flask, name: str) -> bool:
    prefix = PROVIDERS[name][1]
    return bool(app.config[f"{prefix}_DISCOVERY_URL"] and app.config[f"{prefix}_CLIENT_ID"])


def register(app: Flask) -> None:
    oauth = OAuth(app)
    for name, (_label, prefix) in PROVIDERS.items():
        if _configured(app, name):
            oauth.register(
                name, server_metadata_url=app.config[f"{prefix}_DISCOVERY_URL"],
                client_id=app.config[f"{prefix}_CLIENT_ID"], client_secret=app.config[f"{prefix}_CLIENT_SECRET"],
                client_kwargs={"scope": "openid email profile phone", "code_challenge_method": "S256"})
    app.extensions["pakn_oauth"] = oauth


def configured_providers() -> list[tuple[str, str]]:
    return [(name, str(label)) for name, (label, _p) in PROVIDERS.items() if _configured(current_app, name)]


def client(name: str) -> Any:
    if name not in PROVIDERS or not _configured(current_app, name):
        return None
    return current_app.extensions["pakn_oauth"].create_client(name)


def complete_login(provider: str, oauth_client: Any) -> User:
    """Finish the redirect round trip and return the account to log in."""
    try:
        token = oauth_client.authorize_access_token()
    except Exception as exc:  # noqa: BLE001 - any protocol failure ends the same way for the user
        audit("oidc_failed", detail=f"{provider}: {exc.__class__.__name__}: {exc}"[:300])
        raise AuthError("oidc_failed", _("Đăng nhập không thành công. Vui lòng thử lại."), 400) from exc
    claims = dict(token.get("userinfo") or {})  # the verified ID token's claims
    try:
        extra = dict(oauth_client.userinfo(token=token))
    except Exception:  # noqa: BLE001 - the ID token alone is enough to log in
        extra = {}
    if extra.get("sub") == claims.get("sub"):
        claims = {**extra, **claims}
    sub = str(claims.get("sub") or "")
    if not sub:
        raise AuthError("oidc_failed", _("Nhà cung cấp không trả về định danh người dùng."), 400)
    identity = db.session.scalar(select(OidcIdentity).where(OidcIdentity.provider == provider,
                                                             OidcIdentity.sub == sub))
    if identity is not None:
        user = identity.user
        if user.status == UserStatus.LOCKED:
            raise AuthError("account_locked", _("Tài khoản này đang bị khóa."), 403)
        return user

    email = claims.get("email") if claims.get("email_verified") is True else None
    phone = normalize_phone(claims.get("phone_number")) if claims.get("phone_number_verified") is True else None
    user = None
    if email:
        user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower(),
                                                    User.kind == UserKind.CITIZEN))
    if user is None and phone:
        user = db.session.scalar(select(User).where(User.phone == phone))
    if user is not None:
        if user.status == UserStatus.LOCKED:
            raise AuthError("account_locked", _("Tài khoản này đang bị khóa."), 403)
        audit("oidc_linked", user=user, detail=provider)
    else:
        user = User(kind=UserKind.CITIZEN, status=UserStatus.ACTIVE, full_name=str(claims.get("name") or ""),
                    email=email, phone=phone, phone_verified_at=now() if phone else None)
        citizen = db.session.scalar(select(Role).where(Role.name == RoleName.CITIZEN))
        if citizen is not None:
            user.roles.append(citizen)
        db.session.add(user)
        db.session.flush()
        audit("account_created", user=user, subject=mask_phone(phone) if phone else "", detail=f"oidc:{provider}")
    if user.status == UserStatus.PENDING:
        user.status = UserStatus.ACTIVE
    db.session.add(OidcIdentity(provider=provider, sub=sub, user=user, email=email))
    db.session.flush()
    return user
