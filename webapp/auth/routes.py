"""Citizen login (phone OTP, password, OpenID Connect), registration, logout."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from indexer.text import mask_phone, normalize_phone
from webapp.auth import oidc, services, throttle
from webapp.auth.forms import CodeForm, PasswordLoginForm, PhoneForm, RegisterForm
from webapp.auth.models import OtpChallenge, Role, RoleName, User, UserKind, UserStatus
from webapp.auth.services import AuthError
from webapp.db import begin_write
from webapp.errors import json_error
from webapp.extensions import db, limiter
from webapp.main.helpers import safe_next

bp = Blueprint("auth", __name__)
OTP_KEY = "otp_challenge"


def _next() -> str:
    return safe_next(request.values.get("next") or session.get("login_next"))


def _providers() -> list[tuple[str, str]]:
    return oidc.configured_providers()


@bp.route("/dang-nhap", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_next())
    form = PhoneForm()
    if request.method == "GET" and request.args.get("next"):
        session["login_next"] = safe_next(request.args["next"])
    error, status = None, 200
    if form.validate_on_submit():
        try:
            issued = services.request_otp(form.phone.data, purpose="login")
            session[OTP_KEY] = issued.challenge.id
            db.session.commit()
            return redirect(url_for("auth.code"))
        except AuthError as exc:
            db.session.commit()  # keep the audit entry of the refusal
            error, status = exc.message, exc.status
    return render_template("auth/login.html", form=form, error=error, providers=_providers()), status


def _challenge() -> OtpChallenge | None:
    challenge_id = session.get(OTP_KEY)
    return db.session.get(OtpChallenge, challenge_id) if challenge_id else None


@bp.route("/dang-nhap/ma", methods=["GET", "POST"])
@limiter.limit("60 per minute", methods=["POST"])
def code():
    challenge = _challenge()
    if challenge is None:
        flash(_("Vui lòng nhập số điện thoại để nhận mã."), "error")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    error = None
    status = 200
    if form.validate_on_submit():
        try:
            verified = services.verify_otp(challenge.id, form.code.data)
            user = services.citizen_for_phone(verified.phone)
            session.pop(OTP_KEY, None)
            target = _next()
            services.start_session(user, "register" if verified.purpose == "register" else "otp")
            db.session.commit()
            flash(_("Đăng nhập thành công."), "success")
            return redirect(target)
        except AuthError as exc:
            db.session.commit()  # the wrong try is counted even though the answer is an error
            error, status = exc.message, exc.status
    return render_template("auth/code.html", form=form, error=error, challenge=challenge,
                           phone=mask_phone(challenge.phone), seconds_left=_seconds_left(challenge),
                           resend_in=services.resend_wait(challenge)), status


def _seconds_left(challenge: OtpChallenge) -> int:
    return max(0, int((challenge.expires_at - services.now()).total_seconds()))


@bp.get("/dang-nhap/ma/trang-thai")
def code_status():
    """For the code page's script: SMS delivery state and the timers."""
    challenge = _challenge()
    if challenge is None:
        return json_error("no_challenge", _("Vui lòng nhập số điện thoại để nhận mã."), 404)
    return jsonify(sms_status=challenge.sms_status, seconds_left=_seconds_left(challenge),
                   resend_in=services.resend_wait(challenge))


@bp.post("/dang-nhap/gui-lai")
@limiter.limit("10 per minute")
def resend():
    challenge = _challenge()
    if challenge is None:
        return redirect(url_for("auth.login"))
    try:
        issued = services.request_otp(challenge.phone, purpose=challenge.purpose,
                                      user=db.session.get(User, challenge.user_id) if challenge.user_id else None)
        session[OTP_KEY] = issued.challenge.id
        db.session.commit()
        flash(_("Đã gửi mã mới tới %(p)s.", p=mask_phone(challenge.phone)), "success")
    except AuthError as exc:
        db.session.commit()
        flash(exc.message, "error")
    return redirect(url_for("auth.code"))


@bp.post("/dang-xuat")
def logout():
    services.end_session()
    db.session.commit()
    flash(_("Bạn đã đăng xuất."), "success")
    response = redirect(url_for("main.home"))
    # The installed app's per-user pages and drafts stay on no device after logout (docs/app.md).
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.route("/dang-ky", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))

    form = RegisterForm(password_check=services.password_problem)
    error = None
    if form.validate_on_submit():
        # The answer is the same for a new and an existing phone or e-mail (ASVS 5.0 V6.3.8): a
        # registration form must not tell strangers who has an account. The owner of an existing
        # account is told by SMS / e-mail instead, and nothing typed here changes their account.
        phone = normalize_phone(form.phone.data)
        email = (form.email.data or "").strip() or None
        user = db.session.scalar(select(User).where(User.phone == phone))
        purpose = "register"
        if user is not None and user.status != UserStatus.PENDING:
            purpose = "register_known"  # the SMS says the number has an account: a login code
        else:
            if user is None:
                user = User(phone=phone, kind=UserKind.CITIZEN, status=UserStatus.PENDING)
                citizen = db.session.scalar(select(Role).where(Role.name == RoleName.CITIZEN))
                if citizen is not None:
                    user.roles.append(citizen)
                db.session.add(user)
            if email and services.email_in_use(email):
                services.notify_email_in_use(email)
                email = None  # not attached to a second account; its owner was told
            user.full_name = form.full_name.data.strip()
            user.email = email
            user.address = (form.address.data or "").strip() or None
            user.password_hash = services.hash_password(form.password.data)
        db.session.flush()
        try:
            issued = services.request_otp(phone, purpose=purpose, user=user)
            services.audit("account_registered" if purpose == "register" else "register_existing_phone",
                           user=user, subject=mask_phone(phone))
            session[OTP_KEY] = issued.challenge.id
            db.session.commit()
            flash(_("Đã gửi mã kích hoạt tới %(p)s.", p=mask_phone(phone)), "success")
            return redirect(url_for("auth.code"))
        except AuthError as exc:
            db.session.rollback()
            error = exc.message
    return render_template("auth/register.html", form=form, error=error)


@bp.route("/dang-nhap/mat-khau", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def password_login():
    if current_user.is_authenticated:
        return redirect(_next())
    form = PasswordLoginForm()
    error = None
    if form.validate_on_submit():
        user = services.find_by_login(form.login.data)
        guard_key = throttle.key_for(user, form.login.data or "")
        try:
            throttle.check(guard_key)
        except throttle.Throttled as exc:
            services.audit("password_login_throttled", user=user, subject=(form.login.data or "")[:3] + "…")
            db.session.commit()
            return render_template("auth/password.html", form=form, error=exc.message), 429
        if not services.check_password(user, form.password.data):
            throttle.failed(guard_key)
            services.audit("password_login_failed", user=user, subject=(form.login.data or "")[:3] + "…")
            db.session.commit()
            error = _("Số điện thoại/email hoặc mật khẩu không đúng.")
        elif user.status == UserStatus.PENDING:
            error = _("Tài khoản chưa được kích hoạt. Hãy đăng nhập bằng mã OTP gửi tới số điện thoại để kích hoạt.")
        elif user.status == UserStatus.LOCKED or (user.phone and services.phone_locked(user.phone)):
            error = _("Tài khoản này đang bị khóa. Vui lòng liên hệ cán bộ tiếp nhận.")
        else:
            target = _next()
            throttle.succeeded(guard_key)
            services.start_session(user, "password")
            db.session.commit()
            flash(_("Đăng nhập thành công."), "success")
            return redirect(target)
    return render_template("auth/password.html", form=form, error=error)


@bp.get("/dang-nhap/oidc/<provider>")
@limiter.limit("30 per minute")
def oidc_start(provider: str):
    client = oidc.client(provider)
    if client is None:
        abort(404)
    session["login_next"] = _next()
    return client.authorize_redirect(url_for("auth.oidc_callback", provider=provider, _external=True))


@bp.get("/dang-nhap/oidc/<provider>/callback")
def oidc_callback(provider: str):
    begin_write()  # a GET that creates accounts and sessions
    client = oidc.client(provider)
    if client is None:
        abort(404)
    try:
        user = oidc.complete_login(provider, client)
    except AuthError as exc:
        db.session.commit()
        flash(exc.message, "error")
        return redirect(url_for("auth.login"))
    target = safe_next(session.get("login_next"))
    services.start_session(user, f"oidc:{provider}")
    db.session.commit()
    flash(_("Đăng nhập thành công."), "success")
    return redirect(target)

