"""Home page and language switch."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.main.helpers import safe_next
from webapp.reports.models import Report, ReportType, Status
from webapp.reports.public import public_view

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    published = Report.published.is_(True)
    counts = dict(db.session.execute(
        select(Report.type, func.count()).where(published).group_by(Report.type)).all())
    answered = db.session.scalar(select(func.count()).where(
        published, Report.status.in_([Status.ANSWERED, Status.CLOSED])))
    # The cards show the public view (masked title), as every public surface does.
    latest = [public_view(r) for r in db.session.scalars(
        select(Report).where(published).order_by(Report.submitted_at.desc(), Report.id.desc()).limit(8))]
    return render_template(
        "main/home.html", latest=latest, answered=answered or 0,
        pakn_count=counts.get(ReportType.PAKN, 0), idea_count=counts.get(ReportType.IDEA, 0))


@bp.get("/ngon-ngu/<code>")
def set_language(code: str):
    if code in ("vi", "en"):
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))
