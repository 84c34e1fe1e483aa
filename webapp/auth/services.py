"""Accounts: OTP challenges and their limits, passwords, server-side sessions, audit log.

Every rule here is a security requirement with a test. Functions flush; the caller commits (also
after an ``AuthError``, so that counted failures and audit entries are kept).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyotp
from flask import current_app, has_request_context, request, session
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from sqlalchemy import func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from indexer.text import mask_phone, normalize_phone
from webapp.auth.models import (
    AuditEvent,
    OtpChallenge,
    PhoneGuard,
    Role,
    RoleName,
    User,
    UserKind,
    UserSession,
    UserStatus,
)
from webapp.clientip import client_key
from webapp.clock import now  # the one clock; also imported from here by older callers
from webapp.db import begin_write
from webapp.extensions import db
from webapp.jobs import after_commit
from webapp.mail import MailError, send_mail

log = logging.getLogger("webapp.auth")


class AuthError(Exception):
    """A refused authentication step: a stable code, a Vietnamese message, an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.retry_after = code, message, status, retry_after


def client_ip() -> str:
    """The client as limits count it (IPv6 per /64; the real address behind trusted proxies)."""
    return client_key() if has_request_context() else ""


def audit(event: str, user: User | None = None, subject: str = "", detail: str = "",
          actor: User | None = None) -> None:
    """Record an authentication or security event (committed with the caller's transaction)."""
    db.session.add(AuditEvent(event=event, user_id=user.id if user is not None else None,
                              actor_id=actor.id if actor is not None else None, subject=subject,
                              ip=client_ip(), detail=detail[:1000], created_at=now()))


# -- phone numbers ----------------------------------------------------------------------------------
def parse_phone(raw: str | None) -> str:
    phone = normalize_phone(raw)
    if phone is None:
        raise AuthError("phone_invalid", _("Số điện thoại không hợp lệ. Ví dụ đúng: 0912 345 678."), 400)
    return phone


def phone_locked(phone: str) -> bool:
    guard = db.session.get(PhoneGuard, phone)
    return guard is not None and guard.locked_at is not None


def unlock_phone(phone: str, actor: User | None) -> bool:
    """An officer unlocks a number locked after too many wrong codes; returns whether it was locked."""
    guard = db.session.get(PhoneGuard, phone)
    if guard is None or guard.locked_at is None:
        return False
    guard.locked_at = None
    guard.consecutive_failures = 0
    audit("phone_unlocked", subject=mask_phone(phone), actor=actor)
    return True


# -- OTP ------------------------------------------------------------------------------------------------
def _code_hash(challenge_id: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


@dataclass
class Issued:
    challenge: OtpChallenge
    resend_after: int


def request_otp(raw_phone: str, purpose: str = "login", user: User | None = None) -> Issued:
    """Create a challenge and queue its SMS (after commit); enforce lock, cooldown and hourly limits."""
    cfg = current_app.config
    phone = parse_phone(raw_phone)
    ip = client_ip()
    moment = now()
    if phone_locked(phone):
        audit("otp_refused_locked", subject=mask_phone(phone))
        raise AuthError("otp_locked", _("Số điện thoại này đã bị khóa do nhập sai mã quá nhiều lần. "
                                        "Vui lòng liên hệ cán bộ tiếp nhận để được mở khóa."), 429)
    sent = select(OtpChallenge).where(OtpChallenge.phone == phone, OtpChallenge.sms_status != "failed")
    last = db.session.scalar(sent.order_by(OtpChallenge.created_at.desc()).limit(1))
    if last is not None:
        wait = math.ceil((last.created_at + timedelta(seconds=cfg["OTP_RESEND_SECONDS"]) - moment).total_seconds())
        if wait > 0:
            raise AuthError("rate_limited", _("Vui lòng đợi %(s)d giây trước khi yêu cầu mã mới.", s=wait),
                            429, retry_after=wait)
    hour_ago = moment - timedelta(hours=1)
    recent = db.session.scalars(
        sent.where(OtpChallenge.created_at > hour_ago).order_by(OtpChallenge.created_at)).all()
    if len(recent) >= cfg["OTP_MAX_PER_PHONE_HOUR"]:
        wait = max(1, math.ceil((recent[0].created_at + timedelta(hours=1) - moment).total_seconds()))
        audit("otp_rate_limited_phone", subject=mask_phone(phone))
        raise AuthError("rate_limited", _("Số điện thoại này đã nhận quá nhiều mã trong một giờ. "
                                          "Vui lòng thử lại sau %(m)d phút.", m=max(1, wait // 60)),
                        429, retry_after=wait)
    if ip:
        from_ip = db.session.scalar(select(func.count()).select_from(OtpChallenge).where(
            OtpChallenge.client_ip == ip, OtpChallenge.created_at > hour_ago)) or 0
        if from_ip >= cfg["OTP_MAX_PER_IP_HOUR"]:
            audit("otp_rate_limited_ip", subject=mask_phone(phone))
            raise AuthError("rate_limited", _("Có quá nhiều yêu cầu mã từ mạng của bạn. Vui lòng thử lại sau."),
                            429, retry_after=3600)
    # Any earlier code for this number stops working: only the newest attempt counts.
    db.session.execute(update(OtpChallenge).where(
        OtpChallenge.phone == phone, OtpChallenge.consumed_at.is_(None)).values(superseded=True))
    challenge_id = secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(1_000_000):06d}"
    challenge = OtpChallenge(id=challenge_id, phone=phone, purpose=purpose, code_hash=_code_hash(challenge_id, code),
                             client_ip=ip, user_id=user.id if user else None, created_at=moment,
                             expires_at=moment + timedelta(seconds=cfg["OTP_TTL_SECONDS"]))
    db.session.add(challenge)
    audit("otp_requested", user=user, subject=mask_phone(phone), detail=purpose)
    db.session.flush()
    after_commit("webapp.sms:deliver_otp", challenge_id, code)
    return Issued(challenge, cfg["OTP_RESEND_SECONDS"])


def resend_wait(challenge: OtpChallenge) -> int:
    """Seconds before another code may be sent for this challenge's number (0 if the SMS failed)."""
    if challenge.sms_status == "failed":
        return 0
    left = challenge.created_at + timedelta(seconds=current_app.config["OTP_RESEND_SECONDS"]) - now()
    return max(0, math.ceil(left.total_seconds()))


def verify_otp(challenge_id: str | None, code: str, phone: str | None = None) -> OtpChallenge:
    """Check a typed code against the challenge of this login attempt; consume it on success."""
    cfg = current_app.config
    challenge = db.session.get(OtpChallenge, challenge_id) if challenge_id else None
    if challenge is None or challenge.superseded or challenge.consumed_at is not None:
        raise AuthError("otp_expired", _("Mã xác thực không còn hiệu lực. Vui lòng yêu cầu mã mới."), 401)
    if phone is not None and phone != challenge.phone:
        raise AuthError("otp_invalid", _("Mã xác thực không đúng."), 401)
    if phone_locked(challenge.phone):
        raise AuthError("otp_locked", _("Số điện thoại này đã bị khóa do nhập sai mã quá nhiều lần. "
                                        "Vui lòng liên hệ cán bộ tiếp nhận để được mở khóa."), 429)
    if challenge.attempts >= cfg["OTP_MAX_ATTEMPTS"]:
        raise AuthError("otp_locked", _("Bạn đã nhập sai quá %(n)d lần. Vui lòng yêu cầu mã mới.",
                                        n=cfg["OTP_MAX_ATTEMPTS"]), 429)
    if now() >= challenge.expires_at:
        raise AuthError("otp_expired", _("Mã xác thực đã hết hạn (mã chỉ có hiệu lực 1 phút). "
                                         "Vui lòng yêu cầu mã mới."), 401)
    typed = "".join(ch for ch in (code or "") if ch.isdigit())
    if not hmac.compare_digest(_code_hash(challenge.id, typed), challenge.code_hash):
        challenge.attempts += 1
        guard = db.session.get(PhoneGuard, challenge.phone)
        if guard is None:
            guard = PhoneGuard(phone=challenge.phone, consecutive_failures=0)
            db.session.add(guard)
        guard.consecutive_failures += 1
        if guard.consecutive_failures >= cfg["OTP_LOCK_AFTER_FAILURES"]:
            guard.locked_at = now()
            audit("phone_locked", subject=mask_phone(challenge.phone))
        audit("otp_failed", subject=mask_phone(challenge.phone))
        db.session.flush()
        left = cfg["OTP_MAX_ATTEMPTS"] - challenge.attempts
        if guard.locked_at is not None:
            raise AuthError("otp_locked", _("Số điện thoại này đã bị khóa do nhập sai mã quá nhiều lần. "
                                            "Vui lòng liên hệ cán bộ tiếp nhận để được mở khóa."), 429)
        if left <= 0:
            raise AuthError("otp_locked", _("Bạn đã nhập sai quá %(n)d lần. Vui lòng yêu cầu mã mới.",
                                            n=cfg["OTP_MAX_ATTEMPTS"]), 429)
        raise AuthError("otp_invalid", _("Mã xác thực không đúng. Bạn còn %(n)d lần thử.", n=left), 401)
    challenge.consumed_at = now()
    guard = db.session.get(PhoneGuard, challenge.phone)
    if guard is not None:
        guard.consecutive_failures = 0
    return challenge


def email_in_use(email: str) -> bool:
    """Whether an active (not pending) account has this e-mail."""
    return db.session.scalar(select(User.id).where(func.lower(User.email) == email.lower(),
                                                   User.status != UserStatus.PENDING)) is not None


def notify_email_in_use(email: str) -> None:
    """Tell the owner of ``email`` (after the commit) that someone registered with it."""
    after_commit("webapp.auth.services:mail_registration_notice", email)


def mail_registration_notice(email: str) -> None:
    """Job: the e-mail to an existing account's owner when their address is typed into registration."""
    name = current_app.config["SMS_SENDER_NAME"]
    try:
        send_mail(email, f"{name}: có người đăng ký tài khoản bằng email của bạn",
                  "Ai đó vừa đăng ký tài khoản trên cổng phản ánh kiến nghị bằng địa chỉ email này. "
                  "Email này đã thuộc về tài khoản của bạn nên không được gắn vào tài khoản mới.\n\n"
                  "Nếu đó là bạn, hãy đăng nhập bằng số điện thoại của tài khoản. Nếu không, bạn "
                  "không cần làm gì.")
    except MailError:
        log.warning("registration notice to an existing e-mail could not be sent")


def citizen_for_phone(phone: str) -> User:
    """The account of a verified phone, created on first login; activates a pending registration."""
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = User(phone=phone, kind=UserKind.CITIZEN, status=UserStatus.ACTIVE, full_name="",
                    phone_verified_at=now(), created_at=now())
        citizen = db.session.scalar(select(Role).where(Role.name == RoleName.CITIZEN))
        if citizen is not None:
            user.roles.append(citizen)
        db.session.add(user)
        db.session.flush()
        audit("account_created", user=user, subject=mask_phone(phone), detail="otp")
    elif user.status == UserStatus.LOCKED:
        raise AuthError("account_locked", _("Tài khoản này đang bị khóa."), 403)
    else:
        if user.status == UserStatus.PENDING:
            user.status = UserStatus.ACTIVE
            audit("account_activated", user=user, subject=mask_phone(phone))
        user.phone_verified_at = user.phone_verified_at or now()
    return user


# -- verifying the phone of an account that has none (logged in through an identity provider) ---------
VERIFY_PHONE = "verify_phone"
PHONE_OTP_KEY = "phone_otp_challenge"  # the session's pending verification (send form and API share it)


def _phone_holder(phone: str, user: User) -> User | None:
    """Another account that owns ``phone`` (a registration never activated does not own it)."""
    other = db.session.scalar(select(User).where(User.phone == phone, User.id != user.id))
    return other if other is not None and other.status != UserStatus.PENDING else None


def request_phone_verification(user: User, raw_phone: str) -> Issued:
    """Send a one-time code to the number ``user`` wants as their verified phone (limits as for login).

    Only for an account without one: changing a verified phone is not this step's business."""
    if user.phone and user.phone_verified_at:
        raise AuthError("phone_already_verified", _("Tài khoản đã có số điện thoại đã xác thực."), 409)
    phone = parse_phone(raw_phone)
    if _phone_holder(phone, user) is not None:
        raise AuthError("phone_taken", _("Số điện thoại này đã gắn với một tài khoản khác. Hãy đăng nhập bằng "
                                         "số này (mã OTP) để gửi phản ánh."), 409)
    return request_otp(phone, purpose=VERIFY_PHONE, user=user)


def verify_account_phone(user: User, challenge_id: str | None, code: str) -> str:
    """Check the code of ``user``'s phone verification; on success that number becomes the account's
    verified phone (where tracking codes go). Returns the phone."""
    challenge = db.session.get(OtpChallenge, challenge_id) if challenge_id else None
    if challenge is None or challenge.purpose != VERIFY_PHONE or challenge.user_id != user.id:
        raise AuthError("otp_expired", _("Mã xác thực không còn hiệu lực. Vui lòng yêu cầu mã mới."), 401)
    if user.phone and user.phone_verified_at:
        raise AuthError("phone_already_verified", _("Tài khoản đã có số điện thoại đã xác thực."), 409)
    phone = verify_otp(challenge.id, code).phone
    if _phone_holder(phone, user) is not None:
        raise AuthError("phone_taken", _("Số điện thoại này đã gắn với một tài khoản khác. Hãy đăng nhập bằng "
                                         "số này (mã OTP) để gửi phản ánh."), 409)
    pending = db.session.scalar(select(User).where(User.phone == phone, User.id != user.id))
    if pending is not None:  # an unactivated registration with this number: its owner just proved it is theirs
        pending.phone = None
        db.session.flush()
    user.phone, user.phone_verified_at = phone, now()
    audit("phone_verified", user=user, subject=mask_phone(phone))
    db.session.flush()
    return phone


# -- passwords ------------------------------------------------------------------------------------------
_COMMON: set[str] | None = None


def common_passwords() -> set[str]:
    global _COMMON
    if _COMMON is None:
        path = Path(__file__).with_name("common_passwords.txt")
        _COMMON = {line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines()
                   if line.strip() and not line.startswith("#")}
    return _COMMON


def password_problem(password: str, context: tuple[str, ...] = ()) -> str | None:
    """Why a new password is not acceptable, in Vietnamese, or None."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        return _("Mật khẩu cần ít nhất %(n)d ký tự.", n=minimum)
    lowered = password.lower()
    if lowered in common_passwords() or len(set(password)) <= 2:
        return _("Mật khẩu này quá phổ biến, dễ bị đoán. Hãy chọn mật khẩu khác.")
    for value in context:
        if value and len(value) >= 4 and value.lower() in lowered:
            return _("Mật khẩu không được chứa số điện thoại, email hoặc tên của bạn.")
    return None


def verify_totp(user: User, code: str, secret: str | None = None) -> bool:
    """Whether ``code`` is a current TOTP code (±30 s) of ``secret`` (default: the user's) that was
    not accepted before: each code is accepted once per account (ASVS 5.0 V6.5.1)."""
    totp = pyotp.TOTP(secret or user.totp_secret or "")
    typed = "".join(ch for ch in (code or "") if ch.isdigit())
    current = totp.timecode(now())
    for step in (current - 1, current, current + 1):
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), typed):
            user.totp_last_step = step
            return True
    return False


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # werkzeug's default: scrypt


def check_password(user: User | None, password: str) -> bool:
    if user is None or not user.password_hash:
        # Same work whether or not the account exists, so timing does not tell.
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(user.password_hash, password)


_DUMMY_HASH = generate_password_hash("not-a-real-password-only-for-timing")


def find_by_login(identifier: str) -> User | None:
    """A citizen by phone (any spelling) or email."""
    identifier = (identifier or "").strip()
    phone = normalize_phone(identifier)
    conditions = [func.lower(User.email) == identifier.lower()] if "@" in identifier else []
    if phone:
        conditions.append(User.phone == phone)
    if not conditions:
        return None
    return db.session.scalar(select(User).where(User.kind == UserKind.CITIZEN, or_(*conditions)))


def find_any_account(login: str) -> User | None:
    """Any account (staff or citizen) by username, email or phone number in any spelling."""
    login = (login or "").strip()
    if not login:
        return None
    phone = normalize_phone(login)
    conditions = [User.username == login, func.lower(User.email) == login.lower()]
    if phone:
        conditions.append(User.phone == phone)
    return db.session.scalar(select(User).where(or_(*conditions)))


# -- sessions -------------------------------------------------------------------------------------------
def start_session(user: User, method: str) -> UserSession:
    """Log ``user`` in with a fresh, server-side session (a new id: no fixation)."""
    keep = {k: session[k] for k in ("lang",) if k in session}
    session.clear()
    session.update(keep)
    moment = now()
    record = UserSession(
        id=secrets.token_urlsafe(32), user_id=user.id, method=method, created_at=moment,
        last_seen_at=moment, expires_at=moment + timedelta(hours=current_app.config["SESSION_LIFETIME_HOURS"]),
        ip=client_ip(), user_agent=(request.headers.get("User-Agent", "")[:300] if has_request_context() else ""))
    db.session.add(record)
    session["sid"] = record.id
    session.permanent = True
    login_user(user)
    audit("login", user=user, detail=method)
    return record


def idle_limit(user: User) -> timedelta:
    key = "SESSION_IDLE_MINUTES_STAFF" if user.is_staff else "SESSION_IDLE_MINUTES_CITIZEN"
    return timedelta(minutes=current_app.config[key])


def current_session_user(user_id: str) -> User | None:
    """Flask-Login's loader: the user only while their server-side session is valid."""
    sid = session.get("sid")
    if not sid or not user_id.isdigit():
        return None
    record = db.session.get(UserSession, sid)
    moment = now()
    if record is None or record.user_id != int(user_id) or record.revoked_at is not None \
            or moment >= record.expires_at:
        return None
    user = db.session.get(User, record.user_id)
    if user is None or not user.is_active:
        return None
    if moment - record.last_seen_at > idle_limit(user):
        begin_write()
        record.revoked_at = moment
        db.session.commit()
        return None
    if moment - record.last_seen_at > timedelta(seconds=60):  # not a write on every request
        begin_write()
        record.last_seen_at = moment
        db.session.commit()
    return user


def end_session() -> None:
    """Log out: the server-side session is revoked, the cookie emptied."""
    sid = session.get("sid")
    record = db.session.get(UserSession, sid) if sid else None
    if record is not None and record.revoked_at is None:
        record.revoked_at = now()
        user = db.session.get(User, record.user_id)
        audit("logout", user=user)
    logout_user()
    keep = {k: session[k] for k in ("lang",) if k in session}
    session.clear()
    session.update(keep)


def revoke_all_sessions(user: User, actor: User | None) -> int:
    """Sign ``user`` out everywhere; returns how many sessions were ended."""
    result = db.session.execute(update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)).values(revoked_at=now()))
    audit("sessions_revoked", user=user, actor=actor, detail=str(result.rowcount))
    return result.rowcount or 0
