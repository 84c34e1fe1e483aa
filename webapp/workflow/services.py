"""The report workflow: who may do what, the transitions table, deadlines, answers and their approval.

Every status change goes through ``transition``, which refuses a move the table does not list and
writes the timeline event (actor, time, note). Functions flush; the caller commits. SMS to the
sender go out by jobs queued for after the commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, g, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from indexer.text import nfc, nfc_multiline
from webapp.auth.models import RoleName, Unit, User
from webapp.auth.services import audit
from webapp.clock import now
from webapp.db import begin_write
from webapp.extensions import db
from webapp.jobs import after_commit
from webapp.reference.models import Field
from webapp.reports import uploads
from webapp.reports.codes import normalize_code
from webapp.reports.models import (
    STATUS_LABELS,
    Answer,
    AnswerState,
    AnswerTemplate,
    Assignment,
    Attachment,
    Report,
    Status,
    StatusEvent,
)
from webapp.reports.services import deployment_ward
from webapp.sms import SmsError, send_sms
from webapp.workflow.deadlines import Holidays, add_working_days

# The only legal moves. "answered → processing" is the sender's reopening (reports.services.reopen).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.ACCEPTED, Status.REJECTED, Status.DUPLICATE}),
    Status.ACCEPTED: frozenset({Status.PROCESSING}),
    Status.PROCESSING: frozenset({Status.ANSWERED}),
    Status.ANSWERED: frozenset({Status.CLOSED, Status.PROCESSING}),
    Status.REJECTED: frozenset(),
    Status.DUPLICATE: frozenset(),
    Status.CLOSED: frozenset(),
}
OPEN_STATUSES = (Status.PENDING, Status.ACCEPTED, Status.PROCESSING)


class WorkflowError(ValueError):
    """A refused action: a Vietnamese message, the form field it concerns, an HTTP status."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.field, self.status = message, field, status


# -- permissions --------------------------------------------------------------------------------------
STAFF_ROLES = (RoleName.OFFICER, RoleName.LEADER)


def is_admin(user: User) -> bool:
    return user.is_authenticated and user.is_staff and user.has_role(RoleName.ADMIN)


def unit_ids(user: User, *roles: str) -> set[int]:
    return user.units_with_role(*(roles or STAFF_ROLES)) if user.is_authenticated and user.is_staff else set()


def intake_unit_ids(user: User) -> set[int]:
    """The user's intake units (asked once per request: every permission check needs them)."""
    ids = unit_ids(user)
    if not ids:
        return set()
    cache = g.setdefault("pakn_intake_units", {}) if has_request_context() else {}
    if user.id not in cache:
        cache[user.id] = set(db.session.scalars(select(Unit.id).where(Unit.id.in_(ids), Unit.is_intake.is_(True))))
    return cache[user.id]


def is_intake(user: User) -> bool:
    """Admins and the staff of an intake unit receive, accept, reject and assign reports."""
    return is_admin(user) or bool(intake_unit_ids(user))


def assigned_unit_ids(report: Report) -> set[int]:
    return {a.unit_id for a in report.assignments}


def can_view(user: User, report: Report) -> bool:
    """Intake and admins see every report; another unit sees the reports assigned to it."""
    return is_intake(user) or bool(unit_ids(user) & assigned_unit_ids(report))


def scope_units(user: User) -> list[int] | None:
    """The staff search scope: None = every report (intake, admin); else the user's unit ids."""
    return None if is_intake(user) else sorted(unit_ids(user))


def can_answer(user: User, report: Report) -> bool:
    return report.status == Status.PROCESSING and bool(answer_units(user, report))


def answer_units(user: User, report: Report) -> list[Unit]:
    """Assigned units in which ``user`` may draft an answer."""
    mine = unit_ids(user)
    return [a.unit for a in report.assignments if a.unit_id in mine]


def composing_units(user: User, report: Report) -> list[Unit]:
    """The units in which ``user`` may write an answer now: assigned, the report being handled, and
    no answer of the unit waiting for a leader (a second answer would cross the first)."""
    if not can_answer(user, report):
        return []
    waiting = {a.unit_id for a in report.answers if a.state == AnswerState.PENDING_APPROVAL}
    return [unit for unit in answer_units(user, report) if unit.id not in waiting]


def can_approve(user: User, answer: Answer) -> bool:
    """Only a leader of the answering unit approves its answer."""
    return answer.unit_id in unit_ids(user, RoleName.LEADER)


def can_correct(user: User, report: Report) -> bool:
    return report.status in (*OPEN_STATUSES, Status.ANSWERED) and (
        is_intake(user) or bool(unit_ids(user) & assigned_unit_ids(report)))


def can_close(user: User, report: Report) -> bool:
    return report.status == Status.ANSWERED and (
        is_intake(user) or bool(unit_ids(user) & assigned_unit_ids(report)))


def _require(allowed: bool, message: str | None = None) -> None:
    if not allowed:
        raise WorkflowError(message or _("Bạn không có quyền thực hiện thao tác này với phản ánh này."), status=403)


# -- dashboard (rendered on the staff home page, staff.index) ------------------------------------------
def _scoped(query: Any, user: User) -> Any:
    units = scope_units(user)
    if units is None:
        return query
    return query.where(Report.id.in_(select(Assignment.report_id).where(Assignment.unit_id.in_(units))))


def dashboard(user: User) -> dict[str, Any]:
    """Counts by status, the overdue list and the user's queue, from the database (always current)."""
    counts = dict(db.session.execute(_scoped(select(Report.status, func.count()).group_by(Report.status), user)).all())
    moment = now()
    overdue = db.session.scalars(_scoped(
        select(Report).where(Report.status.in_([Status.ACCEPTED, Status.PROCESSING]),
                             Report.deadline_at < moment).order_by(Report.deadline_at).limit(20), user)).all()
    if is_intake(user):
        queue_title = _("Phản ánh mới chờ tiếp nhận")
        queue = db.session.scalars(select(Report).where(Report.status == Status.PENDING)
                                   .order_by(Report.submitted_at).limit(20)).all()
    else:
        queue_title = _("Phản ánh đơn vị tôi đang xử lý")
        queue = db.session.scalars(_scoped(select(Report).where(Report.status == Status.PROCESSING)
                                           .order_by(Report.deadline_at).limit(20), user)).all()
    leader_units = unit_ids(user, RoleName.LEADER)
    to_approve = db.session.scalars(select(Answer).where(
        Answer.state == AnswerState.PENDING_APPROVAL, Answer.unit_id.in_(leader_units))
        .order_by(Answer.created_at)).all() if leader_units else []
    return {"counts": [(s, STATUS_LABELS[s], counts.get(s.value, 0)) for s in Status],
            "overdue": overdue, "queue": queue, "queue_title": queue_title, "to_approve": to_approve}


# -- transitions --------------------------------------------------------------------------------------
def transition(report: Report, to: Status, actor: User | None, note: str = "") -> StatusEvent:
    """Move ``report`` to ``to`` when the table allows it, recording who, when and why."""
    current = Status(report.status)
    if to not in TRANSITIONS[current]:
        raise WorkflowError(_("Không thể chuyển phản ánh từ “%(a)s” sang “%(b)s”.",
                              a=STATUS_LABELS[current], b=STATUS_LABELS[to]), status=409)
    moment = now()
    event = StatusEvent(from_status=current, to_status=to, actor=actor, note=note, created_at=moment)
    report.events.append(event)
    report.status = to
    report.updated_at = moment
    return event


def _note(report: Report, actor: User, text: str, internal: bool = False) -> None:
    """A timeline entry that does not change the status (a correction, a link, an assignment)."""
    moment = now()
    report.events.append(StatusEvent(from_status=report.status, to_status=report.status, actor=actor,
                                     note=text, created_at=moment, internal=internal))
    report.updated_at = moment


def holidays() -> Holidays:
    return Holidays(current_app.config["HOLIDAYS"])


def default_deadline(report: Report, start: datetime | None = None) -> datetime:
    return add_working_days(start or now(), report.field.deadline_days, holidays(), current_app.config["TIMEZONE"])


def is_overdue(report: Report, moment: datetime | None = None) -> bool:
    return (report.status in (Status.ACCEPTED, Status.PROCESSING) and report.deadline_at is not None
            and (moment or now()) > report.deadline_at)


# -- intake -------------------------------------------------------------------------------------------
def accept(user: User, report: Report, publish: bool, note: str = "") -> None:
    _require(is_intake(user))
    transition(report, Status.ACCEPTED, user, nfc_multiline(note) or _("Đã tiếp nhận."))
    if publish and not report.published:
        report.published = True
        report.published_at = now()
    audit("report_accepted", user=user, subject=report.code, detail="published" if publish else "private")
    after_commit("webapp.workflow.services:sms_status", report.id, "accepted")


def reject(user: User, report: Report, reason: str) -> None:
    _require(is_intake(user))
    reason = nfc_multiline(reason)
    if not reason:
        raise WorkflowError(_("Vui lòng nêu lý do không tiếp nhận; người gửi sẽ thấy lý do này."), "reason")
    transition(report, Status.REJECTED, user, reason)
    audit("report_rejected", user=user, subject=report.code)
    after_commit("webapp.workflow.services:sms_status", report.id, "rejected")


def mark_duplicate(user: User, report: Report, original_code: str, note: str = "") -> Report:
    """Mark ``report`` as a repeat of the report with ``original_code``; both timelines say so."""
    _require(is_intake(user))
    original = db.session.scalar(select(Report).where(Report.code == normalize_code(original_code or "")))
    if original is None:
        raise WorkflowError(_("Không tìm thấy phản ánh có mã “%(c)s”.", c=(original_code or "").strip()), "original")
    if original.id == report.id:
        raise WorkflowError(_("Một phản ánh không thể trùng với chính nó."), "original")
    if original.duplicate_of is not None:  # link to the first one, not to another repeat
        original = original.duplicate_of
    transition(report, Status.DUPLICATE, user,
               _("Trùng với phản ánh %(c)s.", c=original.code) + (f" {nfc_multiline(note)}" if note.strip() else ""))
    report.duplicate_of = original
    _note(original, user, _("Phản ánh %(c)s được ghi nhận là trùng với phản ánh này.", c=report.code))
    audit("report_duplicate", user=user, subject=report.code, detail=original.code)
    return original


def local_day_end(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), ZoneInfo(current_app.config["TIMEZONE"])).astimezone(UTC)


def assign(user: User, report: Report, units: list[Unit], deadline: date | None = None, note: str = "") -> None:
    """Send an accepted report to one or more units (processing), or add units to one in processing."""
    _require(is_intake(user))
    if report.status not in (Status.ACCEPTED, Status.PROCESSING):
        raise WorkflowError(_("Chỉ phân công được phản ánh đã tiếp nhận hoặc đang xử lý."), status=409)
    if not units:
        raise WorkflowError(_("Chọn ít nhất một đơn vị xử lý."), "units")
    if deadline is not None:
        local_today = now().astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()
        if deadline < local_today:
            raise WorkflowError(_("Hạn xử lý không được trước hôm nay."), "deadline")
        due = local_day_end(deadline)
    else:
        due = default_deadline(report)
    already = assigned_unit_ids(report)
    new_units = [u for u in units if u.id not in already]
    if not new_units:
        raise WorkflowError(_("Các đơn vị này đã được phân công."), "units")
    for unit in new_units:
        report.assignments.append(Assignment(unit=unit, deadline_at=due, assigned_by=user, created_at=now()))
    report.deadline_at = due
    db.session.flush()  # the assignments' unit ids are what the permission checks read
    names = ", ".join(u.name for u in new_units)
    text = _("Giao %(units)s xử lý, hạn %(due)s.", units=names,
             due=due.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime("%d/%m/%Y"))
    if note.strip():
        text += " " + nfc_multiline(note)
    if report.status == Status.ACCEPTED:
        transition(report, Status.PROCESSING, user, text)
    else:
        _note(report, user, text)
    audit("report_assigned", user=user, subject=report.code, detail=names)


def correct(user: User, report: Report, field_slug: str | None, ward_code: int | None) -> list[str]:
    """Correct the field and/or ward; returns what changed (also written to the timeline)."""
    _require(can_correct(user, report))
    changes = []
    if field_slug and field_slug != report.field.slug:
        field = db.session.scalar(select(Field).where(Field.slug == field_slug))
        if field is None:
            raise WorkflowError(_("Lĩnh vực không tồn tại."), "field")
        changes.append(_("lĩnh vực: %(a)s → %(b)s", a=report.field.name, b=field.name))
        report.field = field
    if ward_code and ward_code != report.ward_code:
        ward = deployment_ward(ward_code)
        if ward is None:
            raise WorkflowError(_("Xã, phường không thuộc địa bàn tiếp nhận."), "ward")
        changes.append(_("địa bàn: %(a)s → %(b)s", a=report.place_name, b=ward.full_name))
        report.ward, report.province_code = ward, ward.province_code
    if not changes:
        raise WorkflowError(_("Không có gì thay đổi."), "field")
    _note(report, user, _("Sửa %(what)s.", what="; ".join(changes)))
    audit("report_corrected", user=user, subject=report.code, detail="; ".join(changes))
    return changes


def close(user: User, report: Report, note: str = "") -> None:
    _require(can_close(user, report))
    transition(report, Status.CLOSED, user, nfc_multiline(note) or _("Đã đóng."))
    audit("report_closed", user=user, subject=report.code)


def reopened(report: Report) -> None:
    """After the sender reopens a report: a fresh deadline for the units already assigned."""
    if report.assignments:
        due = default_deadline(report)
        report.deadline_at = due
        for assignment in report.assignments:
            assignment.deadline_at = due


# -- answers ------------------------------------------------------------------------------------------
@dataclass
class NewFile:
    filename: str
    data: bytes


def working_answer(report: Report, unit_id: int) -> Answer | None:
    """The unit's answer still being written (draft or returned), if any."""
    for answer in reversed(report.answers):
        if answer.unit_id == unit_id and answer.state in (AnswerState.DRAFT, AnswerState.RETURNED):
            return answer
    return None


def save_answer(user: User, report: Report, unit: Unit, text: str, files: list[NewFile],
                submit: bool) -> Answer:
    """Write (or update) the unit's draft answer with attachments; ``submit`` sends it to the leader."""
    _require(can_answer(user, report) and unit in answer_units(user, report),
             _("Chỉ cán bộ của đơn vị được giao mới soạn được trả lời khi phản ánh đang xử lý."))
    text = nfc_multiline(text)
    if not text:
        raise WorkflowError(_("Vui lòng nhập nội dung trả lời."), "text")
    pending = [a for a in report.answers if a.unit_id == unit.id and a.state == AnswerState.PENDING_APPROVAL]
    if pending:
        raise WorkflowError(_("Trả lời của đơn vị đang chờ lãnh đạo duyệt."), status=409)
    answer = working_answer(report, unit.id)
    if answer is None:
        answer = Answer(unit=unit, author=user, text=text, state=AnswerState.DRAFT, created_at=now(),
                        answered_at=now())
        report.answers.append(answer)
    answer.text = text
    answer.author = user
    existing = len(answer.attachments)
    if existing + len(files) > current_app.config["UPLOAD_MAX_FILES"]:
        raise WorkflowError(_("Tối đa %(n)d tệp đính kèm.", n=current_app.config["UPLOAD_MAX_FILES"]), "files")
    for item in files:
        try:
            checked = uploads.check(item.data, item.filename)
        except uploads.UploadError as exc:
            raise WorkflowError(exc.message, "files", exc.status) from None
        report.attachments.append(Attachment(
            answer=answer, filename=uploads.safe_filename(item.filename), stored_name=uploads.store(checked),
            content_type=checked.content_type, size=len(checked.data), created_at=now()))
    if submit:
        answer.state = AnswerState.PENDING_APPROVAL
        answer.return_note = None
        _note(report, user, _("%(unit)s gửi trả lời để lãnh đạo duyệt.", unit=unit.name), internal=True)
    report.updated_at = now()
    db.session.flush()
    audit("answer_saved", user=user, subject=report.code, detail=answer.state)
    return answer


def approve_answer(user: User, answer: Answer) -> None:
    """A leader of the answering unit approves: the answer is published and the report answered."""
    _require(can_approve(user, answer), _("Chỉ lãnh đạo của đơn vị trả lời mới duyệt được trả lời này."))
    if answer.state != AnswerState.PENDING_APPROVAL:
        raise WorkflowError(_("Chỉ duyệt được trả lời đang chờ duyệt."), status=409)
    report = answer.report
    moment = now()
    answer.state = AnswerState.APPROVED
    answer.approved_by = user
    answer.answered_at = moment
    answer.published_at = moment
    if report.status == Status.PROCESSING:
        transition(report, Status.ANSWERED, user, _("%(unit)s đã trả lời.", unit=answer.unit.name))
    else:
        _note(report, user, _("%(unit)s bổ sung trả lời.", unit=answer.unit.name))
    audit("answer_approved", user=user, subject=report.code, detail=answer.unit.name)
    after_commit("webapp.workflow.services:sms_status", report.id, "answered")


def return_answer(user: User, answer: Answer, note: str) -> None:
    _require(can_approve(user, answer), _("Chỉ lãnh đạo của đơn vị trả lời mới duyệt được trả lời này."))
    if answer.state != AnswerState.PENDING_APPROVAL:
        raise WorkflowError(_("Chỉ trả lại được trả lời đang chờ duyệt."), status=409)
    note = nfc_multiline(note)
    if not note:
        raise WorkflowError(_("Vui lòng ghi rõ cần sửa gì."), "note")
    answer.state = AnswerState.RETURNED
    answer.return_note = note
    _note(answer.report, user, _("Lãnh đạo trả lại dự thảo trả lời của %(unit)s.", unit=answer.unit.name),
          internal=True)
    audit("answer_returned", user=user, subject=answer.report.code)


# What an answer template may name, filled from the report and the answering unit ({don_vi} …).
TEMPLATE_PLACEHOLDERS: dict[str, Any] = {
    "don_vi": _l("tên đơn vị trả lời"),
    "ma_phan_anh": _l("mã phản ánh"),
    "ngay_tiep_nhan": _l("ngày gửi phản ánh (dd/mm/yyyy)"),
    "tieu_de": _l("tiêu đề phản ánh"),
    "linh_vuc": _l("lĩnh vực"),
    "dia_ban": _l("xã, phường của phản ánh"),
    "dia_chi": _l("địa chỉ nơi phản ánh"),
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def check_template_text(text: str) -> None:
    """Refuse a template naming a placeholder we cannot fill (``WorkflowError`` on ``text``)."""
    unknown = [name for name in _PLACEHOLDER.findall(text) if name not in TEMPLATE_PLACEHOLDERS]
    if unknown:
        raise WorkflowError(_("Mẫu có chỗ điền không dùng được: %(bad)s. Chỉ dùng: %(ok)s.",
                              bad=", ".join("{" + n + "}" for n in dict.fromkeys(unknown)),
                              ok=", ".join("{" + n + "}" for n in TEMPLATE_PLACEHOLDERS)), "text")
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise WorkflowError(_("Dấu ngoặc nhọn { } chỉ dùng cho chỗ điền, ví dụ {don_vi}."), "text")


def fill_template(text: str, report: Report, unit: Unit | None) -> str:
    """The template's text with its placeholders filled from ``report`` and the answering ``unit``
    (an unknown name is left as typed: templates saved before the check)."""
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    values = {
        "don_vi": unit.name if unit is not None else "",
        "ma_phan_anh": report.code,
        "ngay_tiep_nhan": report.submitted_at.astimezone(tz).strftime("%d/%m/%Y"),
        "tieu_de": report.title,
        "linh_vuc": report.field.name,
        "dia_ban": report.place_name,
        "dia_chi": report.address or "",
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def templates_for(report: Report) -> list[AnswerTemplate]:
    return list(db.session.scalars(select(AnswerTemplate).where(AnswerTemplate.field_id == report.field_id)
                                   .order_by(AnswerTemplate.title)))


def add_template(user: User, field_slug: str, title: str, text: str) -> AnswerTemplate:
    _require(is_admin(user) or bool(unit_ids(user, RoleName.LEADER)),
             _("Chỉ lãnh đạo đơn vị hoặc quản trị viên thêm được mẫu trả lời."))
    field = db.session.scalar(select(Field).where(Field.slug == field_slug))
    if field is None:
        raise WorkflowError(_("Lĩnh vực không tồn tại."), "field")
    if not nfc(title):
        raise WorkflowError(_("Vui lòng nhập tên mẫu."), "title")
    if not nfc_multiline(text):
        raise WorkflowError(_("Vui lòng nhập nội dung mẫu."), "text")
    check_template_text(text)
    template = AnswerTemplate(field=field, title=nfc(title), text=nfc_multiline(text), created_at=now())
    db.session.add(template)
    db.session.flush()
    audit("answer_template_added", user=user, subject=field.slug, detail=template.title)
    return template


# -- sender details -----------------------------------------------------------------------------------
def reveal_sender(user: User, report: Report) -> None:
    """Staff are about to see the sender's details: a confidential sender's display is audited."""
    if report.confidential:
        begin_write()  # the staff report page is a GET
        audit("confidential_sender_viewed", user=user, subject=report.code)


# -- SMS ----------------------------------------------------------------------------------------------
SMS_TEXTS = {
    "accepted": "{name}: Phan anh {code} da duoc tiep nhan. Theo doi tai muc PAKN cua toi hoac Tra cuu ma.",
    "rejected": "{name}: Phan anh {code} khong duoc tiep nhan. Ly do xem tai muc PAKN cua toi hoac Tra cuu ma.",
    "answered": "{name}: Phan anh {code} da co tra loi. Xem tai muc PAKN cua toi hoac Tra cuu ma.",
}


def sms_status(report_id: int, kind: str) -> None:
    """Job: tell the sender that the report was accepted, rejected or answered (unaccented, one SMS)."""
    report = db.session.get(Report, report_id)
    if report is None or not report.sender_phone or kind not in SMS_TEXTS:
        return
    phone, code = report.sender_phone, report.code
    db.session.commit()  # no transaction open while the gateway answers
    try:
        send_sms(phone, SMS_TEXTS[kind].format(name=current_app.config["SMS_SENDER_NAME"], code=code))
    except SmsError:
        current_app.logger.warning("%s SMS for %s failed", kind, code)
