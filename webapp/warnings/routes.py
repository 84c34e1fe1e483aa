"""Public warnings page: approved warnings whose validity window contains now."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from webapp.db import utcnow
from webapp.extensions import db
from webapp.warnings.models import WARNING_LEVEL_LABELS, PublicWarning, WarningLevel, WarningState

bp = Blueprint("warnings", __name__)


def active_warnings() -> list[PublicWarning]:
    """Approved warnings in force at this moment, newest first."""
    now = utcnow()
    return list(db.session.scalars(
        select(PublicWarning)
        .where(PublicWarning.state == WarningState.APPROVED, PublicWarning.starts_at <= now,
               PublicWarning.ends_at > now)
        .order_by(PublicWarning.starts_at.desc())))


@bp.get("/canh-bao")
def index():
    return render_template("warnings/index.html", warnings=active_warnings(),
                           level_labels={k.value: v for k, v in WARNING_LEVEL_LABELS.items()},
                           levels=WarningLevel)
