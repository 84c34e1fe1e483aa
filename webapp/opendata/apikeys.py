"""Partner API keys and the request limits of the public APIs.

A key reads ``pakn_<prefix>_<secret>``. Only its SHA-256 is stored; the prefix (not secret, shown in
lists) finds the row, and the hashes are compared in constant time. A request carries its key in the
``X-API-Key`` header; Open311 routes also take the spec's ``api_key`` parameter (query or form).

Requests to /api/v1 and /open311 share one Flask-Limiter limit per client, declared as an
application limit in ``webapp.extensions``: with a valid key, the key's own ``rate_limit`` counted
per key (``apikey:<prefix>``) wherever the requests come from; without one, ``API_RATE_LIMIT`` per
client IP. An unknown or revoked key is refused (401 on /api/v1; 403 in the Open311 error format
on /open311), after being counted against the client's IP.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

import config
from indexer.text import nfc
from webapp.auth.models import User, UserKind, UserStatus
from webapp.clientip import client_key
from webapp.clock import now
from webapp.db import begin_write
from webapp.errors import json_error
from webapp.extensions import ApiLimit, db
from webapp.opendata.models import ApiKey

KEY_START = "pakn"
API_PATHS = ("/api/v1/", "/open311/")
OPEN311_PATH = "/open311/"
HEADER = "X-API-Key"
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per key
_ENVIRON = "pakn.api_key"           # the request's KeyCheck (request-scoped, unlike g in tests)


@dataclass(frozen=True)
class KeyCheck:
    """What a request carried (``raw``) and the valid, unrevoked key it names (``key``)."""

    raw: str | None
    key: ApiKey | None


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def rate_limit_problem(text: str) -> str | None:
    """None when ``text`` is a Flask-Limiter limit ("1000/hour", "10/second;500/day"), else why not."""
    if config.rate_limit_problem(text) is None:
        return None
    return _("'%(value)s' không phải giới hạn hợp lệ; ví dụ đúng: 1000/hour, 60/minute.", value=text)


def create(name: str, rate_limit: str, can_write: bool) -> tuple[ApiKey, str]:
    """A new key (flushed) and its full text, which is shown once and never stored."""
    name = nfc(name)
    if not name:
        raise ValueError(_("Vui lòng nhập tên đối tác."))
    problem = rate_limit_problem(rate_limit)
    if problem:
        raise ValueError(problem)
    prefix = secrets.token_hex(4)
    while db.session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is not None:
        prefix = secrets.token_hex(4)
    raw = f"{KEY_START}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(name=name[:200], prefix=prefix, key_hash=hash_key(raw), rate_limit=rate_limit,
                 can_write=can_write, created_at=now())
    db.session.add(key)
    db.session.flush()
    return key, raw


def revoke(prefix: str) -> ApiKey | None:
    """Revoke the key with this prefix (flushed); None when there is none. Revoking twice keeps the first time."""
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix.strip()))
    if key is not None and key.revoked_at is None:
        key.revoked_at = now()
        db.session.flush()
    return key


def find(raw: str) -> ApiKey | None:
    """The valid, unrevoked key whose full text is ``raw``."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_START or not 0 < len(parts[1]) <= 16 or not parts[2]:
        return None
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if key is None or key.revoked_at is not None:
        return None
    return key if hmac.compare_digest(key.key_hash, hash_key(raw)) else None


# -- the key of the current request ------------------------------------------------------------------
def is_api_request() -> bool:
    return has_request_context() and request.path.startswith(API_PATHS)


def _form_value(name: str) -> str:
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return ""
    try:
        return request.form.get(name, "")
    except HTTPException:  # a body over MAX_CONTENT_LENGTH: the view answers that, not the key check
        return ""


def key_from_request() -> str | None:
    """The key the request carries: the X-API-Key header, or on Open311 routes ``api_key``."""
    raw = request.headers.get(HEADER, "").strip()
    if not raw and request.path.startswith(OPEN311_PATH):
        raw = (request.args.get("api_key") or _form_value("api_key")).strip()
    return raw or None


def current() -> KeyCheck:
    """The request's key, looked up once per request."""
    found = request.environ.get(_ENVIRON)
    if found is None:
        raw = key_from_request()
        found = KeyCheck(raw, find(raw) if raw else None)
        request.environ[_ENVIRON] = found
    return found


def touch(key: ApiKey) -> None:
    """Record that ``key`` was used, at most once per TOUCH_EVERY (best effort, never fails a request)."""
    moment = now()
    if key.last_used_at is not None and moment - key.last_used_at < TOUCH_EVERY:
        return
    begin_write()  # most API requests are GETs
    try:
        # The condition in SQL too: of several requests at the same moment, one writes.
        db.session.execute(update(ApiKey).where(
            ApiKey.id == key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < moment - TOUCH_EVERY),
        ).values(last_used_at=moment))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("could not record the use of API key %s", key.prefix)


# -- Flask-Limiter callables (see the application limit in webapp.extensions) -------------------------
def _limited_key() -> ApiKey | None:
    return current().key if is_api_request() else None


def request_rate_limit() -> str:
    """The limit of this request: the key's own, else API_RATE_LIMIT (per IP)."""
    key = _limited_key()
    if key is not None and rate_limit_problem(key.rate_limit) is None:
        return key.rate_limit
    return current_app.config["API_RATE_LIMIT"]


def request_rate_key() -> str:
    """Whom this request is counted against: ``apikey:<prefix>`` with a valid key, else the client IP."""
    key = _limited_key()
    return f"apikey:{key.prefix}" if key is not None else client_key()


def not_api_request() -> bool:
    return not is_api_request()


def install(app: Flask) -> None:
    """Check the key of every API request: refuse a bad one on /api/v1, record a good one's use;
    give the limiter the API's shared limit (per key, else per client IP)."""
    app.extensions["pakn_api_limit"] = ApiLimit(limit=request_rate_limit, key=request_rate_key,
                                                exempt=not_api_request)

    @app.before_request
    def _check_api_key():  # noqa: ANN202 - a Flask hook
        if not is_api_request():
            return None
        check = current()
        if check.key is not None:
            touch(check.key)
        elif check.raw and not request.path.startswith(OPEN311_PATH):  # Open311 answers in its own format
            return json_error("invalid_api_key", invalid_key_message(), 401, "api_key")
        return None


def invalid_key_message() -> str:
    return _("Khóa API không hợp lệ hoặc đã bị thu hồi. Liên hệ quản trị cổng để được cấp khóa mới.")


# -- the account that owns a partner's reports -----------------------------------------------------------
def partner_account(key: ApiKey) -> User:
    """The account that owns the reports sent with ``key`` (created on first use, flushed).

    One account per key, which nobody can log in to (no phone, no password, locked): reports sent
    by a partner appear in no citizen's "PAKN của tôi", so a partner cannot put reports into a
    citizen's account by typing their phone number. The sender follows the report by the code the
    SMS gives them ("Tra cứu mã" with code and phone); idempotency keys are per partner.
    """
    username = f"apikey-{key.prefix}"
    user = db.session.scalar(select(User).where(User.username == username))
    if user is not None:
        return user
    user = User(username=username, full_name=key.name[:200], kind=UserKind.CITIZEN, status=UserStatus.LOCKED,
                created_at=now())
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:  # a concurrent first request of the same key created it
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise
    return user
