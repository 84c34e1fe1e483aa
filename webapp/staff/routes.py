"""Staff area: username + password login, TOTP second factor for leaders and admins, staff tools."""

from __future__ import annotations

import base64

import pyotp
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from indexer.text import mask_phone, normalize_phone
from webapp.access import staff_required
from webapp.auth import services, throttle
from webapp.auth.forms import StaffLoginForm, TotpForm, UnlockPhoneForm
from webapp.auth.models import PhoneGuard, RoleName, User, UserKind, UserStatus
from webapp.extensions import db, limiter
from webapp.main.helpers import safe_next
from webapp.workflow.services import dashboard

bp = Blueprint("staff", __name__, url_prefix="/can-bo")
PENDING_KEY = "staff_pending"      # user id that passed the password step
ENROL_KEY = "staff_totp_secret"    # secret shown during enrolment, saved once confirmed
PENDING_SECONDS = 300


def _pending_user() -> User | None:
    data = session.get(PENDING_KEY)
    if not data:
        return None
    user_id, started = data
    if services.now().timestamp() - started > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    return db.session.get(User, user_id)


@bp.route("/dang-nhap", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    form = StaffLoginForm()
    error = None
    if request.method == "GET" and request.args.get("next"):
        session["login_next"] = safe_next(request.args["next"])
    if form.validate_on_submit():
        name = form.username.data.strip()
        user = db.session.scalar(select(User).where(User.username == name, User.kind == UserKind.STAFF))
        guard_key = throttle.key_for(user, name)
        try:
            throttle.check(guard_key)
        except throttle.Throttled as exc:
            services.audit("staff_login_throttled", user=user, subject=name[:60])
            db.session.commit()
            return render_template("staff/login.html", form=form, error=exc.message), 429
        if not services.check_password(user, form.password.data) or user.status != UserStatus.ACTIVE:
            throttle.failed(guard_key)
            services.audit("staff_login_failed", user=user, subject=name[:60])
            db.session.commit()
            error = _("Tên đăng nhập hoặc mật khẩu không đúng.")
        elif user.needs_second_factor:
            # The password step counts as half a login: the count is reset only by the TOTP step.
            session[PENDING_KEY] = (user.id, services.now().timestamp())
            return redirect(url_for("staff.totp" if user.totp_enabled_at else "staff.enrol"))
        else:
            target = safe_next(session.get("login_next") or url_for("staff.index"))
            throttle.succeeded(guard_key)
            services.start_session(user, "staff-password")
            db.session.commit()
            return redirect(target)
    return render_template("staff/login.html", form=form, error=error)


@bp.route("/xac-thuc", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def totp():
    user = _pending_user()
    if user is None or not user.totp_enabled_at:
        return redirect(url_for("staff.login"))
    form = TotpForm()
    error = None
    if form.validate_on_submit():
        guard_key = throttle.key_for(user)
        try:
            throttle.check(guard_key)
        except throttle.Throttled as exc:
            services.audit("totp_throttled", user=user)
            db.session.commit()
            return render_template("staff/totp.html", form=form, error=exc.message), 429
        if services.verify_totp(user, form.code.data):
            target = safe_next(session.get("login_next") or url_for("staff.index"))
            session.pop(PENDING_KEY, None)  # the password step is used up
            throttle.succeeded(guard_key)
            services.start_session(user, "staff-totp")
            db.session.commit()
            return redirect(target)
        throttle.failed(guard_key)
        services.audit("totp_failed", user=user)
        db.session.commit()
        error = _("Mã xác thực không đúng.")
    return render_template("staff/totp.html", form=form, error=error)


def _qr_data_uri(uri: str) -> str:
    # ~60 ms to import, and only the TOTP enrolment page draws a QR code.
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


@bp.route("/dang-ky-xac-thuc", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def enrol():
    user = _pending_user()
    if user is None or user.totp_enabled_at:
        return redirect(url_for("staff.login"))
    secret = session.get(ENROL_KEY) or pyotp.random_base32()
    session[ENROL_KEY] = secret
    form = TotpForm()
    error = None
    if form.validate_on_submit():
        guard_key = throttle.key_for(user)
        try:
            throttle.check(guard_key)
        except throttle.Throttled as exc:
            return render_template("staff/enrol.html", form=form, error=exc.message, secret=secret,
                                   qr=_qr_data_uri(pyotp.TOTP(secret).provisioning_uri(
                                       name=user.username or str(user.id), issuer_name="PAKN"))), 429
        if services.verify_totp(user, form.code.data, secret=secret):
            user.totp_secret = secret
            user.totp_enabled_at = services.now()
            services.audit("totp_enrolled", user=user)
            session.pop(ENROL_KEY, None)
            session.pop(PENDING_KEY, None)
            throttle.succeeded(guard_key)
            target = safe_next(session.get("login_next") or url_for("staff.index"))
            services.start_session(user, "staff-totp")
            db.session.commit()
            flash(_("Đã bật xác thực hai lớp."), "success")
            return redirect(target)
        throttle.failed(guard_key)
        db.session.commit()
        error = _("Mã xác thực không đúng. Kiểm tra giờ trên điện thoại và thử lại.")
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username or str(user.id), issuer_name="PAKN")
    return render_template("staff/enrol.html", form=form, error=error, secret=secret, qr=_qr_data_uri(uri))


@bp.get("/")
@staff_required()
def index():
    return render_template("staff/index.html", memberships=current_user.memberships, board=dashboard(current_user))


@bp.route("/mo-khoa-so", methods=["GET", "POST"])
@staff_required(RoleName.OFFICER, RoleName.LEADER, RoleName.ADMIN)
def unlock():
    form = UnlockPhoneForm()
    message = None
    if form.validate_on_submit():
        phone = normalize_phone(form.phone.data)
        if phone is None:
            form.phone.errors.append(_("Số điện thoại không hợp lệ."))
        elif services.unlock_phone(phone, current_user):
            db.session.commit()
            message = _("Đã mở khóa số %(p)s.", p=mask_phone(phone))
        else:
            message = _("Số %(p)s không bị khóa.", p=mask_phone(phone))
    locked = db.session.scalars(select(PhoneGuard).where(PhoneGuard.locked_at.is_not(None))
                                .order_by(PhoneGuard.locked_at.desc()).limit(50)).all()
    return render_template("staff/unlock.html", form=form, message=message, locked=locked)


@bp.post("/dang-xuat-moi-noi")
@staff_required(RoleName.ADMIN)
def sign_out_by_login():
    """Admin tool: end every session of the account with this username, phone or email."""
    login = (request.form.get("login") or "").strip()
    user = services.find_any_account(login)
    if user is None:
        flash(_("Không tìm thấy tài khoản '%(login)s'.", login=login), "error")
        return redirect(url_for("staff.index"))
    return sign_out_everywhere(user.id)


@bp.post("/nguoi-dung/<int:user_id>/dang-xuat-tat-ca")
@staff_required(RoleName.ADMIN)
def sign_out_everywhere(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    count = services.revoke_all_sessions(user, current_user)
    db.session.commit()
    flash(_("Đã đăng xuất %(n)d phiên của tài khoản này.", n=count), "success")
    return redirect(url_for("staff.index"))
