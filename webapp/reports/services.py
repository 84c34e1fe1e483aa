"""Sending and following reports: create (idempotent), staged uploads, rating, reopening, lookup.

Functions flush; the caller commits. The SMS with the tracking code goes out after the commit.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from indexer.text import nfc, nfc_multiline, normalize_phone
from webapp import budgets
from webapp.auth.models import User
from webapp.auth.services import audit
from webapp.clock import now
from webapp.extensions import db
from webapp.jobs import after_commit
from webapp.reference.models import Field
from webapp.reports import uploads
from webapp.reports.codes import new_code, normalize_code
from webapp.reports.models import Attachment, Report, ReportType, SenderKind, Status, StatusEvent, Upload
from webapp.reports.validation import MESSAGES, Draft, deployment_ward, phone_not_verified, verified_phone
from webapp.search.signals import documents_indexed
from webapp.sms import SmsError, send_sms

log = logging.getLogger("webapp.reports")


class SendError(ValueError):
    """A report that cannot be saved as sent: a stable code, a Vietnamese message, the field."""

    def __init__(self, code: str, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.status = code, message, field, status
        self.retry_after: int | None = None


def send_budget_refusal(user: User) -> SendError | None:
    """Count one post of a send form or of the send API against the account's ``SEND_RATE_LIMIT``;
    the refusal (429, with ``retry_after``) when it is spent, else None."""
    wait = budgets.spend(current_app.config["SEND_RATE_LIMIT"], "send", f"user:{user.id}")
    if wait is None:
        return None
    refusal = SendError("rate_limited", _("Bạn đã gửi quá nhiều lần trong thời gian ngắn. Vui lòng thử lại sau "
                                          "%(m)d phút; nội dung bạn nhập vẫn được giữ.", m=max(1, round(wait / 60))),
                        None, 429)
    refusal.retry_after = wait
    return refusal


def stage_upload(user: User, filename: str, data: bytes) -> Upload:
    """Check and keep one uploaded file for ``user`` until the report is saved."""
    return stage_checked(user, filename, uploads.check(data, filename))


def stage_checked(user: User, filename: str, checked: uploads.Checked) -> Upload:
    """Keep one file already checked by ``uploads.check`` for ``user`` until the report is saved.

    Refused (``SendError`` 413, nothing written) when the account's files not yet sent would pass
    ``UPLOAD_STAGED_QUOTA_MB``: one account cannot fill the disk with uploads it never sends.
    """
    quota = current_app.config["UPLOAD_STAGED_QUOTA_MB"] * 1024 * 1024
    held = db.session.scalar(select(func.coalesce(func.sum(Upload.size), 0)).where(Upload.user_id == user.id)) or 0
    if held + len(checked.data) > quota:
        raise SendError("upload_quota", _("Bạn đang giữ quá nhiều tệp chưa gửi (tối đa %(n)d MB). Hãy gửi hoặc "
                                          "bỏ bớt tệp trong phản ánh đang soạn.",
                                          n=current_app.config["UPLOAD_STAGED_QUOTA_MB"]), "files", 413)
    record = Upload(token=secrets.token_urlsafe(24), user_id=user.id, filename=uploads.safe_filename(filename),
                    stored_name=uploads.store(checked), content_type=checked.content_type, size=len(checked.data),
                    created_at=now())
    db.session.add(record)
    db.session.flush()
    return record


def delete_stale_uploads(older_than: timedelta | None = None) -> int:
    """Delete uploads never sent with a report after ``UPLOAD_STAGED_HOURS``; returns how many.

    The rows go in one short transaction, the files after it committed (a file without a row is
    harmless; a row without its file is not)."""
    age = older_than if older_than is not None else timedelta(hours=current_app.config["UPLOAD_STAGED_HOURS"])
    stale = db.session.scalars(select(Upload).where(Upload.created_at < now() - age)).all()
    names = [u.stored_name for u in stale]
    for upload in stale:
        db.session.delete(upload)
    db.session.commit()
    uploads.discard(names)
    return len(names)


CLEANUP_EVERY = timedelta(hours=1)


def install_upload_cleanup() -> None:
    """Delete stale uploads from the periodic sweep (``documents_indexed`` is sent after every
    drain, including the idle ones of the sweep), at most once an hour per process."""
    documents_indexed.connect(_on_sweep)


def _on_sweep(sender: Any, **extra: Any) -> None:
    last = sender.extensions.get("pakn_upload_cleanup")
    moment = now()
    if last is not None and moment - last < CLEANUP_EVERY:
        return
    sender.extensions["pakn_upload_cleanup"] = moment
    try:
        delete_stale_uploads()
    except Exception:  # a receiver must never fail the drain; the next hour tries again
        db.session.rollback()
        log.exception("cleanup of stale uploads failed")


def staged(user: User, tokens: list[str]) -> list[Upload]:
    """The user's own staged uploads among ``tokens`` (others' tokens are ignored)."""
    tokens = [t for t in tokens if t]
    if not tokens:
        return []
    found = db.session.scalars(select(Upload).where(Upload.token.in_(tokens), Upload.user_id == user.id)).all()
    order = {t: i for i, t in enumerate(tokens)}
    return sorted(found, key=lambda u: order[u.token])


def create_report(user: User, draft: Draft, files: list[Upload], idempotency_key: str | None,
                  typed_phone: bool = False) -> tuple[Report, bool]:
    """Save a new report with its attachments; returns (report, created).

    The same idempotency key from the same user returns the report it already created. The sender's
    phone (where the tracking-code SMS goes) is the account's OTP-verified phone; only a partner
    sending for a citizen (Open311, ``typed_phone``) gives a typed one.
    """
    if idempotency_key:
        existing = db.session.scalar(select(Report).where(Report.user_id == user.id,
                                                           Report.idempotency_key == idempotency_key))
        if existing is not None:
            return existing, False
    field = db.session.scalar(select(Field).where(Field.slug == draft.field_slug))
    if field is None:
        raise SendError("unknown_field", str(MESSAGES["field_unknown"]), "field")
    ward = deployment_ward(draft.ward_code)
    if ward is None:
        raise SendError("unknown_ward", str(MESSAGES["ward_unknown"]), "ward")
    if len(files) > current_app.config["UPLOAD_MAX_FILES"]:
        raise SendError("too_many_files", _("Tối đa %(n)d tệp đính kèm.", n=current_app.config["UPLOAD_MAX_FILES"]), "files")
    phone = normalize_phone(draft.sender_phone) if typed_phone else verified_phone(user)
    if phone is None and not typed_phone:
        refused = phone_not_verified()
        raise SendError(refused.code, refused.message, refused.field, refused.status)
    if phone is None:
        raise SendError("phone_invalid", str(MESSAGES["phone_invalid"]), "sender_phone")
    moment = now()
    code = new_code(draft.type)
    while db.session.scalar(select(Report.id).where(Report.code == code)) is not None:
        code = new_code(draft.type)
    report = Report(
        code=code, type=draft.type, title=nfc(draft.title), content=nfc_multiline(draft.content), field=field,
        ward_code=ward.code, province_code=ward.province_code, address=nfc(draft.address),
        lat=draft.lat, lon=draft.lon, incident_at=draft.incident_at,
        sender_kind=draft.sender_kind,
        organization_name=nfc(draft.organization_name) or None if draft.sender_kind == SenderKind.ORGANIZATION else None,
        sender_name=nfc(draft.sender_name), sender_phone=phone, sender_email=(draft.sender_email or "").strip() or None,
        sender_address=nfc(draft.sender_address) or None, confidential=draft.confidential, user_id=user.id,
        status=Status.PENDING, published=False, submitted_at=moment, created_at=moment, updated_at=moment,
        idempotency_key=idempotency_key or None)
    report.events.append(StatusEvent(from_status=None, to_status=Status.PENDING, note="Đã gửi", actor=user,
                                     created_at=moment))
    for upload in files:
        report.attachments.append(Attachment(filename=upload.filename, stored_name=upload.stored_name,
                                             content_type=upload.content_type, size=upload.size, created_at=moment))
        db.session.delete(upload)
    db.session.add(report)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        # The same key raced in from a second request: the first one's report is the answer.
        existing = db.session.scalar(select(Report).where(Report.user_id == user.id,
                                                           Report.idempotency_key == idempotency_key))
        if existing is None:
            raise
        return existing, False
    audit("report_sent", user=user, subject=report.code)
    after_commit("webapp.reports.services:sms_tracking_code", report.id)
    return report, True


def sms_tracking_code(report_id: int) -> None:
    """Job: tell the sender the tracking code by SMS (failure is logged; the code is on screen)."""
    report = db.session.get(Report, report_id)
    if report is None or not report.sender_phone:
        return
    kind = "phan anh" if report.type == ReportType.PAKN else "hien ke"
    phone, code = report.sender_phone, report.code
    db.session.commit()  # no transaction open while the gateway answers
    try:
        send_sms(phone, f"{current_app.config['SMS_SENDER_NAME']}: Da nhan {kind} cua ban. "
                        f"Ma theo doi: {code}. Tra cuu tai muc PAKN cua toi hoac Tra cuu ma.")
    except SmsError:
        current_app.logger.warning("tracking-code SMS for %s failed", code)


# -- following a report -------------------------------------------------------------------------------
def answered_at(report: Report) -> datetime | None:
    answer = report.published_answer
    return answer.answered_at if answer else None


def can_rate(report: Report) -> bool:
    return report.status in (Status.ANSWERED, Status.CLOSED) and report.rating is None


def can_reopen(report: Report) -> bool:
    when = answered_at(report)
    if report.status != Status.ANSWERED or when is None:
        return False
    return now() <= when + timedelta(days=current_app.config["REOPEN_DAYS"])


def rate(report: Report, user: User, rating: int, comment: str) -> None:
    if not can_rate(report):
        raise SendError("not_ratable", _("Chỉ đánh giá được phản ánh đã có trả lời, và một lần."))
    report.rating = rating
    report.rating_comment = nfc_multiline(comment) or None
    report.rated_at = now()
    audit("report_rated", user=user, subject=report.code, detail=str(rating))


def reopen(report: Report, user: User, reason: str) -> None:
    if not can_reopen(report):
        raise SendError("not_reopenable", _("Chỉ đề nghị xử lý lại trong %(n)d ngày sau khi có trả lời.",
                                            n=current_app.config["REOPEN_DAYS"]))
    # Genuine cycle: webapp.workflow.services imports this module (deployment_ward).
    from webapp.workflow.services import reopened, transition

    transition(report, Status.PROCESSING, user, _("Người gửi đề nghị xử lý lại: %(r)s", r=nfc_multiline(reason)))
    reopened(report)
    audit("report_reopened", user=user, subject=report.code)


def lookup(code: str, phone: str | None) -> Report | None:
    """The report with this code sent from this phone; None in every other case (same answer)."""
    normalized, number = normalize_code(code), normalize_phone(phone)
    if not normalized or not number:
        return None
    report = db.session.scalar(select(Report).where(Report.code == normalized))
    if report is None or report.sender_phone != number:
        return None
    return report


def local_now_naive() -> datetime:
    """Now in the display time zone, naive (what a datetime-local input holds)."""
    return now().astimezone(ZoneInfo(current_app.config["TIMEZONE"])).replace(tzinfo=None)


def from_local_input(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=ZoneInfo(current_app.config["TIMEZONE"])).astimezone(UTC)
