"""Per-account throttling of every password and TOTP step (ASVS 5.0 V6.3.1, NIST 800-63B 5.2.2).

The per-IP limits stop one client; these stop a guesser who spreads tries over many addresses. The
count is per account (``user:<id>``), or per login name when no account has it (the answer must not
tell the two apart), and lives in the database, so it survives IP changes and restarts:

- the first ``LOGIN_FREE_FAILURES`` consecutive failures cost nothing;
- after that each try must wait 1 s, 2 s, 4 s… (at most 5 minutes) after the last failure;
- at ``LOGIN_LOCK_AFTER_FAILURES`` consecutive failures the account is locked for
  ``LOGIN_LOCK_MINUTES``, and again at each further multiple;
- at five times that (100 by default) it stays locked until an administrator unlocks it
  (``flask users unlock``). A success resets the count.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _

from webapp.auth.models import AccountGuard, User
from webapp.auth.services import now as _now
from webapp.extensions import db

MAX_DELAY_SECONDS = 300
FOREVER_FACTOR = 5


class Throttled(Exception):  # noqa: N818 - a state, not an error of the caller's making
    """The account may not try now; ``message`` says until when, ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: int | None) -> None:
        super().__init__(message)
        self.message, self.retry_after = message, retry_after


def key_for(user: User | None, login_name: str = "") -> str:
    if user is not None:
        return f"user:{user.id}"
    digest = hashlib.sha256(login_name.strip().lower().encode()).hexdigest()[:64]
    return f"name:{digest}"


def check(key: str) -> None:
    """Raise ``Throttled`` when the account is locked or must still wait after its last failure."""
    guard = db.session.get(AccountGuard, key)
    if guard is None or not guard.consecutive_failures:
        return
    cfg = current_app.config
    now = _now()
    if guard.consecutive_failures >= cfg["LOGIN_LOCK_AFTER_FAILURES"] * FOREVER_FACTOR:
        raise Throttled(_("Tài khoản đã bị khóa do đăng nhập sai quá nhiều lần. "
                          "Vui lòng liên hệ quản trị viên để mở khóa."), None)
    if guard.locked_until is not None and now < guard.locked_until:
        wait = int((guard.locked_until - now).total_seconds()) + 1
        raise Throttled(_("Tài khoản tạm khóa do đăng nhập sai nhiều lần. Vui lòng thử lại sau %(m)d phút.",
                          m=max(1, round(wait / 60))), wait)
    extra = guard.consecutive_failures - cfg["LOGIN_FREE_FAILURES"]
    if extra >= 0 and guard.last_failure_at is not None:
        delay = min(2 ** extra, MAX_DELAY_SECONDS)
        ready = guard.last_failure_at + timedelta(seconds=delay)
        if now < ready:
            wait = int((ready - now).total_seconds()) + 1
            raise Throttled(_("Đăng nhập sai nhiều lần liên tiếp. Vui lòng đợi %(n)d giây rồi thử lại.",
                              n=wait), wait)


def failed(key: str) -> None:
    """Count a failed step (flushes; the caller commits)."""
    guard = db.session.get(AccountGuard, key)
    if guard is None:
        guard = AccountGuard(key=key, consecutive_failures=0)
        db.session.add(guard)
    guard.consecutive_failures += 1
    guard.last_failure_at = _now()
    lock_at = current_app.config["LOGIN_LOCK_AFTER_FAILURES"]
    if guard.consecutive_failures % lock_at == 0:
        guard.locked_until = guard.last_failure_at + timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
    db.session.flush()


def succeeded(key: str) -> None:
    """A step succeeded: the count starts again."""
    guard = db.session.get(AccountGuard, key)
    if guard is not None:
        db.session.delete(guard)
        db.session.flush()


def unlock(user: User) -> bool:
    """An administrator unlocks an account; returns whether it had failures on record."""
    guard = db.session.get(AccountGuard, key_for(user))
    if guard is None:
        return False
    db.session.delete(guard)
    db.session.flush()
    return True
