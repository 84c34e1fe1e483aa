"""Accounts: users, roles, units (agencies) and unit membership."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import BigInteger, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from indexer.text import mask_phone
from webapp.db import UTCDateTime, utcnow
from webapp.extensions import db


class UserKind(enum.StrEnum):
    CITIZEN = "citizen"
    STAFF = "staff"


class UserStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    LOCKED = "locked"


class RoleName(enum.StrEnum):
    CITIZEN = "citizen"
    OFFICER = "officer"
    LEADER = "leader"
    ADMIN = "admin"


user_roles = Table(
    "user_roles",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Role(db.Model):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)


class Unit(db.Model):
    """An agency (cơ quan/đơn vị); units form a tree. The intake unit receives new reports."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    is_intake: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    address: Mapped[str | None] = mapped_column(String(500))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default=UserKind.CITIZEN)
    status: Mapped[str] = mapped_column(String(16), default=UserStatus.PENDING)
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The 30-second step of the last TOTP code accepted: a code is accepted once (no replay).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    roles: Mapped[list[Role]] = relationship(secondary=user_roles)
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:  # Flask-Login: locked or unactivated accounts cannot log in
        return self.status == UserStatus.ACTIVE

    def has_role(self, name: str) -> bool:
        return any(r.name == name for r in self.roles) or any(
            m.role.name == name for m in self.memberships)

    @property
    def display_name(self) -> str:
        """What the header calls the user: the name, else the masked phone, the e-mail or the
        username; never empty and never "None" (an SSO account may come without a name)."""
        if self.full_name and self.full_name.strip() and self.full_name.strip() != "None":
            return self.full_name.strip()
        if self.phone:
            return mask_phone(self.phone)
        return self.email or self.username or str(_l("Tài khoản của tôi"))

    @property
    def is_staff(self) -> bool:
        return self.kind == UserKind.STAFF

    @property
    def needs_second_factor(self) -> bool:
        """Every staff account logs in with a TOTP code as well as its password: every staff role can
        open a report's staff page, which shows a confidential sender (ASVS 5.0 V6.3.3)."""
        return self.is_staff

    def units_with_role(self, *names: str) -> set[int]:
        return {m.unit_id for m in self.memberships if m.role.name in names}


class Membership(db.Model):
    """A user's role (officer, leader) in one unit."""

    __tablename__ = "unit_memberships"
    __table_args__ = (UniqueConstraint("user_id", "unit_id", "role_id", name="uq_membership"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"))

    user: Mapped[User] = relationship(back_populates="memberships")
    unit: Mapped[Unit] = relationship()
    role: Mapped[Role] = relationship()


class OtpChallenge(db.Model):
    """One request for an SMS code. The code is stored only as an HMAC; the row's id is the
    login attempt the code is bound to (kept in that browser's session)."""

    __tablename__ = "otp_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    purpose: Mapped[str] = mapped_column(String(16), default="login")  # login | register | register_known | verify_phone (16 at most)
    code_hash: Mapped[str] = mapped_column(String(128))
    client_ip: Mapped[str] = mapped_column(String(64), default="", index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    superseded: Mapped[bool] = mapped_column(default=False)
    sms_status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | sent | failed
    sms_error: Mapped[str | None] = mapped_column(String(300))


class PhoneGuard(db.Model):
    """Consecutive wrong codes for a number; locked after too many, until an officer unlocks it."""

    __tablename__ = "phone_guards"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccountGuard(db.Model):
    """Consecutive failed password/TOTP steps of one account (or of one unknown login name), kept in
    the database so that the count survives IP changes and restarts (webapp.auth.throttle)."""

    __tablename__ = "account_guards"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # "user:<id>" or "name:<sha256>"
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(db.Model):
    """A server-side login session; the cookie only carries its random id, so it can be revoked."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class OidcIdentity(db.Model):
    """A user's account at an OpenID Connect provider (provider + subject)."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("provider", "sub", name="uq_oidc_provider_sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    sub: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class AuditEvent(db.Model):
    """An authentication or security event: who, what, when, from where."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(48), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(120), default="")  # e.g. a masked phone
    ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
