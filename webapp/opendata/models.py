"""Open-data records: partner API keys and citizens' saved searches with their alerts."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import User
from webapp.db import UTCDateTime, utcnow
from webapp.extensions import db


class ApiKey(db.Model):
    """A partner's key: only its SHA-256 is stored; ``prefix`` (shown in lists) finds the row."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    rate_limit: Mapped[str] = mapped_column(String(64))       # Flask-Limiter syntax, e.g. "1000/hour"
    can_write: Mapped[bool] = mapped_column(default=False)    # may create reports (Open311 POST)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertFrequency(enum.StrEnum):
    NONE = "none"
    DAILY = "daily"
    IMMEDIATE = "immediate"


ALERT_FREQUENCY_LABELS = {AlertFrequency.NONE: _l("Không gửi thư"),
                          AlertFrequency.DAILY: _l("Mỗi ngày một thư"),
                          AlertFrequency.IMMEDIATE: _l("Ngay khi có phản ánh mới")}


class SavedSearch(db.Model):
    """A search a user keeps (its query string), and whether new matches are mailed to them.

    Only reports published after the search was saved are ever mailed, each once
    (``saved_search_hits``); ``checked_at`` is when alerts last looked for new matches.
    """

    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    query_string: Mapped[str] = mapped_column(Text, default="")
    frequency: Mapped[str] = mapped_column(String(16), default=AlertFrequency.NONE, index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    # Alerts go only to an address its owner confirmed by the link mailed to it (else anyone could
    # have the portal mail any address).
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class SavedSearchHit(db.Model):
    """A report already mailed for a saved search: an alert never repeats a report."""

    __tablename__ = "saved_search_hits"

    saved_search_id: Mapped[int] = mapped_column(ForeignKey("saved_searches.id", ondelete="CASCADE"),
                                                 primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
