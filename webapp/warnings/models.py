"""Public warnings (cảnh báo): approved by a unit leader, shown only inside their time window."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import Unit, User
from webapp.db import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.reference.models import Ward


class WarningState(enum.StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class WarningLevel(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    DANGER = "danger"


WARNING_LEVEL_LABELS = {WarningLevel.INFO: _l("Thông tin"), WarningLevel.WARNING: _l("Cảnh báo"),
                        WarningLevel.DANGER: _l("Khẩn cấp")}

warning_regions = Table(
    "warning_regions",
    db.metadata,
    Column("warning_id", ForeignKey("warnings.id", ondelete="CASCADE"), primary_key=True),
    Column("ward_code", ForeignKey("wards.code"), primary_key=True),
)


class PublicWarning(db.Model):
    """A warning; no target wards and ``whole_province`` set means the whole province."""

    __tablename__ = "warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16), default=WarningLevel.WARNING)
    whole_province: Mapped[bool] = mapped_column(default=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=WarningState.DRAFT, index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit] = relationship()
    regions: Mapped[list[Ward]] = relationship(secondary=warning_regions)
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

    @property
    def level_label(self) -> str:
        """The level in words ("Khẩn cấp" …): levels differ by text and mark, not by colour alone."""
        return str(WARNING_LEVEL_LABELS.get(WarningLevel(self.level), self.level))
