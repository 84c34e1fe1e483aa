"""Accounts: users, roles, units (agencies) and unit membership."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
