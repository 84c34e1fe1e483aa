"""Reports (PAKN) and ideas (hiến kế), their timeline, answers and attachments."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import Unit, User
from webapp.db import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.reference.models import Field, Province, Ward, legacy_ward_codes


class ReportType(enum.StrEnum):
    PAKN = "pakn"
    IDEA = "idea"


REPORT_TYPE_LABELS = {ReportType.PAKN: _l("Phản ánh kiến nghị"), ReportType.IDEA: _l("Hiến kế")}


class SenderKind(enum.StrEnum):
    INDIVIDUAL = "individual"
    ORGANIZATION = "organization"


SENDER_KIND_LABELS = {SenderKind.INDIVIDUAL: _l("Cá nhân"), SenderKind.ORGANIZATION: _l("Tổ chức")}


class Status(enum.StrEnum):
    PENDING = "pending"          # chờ tiếp nhận
    ACCEPTED = "accepted"        # đã tiếp nhận
    REJECTED = "rejected"        # không tiếp nhận
    DUPLICATE = "duplicate"      # trùng
    PROCESSING = "processing"    # đang xử lý
    ANSWERED = "answered"        # đã trả lời
    CLOSED = "closed"            # đã đóng


def N_(text: str) -> str:  # noqa: N802 - the conventional name of a gettext no-op marker
    """Mark a string for extraction without translating it here."""
    return text


# Vietnamese names (the source text of the translations); also accepted by the importer.
STATUS_NAMES_VI = {
    Status.PENDING: N_("Chờ tiếp nhận"),
    Status.ACCEPTED: N_("Đã tiếp nhận"),
    Status.REJECTED: N_("Không tiếp nhận"),
    Status.DUPLICATE: N_("Trùng"),
    Status.PROCESSING: N_("Đang xử lý"),
    Status.ANSWERED: N_("Đã trả lời"),
    Status.CLOSED: N_("Đã đóng"),
}
STATUS_LABELS = {status: _l(name) for status, name in STATUS_NAMES_VI.items()}


class AnswerState(enum.StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    RETURNED = "returned"


ANSWER_STATE_LABELS = {
    AnswerState.DRAFT: _l("Bản nháp"),
    AnswerState.PENDING_APPROVAL: _l("Chờ lãnh đạo duyệt"),
    AnswerState.APPROVED: _l("Đã duyệt và công bố"),
    AnswerState.RETURNED: _l("Bị trả lại"),
}


class Report(db.Model):
    """A citizen's report or idea. ``revision`` goes up on every change (see search.outbox)."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_published_submitted", "published", "submitted_at"),
        # A double click or a retried request with the same key creates one report.
        UniqueConstraint("user_id", "idempotency_key", name="uq_reports_user_idempotency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column(String(8), default=ReportType.PAKN)
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"), index=True)
    province_code: Mapped[int] = mapped_column(ForeignKey("provinces.code"), index=True)
    ward_code: Mapped[int | None] = mapped_column(ForeignKey("wards.code"), index=True)
    legacy_place: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    incident_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sender_kind: Mapped[str] = mapped_column(String(16), default=SenderKind.INDIVIDUAL)
    organization_name: Mapped[str | None] = mapped_column(String(300))
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    sender_phone: Mapped[str | None] = mapped_column(String(16), index=True)
    sender_email: Mapped[str | None] = mapped_column(String(254))
    sender_address: Mapped[str | None] = mapped_column(String(500))
    confidential: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)

    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING, index=True)
    published: Mapped[bool] = mapped_column(default=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # Workflow: the report this one repeats (status "duplicate"), and the answer deadline.
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    field: Mapped[Field] = relationship()
    province: Mapped[Province] = relationship()
    ward: Mapped[Ward | None] = relationship()
    user: Mapped[User | None] = relationship()
    events: Mapped[list[StatusEvent]] = relationship(
        back_populates="report", order_by="StatusEvent.created_at, StatusEvent.id",
        cascade="all, delete-orphan")
    answers: Mapped[list[Answer]] = relationship(
        back_populates="report", order_by="Answer.id", cascade="all, delete-orphan")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="Attachment.id")
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="Assignment.id")
    duplicate_of: Mapped[Report | None] = relationship(remote_side=[id], back_populates="duplicates")
    duplicates: Mapped[list[Report]] = relationship(back_populates="duplicate_of", order_by="Report.id")

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[Status(self.status)])

    @property
    def type_label(self) -> str:
        return str(REPORT_TYPE_LABELS[ReportType(self.type)])

    @property
    def own_attachments(self) -> list[Attachment]:
        """Files the sender attached (not those of an answer)."""
        return [a for a in self.attachments if a.answer_id is None]

    @property
    def public_events(self) -> list[StatusEvent]:
        return [e for e in self.events if not e.internal]

    @property
    def published_answer(self) -> Answer | None:
        published = [a for a in self.answers if a.published_at is not None]
        return published[-1] if published else None

    @property
    def place_name(self) -> str:
        if self.ward is not None:
            return self.ward.full_name
        if self.legacy_place:
            return f"{self.legacy_place}, {self.province.name}"
        return self.province.name

    @property
    def legacy_ward_codes(self) -> tuple[int, ...]:
        """The current wards a report without one is in, by its legacy place name (the crosswalk)."""
        if self.ward_code is not None:
            return ()
        return legacy_ward_codes(self.province_code, self.legacy_place)


class StatusEvent(db.Model):
    """One step of a report's timeline."""

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    # Staff-only steps (an answer sent for approval or returned) are not shown to the public or sender.
    internal: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[Report] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()

    @property
    def to_label(self) -> str:
        return str(STATUS_LABELS[Status(self.to_status)])


class Answer(db.Model):
    """An agency's answer to a report; public once approved by a leader and published."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default=AnswerState.DRAFT)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    return_note: Mapped[str | None] = mapped_column(Text)  # why a leader sent the draft back
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[Report] = relationship(back_populates="answers")
    unit: Mapped[Unit] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    attachments: Mapped[list[Attachment]] = relationship(back_populates="answer", order_by="Attachment.id")

    @property
    def state_label(self) -> str:
        return str(ANSWER_STATE_LABELS[AnswerState(self.state)])


class Assignment(db.Model):
    """A unit asked to handle a report, with the deadline it was given."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("report_id", "unit_id", name="uq_assignments_report_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[Report] = relationship(back_populates="assignments")
    unit: Mapped[Unit] = relationship()
    assigned_by: Mapped[User | None] = relationship()


class AnswerTemplate(db.Model):
    """A reusable answer text for one field (lĩnh vực), offered when drafting an answer."""

    __tablename__ = "answer_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    field: Mapped[Field] = relationship()


class Attachment(db.Model):
    """A file attached to a report (``answer_id`` empty) or to an answer; stored outside the web root."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[Report] = relationship(back_populates="attachments")
    answer: Mapped[Answer | None] = relationship(back_populates="attachments")




class Upload(db.Model):
    """A file a user uploaded while filling a form, kept until the report that uses it is saved.

    Files survive a form that comes back with errors; ``token`` is what the form carries.
    """

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
