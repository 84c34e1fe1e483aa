"""API: phone OTP login. JSON only; the code is bound to the session cookie of the request."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, session
from flask_babel import gettext as _
from flask_login import current_user

from webapp.access import login_required_json
from webapp.auth import services
from webapp.auth.routes import OTP_KEY
from webapp.auth.services import AuthError
from webapp.errors import json_error
from webapp.extensions import csrf, db, limiter

bp = Blueprint("auth_api", __name__, url_prefix="/api/v1/auth")
# JSON bodies only (checked below): a cross-site form cannot send them without CORS, which this
# API does not grant, so the CSRF token of the HTML forms is not needed here.
csrf.exempt(bp)


def _error(exc: AuthError):
    return json_error(exc.code, exc.message, exc.status, retry_after=exc.retry_after)


def _code_sent(issued: services.Issued):  # noqa: ANN202 - a Flask response tuple
    """202 with the code's lifetime and when another may be asked for (both code requests)."""
    ttl = int((issued.challenge.expires_at - issued.challenge.created_at).total_seconds())
    return jsonify(expires_in=ttl, resend_after=issued.resend_after), 202


def _body() -> dict:
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise AuthError("invalid_json", _("Thân yêu cầu phải là một đối tượng JSON."), 400)
    return body


@bp.post("/otp/request")
@limiter.limit("30 per minute")
def otp_request():
    try:
        body = _body()
        issued = services.request_otp(str(body.get("phone") or ""), purpose="login")
        session[OTP_KEY] = issued.challenge.id
        db.session.commit()
    except AuthError as exc:
        db.session.commit()
        return _error(exc)
    return _code_sent(issued)


@bp.post("/otp/verify")
@limiter.limit("60 per minute")
def otp_verify():
    try:
        body = _body()
        phone = services.parse_phone(str(body.get("phone") or ""))
        verified = services.verify_otp(session.get(OTP_KEY), str(body.get("code") or ""), phone=phone)
        user = services.citizen_for_phone(verified.phone)
        session.pop(OTP_KEY, None)
        services.start_session(user, "otp")
        db.session.commit()
    except AuthError as exc:
        db.session.commit()
        return _error(exc)
    return jsonify(user={"id": user.id, "full_name": user.full_name, "phone": user.phone,
                         "phone_verified": user.phone_verified_at is not None})


# -- the phone of a logged-in account that has none verified (a login through Google or the national
# portal): tracking codes go only to a verified phone, so sending a report needs one --------------------
@bp.post("/phone/request")
@limiter.limit("30 per minute")
@login_required_json
def phone_request():
    try:
        user = current_user._get_current_object()
        body = _body()
        issued = services.request_phone_verification(user, str(body.get("phone") or ""))
        session[services.PHONE_OTP_KEY] = issued.challenge.id
        db.session.commit()
    except AuthError as exc:
        db.session.commit()
        return _error(exc)
    return _code_sent(issued)


@bp.post("/phone/verify")
@limiter.limit("60 per minute")
@login_required_json
def phone_verify():
    try:
        user = current_user._get_current_object()
        body = _body()
        phone = services.verify_account_phone(user, session.get(services.PHONE_OTP_KEY), str(body.get("code") or ""))
        session.pop(services.PHONE_OTP_KEY, None)
        db.session.commit()
    except AuthError as exc:
        db.session.commit()
        return _error(exc)
    return jsonify(user={"id": user.id, "full_name": user.full_name, "phone": phone, "phone_verified": True})
