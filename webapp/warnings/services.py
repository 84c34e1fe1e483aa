"""Warnings (cảnh báo): created by an officer, approved or rejected by a leader of the same unit,
public only while approved and inside their validity window. Editing an approved warning sends it
back for approval. Functions flush; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from webapp.auth.models import RoleName, Unit, User
from webapp.auth.services import audit
from webapp.clock import now
from webapp.extensions import db
from webapp.reference.models import Ward
from webapp.warnings.models import PublicWarning, WarningLevel, WarningState


class WarningError(ValueError):
    """A refused warning action, with a Vietnamese message and the field it concerns."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.field, self.status = message, field, status


@dataclass
class WarningDraft:
    title: str
    content: str
    level: str
    ward_codes: list[int]
    whole_province: bool
    starts_at: datetime | None  # aware
    ends_at: datetime | None


def _member(user: User, unit_id: int, *roles: str) -> bool:
    return user.has_role(RoleName.ADMIN) or unit_id in user.units_with_role(*roles)


def can_edit(user: User, warning: PublicWarning) -> bool:
    return _member(user, warning.unit_id, RoleName.OFFICER, RoleName.LEADER)


def can_approve(user: User, warning: PublicWarning) -> bool:
    return _member(user, warning.unit_id, RoleName.LEADER)


def visible_to(user: User) -> list[int] | None:
    """Unit ids whose warnings ``user`` may see in the staff list (None = all, for admins)."""
    if user.has_role(RoleName.ADMIN):
        return None
    return sorted(user.units_with_role(RoleName.OFFICER, RoleName.LEADER))


def _check(draft: WarningDraft) -> None:
    if not draft.title.strip():
        raise WarningError(_("Vui lòng nhập tiêu đề cảnh báo."), "title")
    if not draft.content.strip():
        raise WarningError(_("Vui lòng nhập nội dung cảnh báo."), "content")
    if draft.level not in {lv.value for lv in WarningLevel}:
        raise WarningError(_("Mức cảnh báo không hợp lệ."), "level")
    if draft.starts_at is None:
        raise WarningError(_("Vui lòng nhập thời điểm bắt đầu."), "starts_at")
    if draft.ends_at is None:
        raise WarningError(_("Vui lòng nhập thời điểm kết thúc."), "ends_at")
    if draft.ends_at <= draft.starts_at:
        raise WarningError(_("Thời điểm kết thúc phải sau thời điểm bắt đầu."), "ends_at")
    if not draft.whole_province and not draft.ward_codes:
        raise WarningError(_("Chọn xã, phường áp dụng hoặc toàn tỉnh."), "regions")


def _apply(warning: PublicWarning, draft: WarningDraft) -> None:
    warning.title = draft.title.strip()
    warning.content = draft.content.strip()
    warning.level = draft.level
    warning.whole_province = draft.whole_province
    warning.starts_at = draft.starts_at
    warning.ends_at = draft.ends_at
    warning.regions = [] if draft.whole_province else list(
        db.session.scalars(select(Ward).where(Ward.code.in_(draft.ward_codes))))


def create(user: User, unit: Unit, draft: WarningDraft, submit: bool = True) -> PublicWarning:
    if not _member(user, unit.id, RoleName.OFFICER, RoleName.LEADER):
        raise WarningError(_("Bạn không thuộc đơn vị này."), status=403)
    _check(draft)
    warning = PublicWarning(unit=unit, created_by=user, created_at=now(), updated_at=now(),
                            state=WarningState.PENDING if submit else WarningState.DRAFT)
    _apply(warning, draft)
    db.session.add(warning)
    db.session.flush()
    audit("warning_created", user=user, subject=f"warning:{warning.id}", detail=warning.state)
    return warning


def edit(user: User, warning: PublicWarning, draft: WarningDraft) -> None:
    """Change a warning; an approved one goes back for approval (it stops being public)."""
    if not can_edit(user, warning):
        raise WarningError(_("Bạn không có quyền sửa cảnh báo này."), status=403)
    _check(draft)
    _apply(warning, draft)
    warning.updated_at = now()
    if warning.state in (WarningState.APPROVED, WarningState.REJECTED, WarningState.DRAFT):
        warning.state = WarningState.PENDING
        warning.approved_by = None
    audit("warning_edited", user=user, subject=f"warning:{warning.id}")


def approve(user: User, warning: PublicWarning) -> None:
    if not can_approve(user, warning):
        raise WarningError(_("Chỉ lãnh đạo đơn vị ban hành mới duyệt được cảnh báo này."), status=403)
    if warning.state != WarningState.PENDING:
        raise WarningError(_("Chỉ duyệt được cảnh báo đang chờ duyệt."))
    warning.state = WarningState.APPROVED
    warning.approved_by = user
    warning.reject_reason = None
    warning.updated_at = now()
    audit("warning_approved", user=user, subject=f"warning:{warning.id}")


def reject(user: User, warning: PublicWarning, reason: str) -> None:
    if not can_approve(user, warning):
        raise WarningError(_("Chỉ lãnh đạo đơn vị ban hành mới duyệt được cảnh báo này."), status=403)
    if warning.state != WarningState.PENDING:
        raise WarningError(_("Chỉ từ chối được cảnh báo đang chờ duyệt."))
    if not (reason or "").strip():
        raise WarningError(_("Vui lòng nêu lý do từ chối."), "reason")
    warning.state = WarningState.REJECTED
    warning.reject_reason = reason.strip()
    warning.updated_at = now()
    audit("warning_rejected", user=user, subject=f"warning:{warning.id}")


def active(at: datetime | None = None) -> list[PublicWarning]:
    """Approved warnings whose window contains ``at`` (now), newest first."""
    moment = at or now()
    return list(db.session.scalars(
        select(PublicWarning).where(PublicWarning.state == WarningState.APPROVED,
                                    PublicWarning.starts_at <= moment, PublicWarning.ends_at > moment)
        .order_by(PublicWarning.starts_at.desc(), PublicWarning.id.desc())))


def archive(limit: int = 50) -> list[PublicWarning]:
    """Approved warnings whose window is over, most recent first."""
    return list(db.session.scalars(
        select(PublicWarning).where(PublicWarning.state == WarningState.APPROVED, PublicWarning.ends_at <= now())
        .order_by(PublicWarning.ends_at.desc()).limit(limit)))


def as_json(w: PublicWarning) -> dict:
    return {"id": w.id, "title": w.title, "content": w.content, "level": w.level,
            "regions": ([] if w.whole_province else [{"code": r.code, "name": r.name} for r in w.regions]),
            "whole_province": w.whole_province or not w.regions,
            "starts_at": w.starts_at.isoformat(), "ends_at": w.ends_at.isoformat(), "unit": w.unit.name}
